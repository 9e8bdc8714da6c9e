"""Constants and checks the sandbox tests share (their fixtures are in ``conftest.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Container
from pathlib import Path

from services.tool.sandbox import NOBODY, SandboxLimits, SandboxResult
from services.tool.uids import POOL

THIS_FILE = Path(__file__).resolve()  # a file of the project, which the sandbox must not see
REPO_ROOT = THIS_FILE.parents[3]
BASE_PREFIX_PARTS = Path(sys.base_prefix).resolve().parts  # e.g. ('/', 'root', '.pyenv', ...)
QUICK = SandboxLimits(cpu_s=2, wall_s=5)


def capability_problem() -> str | None:
    """Why this machine cannot host the sandbox at all, proven independently of our code."""
    if os.geteuid() != 0:
        return "not root: the sandbox needs root for namespaces and chroot (refusal is tested separately)"
    unshare = shutil.which("unshare")
    if unshare is None:
        return "util-linux unshare is not installed (refusal is tested separately)"
    probe = subprocess.run(
        [unshare, "--fork", "--pid", "--mount", "--net", "--ipc", "--uts", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"unshare cannot create namespaces here: {probe.stderr.strip()}"
    return None


def uid_processes(uids: Container[int] = (NOBODY, *POOL)) -> set[int]:
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) in uids:
                            pids.add(int(entry))
                        break
        except OSError:
            continue
    return pids


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def ours(pid: int) -> bool:
    """Whether a sandbox-uid process is this test's: a descendant of this process, or an orphan
    (reparented to init: what a leak looks like). A sandbox another test runs at the same time (the
    CLI's end-to-end chat on another xdist worker leases uids from the same pool) descends from that
    test's process and is not ours."""
    me, seen = os.getpid(), 0
    parent = parent_of(pid)
    if parent in (0, 1):
        return True
    while parent not in (None, 0, 1) and seen < 64:
        if parent == me:
            return True
        parent, seen = parent_of(parent), seen + 1
    return False


def output_lines(result: SandboxResult) -> list[str]:
    return result.stdout.splitlines()

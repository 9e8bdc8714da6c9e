"""The sandbox runs ordinary code, and refuses (running nothing) where it cannot isolate it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.tool import sandbox
from services.tool.sandbox import SandboxLimits, run_python
from services.tool.uids import POOL
from tests.integration.sandbox.support import QUICK, output_lines

pytestmark = pytest.mark.integration


# --- ordinary code ------------------------------------------------------------------------------------


async def test_prints_and_arithmetic(no_leftovers: None) -> None:
    """Printing and arithmetic work and the result reports a clean exit."""
    result = await run_python("print(sum(range(10)), 2 ** 100 % 7)\nprint('naïve ✓')", QUICK)
    assert result.error is None
    assert result.stdout == f"45 {2**100 % 7}\nnaïve ✓\n"
    assert result.stderr == ""
    assert (result.exit_code, result.timed_out, result.killed_reason, result.truncated) == (
        0,
        False,
        None,
        False,
    )
    assert result.ok
    assert 0 < result.duration_s < 5


async def test_errors_and_exit_codes_are_reported(no_leftovers: None) -> None:
    """An exception gives exit code 1 with its traceback, and sys.exit codes pass through."""
    failing = await run_python("raise ValueError('boom')", QUICK)
    assert failing.exit_code == 1
    assert "ValueError: boom" in failing.stderr
    assert not failing.ok
    exiting = await run_python("import sys\nsys.exit(3)", QUICK)
    assert exiting.exit_code == 3
    assert exiting.killed_reason is None


async def test_runs_unprivileged_in_a_private_scratch(no_leftovers: None) -> None:
    """The code runs as the sandbox user in a 0700 scratch it owns, with a read-only root."""
    code = """
import os, stat, sys
st = os.stat('.')
print(os.getuid(), os.getgid(), os.getgroups(), os.getcwd(), oct(stat.S_IMODE(st.st_mode)), st.st_uid)
open('note.txt', 'w').write('kept in scratch')
print(open('/tmp/note.txt').read())
print(os.access('/', os.W_OK), os.access('/usr', os.W_OK))
print(sys.flags.isolated, sys.flags.no_site, sys.flags.dont_write_bytecode)
print(sorted(os.environ))  # empty but for the LC_CTYPE Python's own locale coercion sets
"""
    result = await run_python(code, QUICK)
    assert result.exit_code == 0, result.stderr
    uid = int(output_lines(result)[0].split()[0])
    assert uid in POOL  # leased for this run
    assert output_lines(result) == [
        f"{uid} {uid} [] /scratch 0o700 {uid}",
        "kept in scratch",
        "False False",
        "1 1 1",
        "['LC_CTYPE']",
    ]


# --- refusals -------------------------------------------------------------------------------------------


async def test_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root the sandbox cannot isolate, so it refuses instead of running the code."""
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    result = await run_python("print('ran')")
    assert result.error is not None
    assert "root" in result.error
    assert (result.exit_code, result.stdout) == (None, "")


async def test_refuses_when_unshare_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without util-linux unshare the sandbox refuses instead of running unisolated."""
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sandbox, "_TOOL_PATH", str(tmp_path))
    result = await run_python("print('ran')")
    assert result.error is not None
    assert "unshare" in result.error
    assert result.exit_code is None


async def test_refuses_when_namespaces_are_not_created(capable: None, tmp_path: Path) -> None:
    """An 'unshare' that does not isolate is detected by the init, and the code never runs."""
    fake = tmp_path / "unshare"
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n')
    fake.chmod(0o755)
    marker = tmp_path / "ran"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sandbox, "_TOOL_PATH", str(tmp_path))
        result = await run_python(f"open({str(marker)!r}, 'w').write('ran')", QUICK)
    assert result.error is not None
    assert "could not be established" in result.error
    assert "PID 1" in result.error
    assert result.exit_code is None
    assert not marker.exists()


async def test_refuses_unsupported_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a seccomp filter for the machine's architecture the sandbox refuses."""
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sandbox.platform, "machine", lambda: "sparc64")
    result = await run_python("print('ran')")
    assert result.error is not None
    assert "seccomp" in result.error


async def test_refuses_oversized_code() -> None:
    """Code over the size limit is refused before anything starts."""
    result = await run_python("#" * 2000, SandboxLimits(max_code_bytes=1000))
    assert result.error is not None
    assert "limit" in result.error


def test_limits_refuse_root_and_nonsense() -> None:
    """SandboxLimits rejects uid 0 and non-positive limits."""
    with pytest.raises(ValueError, match="unprivileged"):
        SandboxLimits(uid=0)
    with pytest.raises(ValueError, match="cpu_s"):
        SandboxLimits(cpu_s=0)
    with pytest.raises(ValueError, match="wall_s"):
        SandboxLimits(wall_s=0)

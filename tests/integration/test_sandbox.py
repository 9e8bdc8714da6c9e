"""The Python sandbox: ordinary code runs, and every escape attempt is contained and reported.

These tests need what the sandbox needs: root and working namespaces. Where the machine provably lacks
them (not root, or util-linux ``unshare`` itself cannot create the namespaces) they skip with the
reason; anything else the sandbox fails to enforce is a failure. The refusal tests run everywhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Container, Iterator
from pathlib import Path

import pytest

from services.common.settings import default_home
from services.tool import sandbox
from services.tool.sandbox import NOBODY, SandboxLimits, SandboxResult, run_python
from services.tool.uids import POOL

pytestmark = pytest.mark.integration

THIS_FILE = Path(__file__).resolve()
REPO_ROOT = THIS_FILE.parents[2]
BASE_PREFIX_PARTS = Path(sys.base_prefix).resolve().parts  # e.g. ('/', 'root', '.pyenv', ...)
QUICK = SandboxLimits(cpu_s=2, wall_s=5)


def _capability_problem() -> str | None:
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


@pytest.fixture(scope="module")
def capable() -> None:
    """Skip (with the proof) only where the machine itself cannot create the namespaces."""
    problem = _capability_problem()
    if problem is not None:
        pytest.skip(problem)


def _uid_processes(uids: Container[int] = (NOBODY, *POOL)) -> set[int]:
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


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _ours(pid: int) -> bool:
    """Whether a sandbox-uid process is this test's: a descendant of this process, or an orphan
    (reparented to init: what a leak looks like). A sandbox another test runs at the same time (the
    CLI's end-to-end chat on another xdist worker leases uids from the same pool) descends from that
    test's process and is not ours."""
    me, seen = os.getpid(), 0
    parent = _parent(pid)
    if parent in (0, 1):
        return True
    while parent not in (None, 0, 1) and seen < 64:
        if parent == me:
            return True
        parent, seen = _parent(parent), seen + 1
    return False


@pytest.fixture
def no_leftovers(capable: None) -> Iterator[None]:
    """After the test no process of the sandbox uid is left that was not there before."""
    before = _uid_processes()
    yield
    deadline = time.monotonic() + 5
    while (left := {p for p in _uid_processes() - before if _ours(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"sandbox processes outlived the run: {sorted(left)}"


def _lines(result: SandboxResult) -> list[str]:
    return result.stdout.splitlines()


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
    uid = int(_lines(result)[0].split()[0])
    assert uid in POOL  # leased for this run
    assert _lines(result) == [
        f"{uid} {uid} [] /scratch 0o700 {uid}",
        "kept in scratch",
        "False False",
        "1 1 1",
        "['LC_CTYPE']",
    ]


# --- escapes: network -----------------------------------------------------------------------------------


async def test_network_is_unreachable(no_leftovers: None) -> None:
    """A TCP server listening on the host's 127.0.0.1 cannot be reached from the sandbox."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # the server is reachable here
            server.accept()[0].close()
        code = f"""
import socket
for host in ('127.0.0.1', 'localhost', '10.0.2.2', '1.1.1.1'):
    try:
        socket.create_connection((host, {port}), timeout=2)
        print('CONNECTED', host)
    except OSError as exc:
        print('blocked', host, type(exc).__name__)
"""
        result = await run_python(code, QUICK)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()
    assert result.exit_code == 0, result.stderr
    assert "CONNECTED" not in result.stdout
    assert [line.split()[:2] for line in _lines(result)] == [
        ["blocked", "127.0.0.1"],
        ["blocked", "localhost"],
        ["blocked", "10.0.2.2"],
        ["blocked", "1.1.1.1"],
    ]


async def test_non_namespaced_socket_families_are_refused(no_leftovers: None) -> None:
    """AF_VSOCK (a VM's way to the hypervisor), AF_NETLINK and AF_PACKET sockets cannot be created."""
    code = """
import socket
for name, kind in (('AF_VSOCK', socket.SOCK_STREAM), ('AF_NETLINK', socket.SOCK_RAW),
                   ('AF_PACKET', socket.SOCK_RAW)):
    try:
        socket.socket(getattr(socket, name), kind)
        print(name, 'CREATED')
    except OSError as exc:
        print(name, type(exc).__name__)
a, b = socket.socketpair()
a.sendall(b'unix sockets still work')
print(b.recv(100).decode())
"""
    result = await run_python(code, QUICK)
    assert result.exit_code == 0, result.stderr
    assert _lines(result) == [
        "AF_VSOCK PermissionError",
        "AF_NETLINK PermissionError",
        "AF_PACKET PermissionError",
        "unix sockets still work",
    ]


# --- escapes: files -------------------------------------------------------------------------------------


@pytest.fixture
def world_readable_secret() -> Iterator[Path]:
    """A secret outside scratch that any local user could read: only the mount namespace hides it."""
    directory = Path(tempfile.mkdtemp(prefix="sandbox-secret-", dir="/tmp"))
    directory.chmod(0o755)
    secret = directory / "secret.txt"
    secret.write_text("world-readable-s3cret")
    secret.chmod(0o644)
    yield secret
    shutil.rmtree(directory)


async def test_host_files_are_invisible(
    no_leftovers: None, tmp_path: Path, world_readable_secret: Path
) -> None:
    """/etc/shadow, the project, the data directory and secrets outside scratch cannot be read."""
    private_secret = tmp_path / "private.txt"
    private_secret.write_text("private-s3cret")
    private_secret.chmod(0o600)
    targets = [
        "/etc/shadow",
        "/etc/passwd",
        str(REPO_ROOT / "pyproject.toml"),
        str(THIS_FILE),
        str(default_home()),
        str(private_secret),
        str(world_readable_secret),
        "/proc/1/environ",
        "/proc/self/mounts",
        "/sys/kernel/notes",
        "/home",
        "/work",
    ]
    code = f"""
import os
for path in {targets!r}:
    try:
        with open(path, 'rb') as fh:
            print('READ', path, fh.read(200))
    except OSError as exc:
        print('denied', path, type(exc).__name__)
print(sorted(os.listdir('/')))
print(sorted(os.listdir('/root')) if os.path.isdir('/root') else [])
"""
    result = await run_python(code, QUICK)
    assert result.exit_code == 0, result.stderr
    lines = _lines(result)
    assert "s3cret" not in result.stdout + result.stderr
    assert not [line for line in lines if line.startswith("READ")]
    assert len([line for line in lines if line.startswith("denied")]) == len(targets)
    visible = eval(lines[-2])  # the sandbox's own root listing
    assert set(visible) <= {
        "usr",
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "dev",
        "scratch",
        "tmp",
    } | {
        "sandbox",
        *BASE_PREFIX_PARTS[1:2],
    }
    # /root exists inside only when the interpreter lives there (pyenv), and then holds just that path
    assert set(eval(lines[-1])) <= set(BASE_PREFIX_PARTS[2:3])


async def test_privileges_cannot_be_regained(no_leftovers: None) -> None:
    """setuid(0), chroot, mount and new user or network namespaces all fail inside the sandbox."""
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
attempts = {
    'setuid': lambda: os.setuid(0),
    'chroot': lambda: os.chroot('/scratch'),
    'mount': lambda: libc.mount(b'none', b'/scratch', b'tmpfs', 0, None) == 0 or 1 / 0,
    'userns': lambda: libc.unshare(0x10000000) == 0 or 1 / 0,
    'netns': lambda: libc.unshare(0x40000000) == 0 or 1 / 0,
    'io_uring': lambda: libc.syscall(425, 8, ctypes.create_string_buffer(120)) >= 0 or 1 / 0,
    'write_usr': lambda: open('/usr/evil', 'w'),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, 'SUCCEEDED')
    except (OSError, ZeroDivisionError):
        print(name, 'failed')
"""
    result = await run_python(code, QUICK)
    assert result.exit_code == 0, result.stderr
    assert "SUCCEEDED" not in result.stdout
    assert len(_lines(result)) == 7


# --- escapes: resources --------------------------------------------------------------------------------


async def test_fork_bomb_is_contained(no_leftovers: None) -> None:
    """A fork bomb hits the process limit, is killed at the wall-time limit and leaves the host fine."""
    code = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    result = await run_python(code, SandboxLimits(cpu_s=5, wall_s=2))
    assert result.timed_out
    assert result.killed_reason in {"wall_time", "cpu_time"}
    assert result.duration_s < 6
    host_child = await asyncio.create_subprocess_exec("true")  # the host can still fork
    assert await host_child.wait() == 0
    after = await run_python("print('still fine')", QUICK)
    assert after.stdout == "still fine\n"


async def test_process_count_is_limited(no_leftovers: None) -> None:
    """RLIMIT_NPROC applies because the code does not run as root: only a few forks succeed."""
    code = """
import os, time
made = 0
for _ in range(50):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
    except OSError:
        break
print(made)
"""
    limits = SandboxLimits(cpu_s=2, wall_s=5, max_processes=6)
    result = await run_python(code, limits)
    assert result.exit_code == 0, result.stderr
    assert 0 < int(result.stdout) < limits.max_processes
    assert result.duration_s < 4  # the sleeping children were killed when the main process ended


HOLD_ALL_PROCESSES = """
import os, time
for _ in range(50):
    try:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
    except OSError:
        break
print('holding', flush=True)
time.sleep(30)
"""
FORK_THREE = """
import os
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print('forked 3')
"""


async def test_one_runs_fork_storm_does_not_refuse_another_runs_forks(no_leftovers: None) -> None:
    """Each run has its own uid: a run holding its whole process budget leaves another's intact;
    two runs pinned to one uid share the budget, and the second one's forks fail."""
    storm_limits = SandboxLimits(cpu_s=5, wall_s=6, max_processes=6)
    storm = asyncio.create_task(run_python(HOLD_ALL_PROCESSES, storm_limits))
    await asyncio.sleep(2.0)  # the storm holds all its processes now
    other = await run_python(FORK_THREE, SandboxLimits(cpu_s=2, wall_s=5, max_processes=6))
    assert other.stdout == "forked 3\n", other.stderr
    await storm

    pinned = SandboxLimits(cpu_s=5, wall_s=6, max_processes=6, uid=NOBODY, gid=NOBODY)
    storm = asyncio.create_task(run_python(HOLD_ALL_PROCESSES, pinned))
    await asyncio.sleep(2.0)
    shared = await run_python(FORK_THREE, dataclasses.replace(pinned, cpu_s=2, wall_s=5))
    await storm
    assert shared.stdout != "forked 3\n"
    assert "Error" in shared.stderr  # BlockingIOError / OSError: resource temporarily unavailable


async def test_background_processes_die_with_the_run(no_leftovers: None) -> None:
    """A child that detaches into its own session is killed when the sandboxed program ends."""
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(120)
print('parent done')
"""
    result = await run_python(code, QUICK)
    assert result.stdout == "parent done\n"
    assert result.duration_s < 4


async def test_memory_bomb_is_contained(no_leftovers: None) -> None:
    """Allocating without bound ends in MemoryError at the address-space limit."""
    for code in ("blocks = []\nwhile True:\n    blocks.append(bytearray(10 ** 7))", "x = bytearray(1 << 30)"):
        result = await run_python(code, QUICK)
        assert result.exit_code == 1
        assert "MemoryError" in result.stderr
        assert result.duration_s < 4


async def test_infinite_loop_hits_the_cpu_limit(no_leftovers: None) -> None:
    """A busy loop is killed by RLIMIT_CPU and reported as a CPU timeout."""
    result = await run_python("while True:\n    pass", SandboxLimits(cpu_s=1, wall_s=8))
    assert result.killed_reason == "cpu_time"
    assert result.timed_out
    assert result.exit_code is not None
    assert result.exit_code < 0
    assert result.duration_s < 5


async def test_sleeping_forever_hits_the_wall_limit(no_leftovers: None) -> None:
    """Code that waits without using CPU is killed at the wall-time limit."""
    result = await run_python(
        "import time\nprint('started', flush=True)\ntime.sleep(600)", SandboxLimits(wall_s=1)
    )
    assert result.killed_reason == "wall_time"
    assert result.timed_out
    assert result.exit_code is None
    assert result.stdout == "started\n"
    assert 0.9 < result.duration_s < 4


async def test_huge_output_is_truncated(no_leftovers: None) -> None:
    """Unbounded output is cut at the budget with a marker and the run is stopped."""
    limits = SandboxLimits(cpu_s=5, wall_s=8, output_bytes=10_000)
    result = await run_python(
        "import sys\nwhile True:\n    print('x' * 1000)\n    print('e' * 10, file=sys.stderr)", limits
    )
    assert result.truncated
    assert result.killed_reason == "output_limit"
    assert "output truncated" in result.stdout + result.stderr
    kept = len(result.stdout.encode()) + len(result.stderr.encode())
    assert kept < limits.output_bytes + 200
    assert result.duration_s < 4


async def test_large_file_is_refused(no_leftovers: None) -> None:
    """Writing a 1 GB file fails at the file-size limit."""
    code = """
written = 0
with open('big.bin', 'wb') as fh:
    try:
        for _ in range(1024):
            fh.write(b'\\0' * (1 << 20))
            fh.flush()
            written += 1 << 20
    except OSError as exc:
        print('refused', exc.errno, written)
"""
    limits = SandboxLimits(cpu_s=5, wall_s=8, max_file_mb=4, scratch_mb=16)
    result = await run_python(code, limits)
    assert result.exit_code == 0, result.stderr
    word, errno_text, written = result.stdout.split()
    assert word == "refused"
    assert int(errno_text) == 27  # EFBIG: File too large
    assert int(written) <= 4 << 20


async def test_killing_the_parent_is_harmless(no_leftovers: None) -> None:
    """Signalling the parent, PID 1 or every process fails or hits only the sandbox itself."""
    code = """
import os
for target in (os.getppid(), 1):
    try:
        os.kill(target, 9)
        print('sent', target)
    except OSError as exc:
        print('refused', target, type(exc).__name__)
try:
    os.kill(-1, 9)  # every process the sandbox may signal: none outside it, never itself
except OSError:
    pass
print('still alive')
"""
    result = await run_python(code, QUICK)
    assert _lines(result) == ["refused 1 PermissionError", "refused 1 PermissionError", "still alive"]
    assert result.exit_code == 0
    host = os.getpid()
    assert os.getppid() > 0
    os.kill(host, 0)  # the host is alive
    after = await run_python("print('next run fine')", QUICK)
    assert after.stdout == "next run fine\n"


async def test_cancelling_the_call_kills_the_sandbox(no_leftovers: None) -> None:
    """Cancelling run_python leaves no sandbox process behind."""
    task = asyncio.create_task(run_python("import time\ntime.sleep(600)", SandboxLimits(wall_s=60)))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


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

"""Sandboxed Python for the chat agent: run untrusted code in a separate, isolated, bounded process.

`run_python(code, limits)` starts, through util-linux ``unshare``, a small init process
(``sandbox_init.py``, run as a script by the base interpreter with ``-I -S -B``) in fresh PID, mount,
network, IPC and UTS namespaces. The init checks that the namespaces really are new (their inode
numbers differ from the host's; the network namespace holds only ``lo``; it is PID 1), builds a
minimal root on a tmpfs, forks, and the child drops to the sandbox user, applies the limits and
execs ``python -I -S -B`` on the code. What is enforced:

* no network: a new network namespace (only a down loopback: even 127.0.0.1 is unreachable), plus a
  seccomp filter that allows only AF_UNIX/AF_INET/AF_INET6 sockets (those are namespaced; AF_VSOCK,
  AF_NETLINK, AF_PACKET... are not all, and on a VM AF_VSOCK reaches the hypervisor) and refuses
  io_uring (it could create sockets around the filter), bpf, perf_event_open, userfaultfd and keys;
* filesystem: the code runs chrooted into a tmpfs holding read-only, nosuid binds of /usr, /lib*
  and the interpreter's prefix (its site-packages hidden under an empty tmpfs), /dev/{null,zero,
  random,urandom}, and a fresh scratch tmpfs (/scratch, mode 0700, owned by the sandbox user, size
  bounded, also /tmp) that disappears with the mount namespace. /etc, /root, /home, /work, /proc,
  /sys, /run and everything else are simply absent. Chroot cannot be escaped without privileges, and
  the kernel refuses new user namespaces to chrooted processes;
* privileges: the code runs as an unprivileged uid/gid (leased per run) with no supplementary
  groups, no capabilities and no_new_privs; it cannot signal the init (root) or anything outside its
  PID namespace, so ``os.kill(os.getppid(), 9)`` fails;
* resources: RLIMIT_CPU (SIGXCPU, then SIGKILL a second later), RLIMIT_AS, RLIMIT_NPROC (per uid,
  which is why the code never runs as root), RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_CORE=0,
  RLIMIT_MEMLOCK=0, RLIMIT_MSGQUEUE=0 and nice 10;
* wall time: on expiry the whole process group is SIGKILLed; killing the init, PID 1 of the
  namespace, makes the kernel kill every process left in it (even one that called setsid);
* output: stdout and stderr are read incrementally into one shared budget; past it the output is
  truncated with a marker and the sandbox is killed (``killed_reason="output_limit"``).

If any step of the isolation cannot be established (not root, no ``unshare``, an unsupported
architecture for the seccomp filter, a namespace that did not change, a mount that failed), nothing
runs: the result carries ``error`` and ``exit_code`` is None. Known limits: memory is bounded per
process (RLIMIT_AS), so a fork bomb can hold at most ``max_processes x memory_mb`` (no cgroup is
used); RLIMIT_NPROC counts every process of a uid on the host, so each run leases a uid of its own
from a pool (``services/tool/uids.py``) unless ``SandboxLimits.uid`` pins one; world-readable system
files under /usr and the interpreter's standard library are visible.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from services.tool import sandbox_init
from services.tool.sandbox_init import _INIT_FLAG, _NAMESPACES, _SECCOMP_ARCHES

if TYPE_CHECKING:  # asyncio is imported lazily: a sandbox run starts no event loop of its own
    import asyncio

NOBODY = 65534
# run by the base interpreter as the namespaces' PID 1 (a script: it imports the standard library only)
_INIT_SCRIPT = os.path.abspath(sandbox_init.__file__)
_TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    cpu_s: int = 5  # RLIMIT_CPU of each process
    wall_s: float = 10.0  # the whole run, setup included
    memory_mb: int = 256  # RLIMIT_AS of each process
    max_processes: int = 8  # RLIMIT_NPROC for the sandbox uid (threads count)
    max_file_mb: int = 16  # RLIMIT_FSIZE
    max_open_files: int = 64  # RLIMIT_NOFILE
    output_bytes: int = 64 * 1024  # stdout + stderr together
    scratch_mb: int = 32  # size of the scratch tmpfs
    max_code_bytes: int = 256 * 1024
    # None: a uid (and the same gid) leased from services/tool/uids.py for this run alone, so
    # RLIMIT_NPROC is this run's own budget; an int pins one (runs pinned to one uid share it)
    uid: int | None = None
    gid: int | None = None
    nice: int = 10

    def __post_init__(self) -> None:
        for name in ("cpu_s", "memory_mb", "max_processes", "max_file_mb", "max_open_files"):
            if getattr(self, name) < 1:
                raise ValueError(f"SandboxLimits.{name} must be at least 1")
        for name in ("output_bytes", "scratch_mb", "max_code_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"SandboxLimits.{name} must be at least 1")
        if self.wall_s <= 0:
            raise ValueError("SandboxLimits.wall_s must be positive")
        if (self.uid is not None and self.uid <= 0) or (self.gid is not None and self.gid <= 0):
            raise ValueError("the sandbox must run as an unprivileged uid and gid, never root")
        if not 0 <= self.nice <= 19:
            raise ValueError("SandboxLimits.nice must be between 0 and 19 (never a higher priority)")
        if self.memory_mb < 32:
            raise ValueError("SandboxLimits.memory_mb below 32 cannot start Python")


@dataclass(frozen=True, slots=True)
class SandboxResult:
    stdout: str
    stderr: str
    exit_code: int | None  # negative: killed by that signal; None: never ran or killed from outside
    timed_out: bool  # the CPU or the wall-time limit ended it
    killed_reason: str | None  # "wall_time" | "cpu_time" | "output_limit" | "signal SIGxxx"
    truncated: bool
    duration_s: float
    error: str | None = None  # the sandbox could not be established: nothing ran

    @property
    def ok(self) -> bool:
        return self.error is None and self.killed_reason is None and self.exit_code == 0


# --- the host side ------------------------------------------------------------------------------------


def _interpreter() -> str:
    """The base interpreter (never a venv shim): the sandbox binds its prefix, not the venv."""
    candidate = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    return candidate if os.access(candidate, os.X_OK) else os.path.realpath(sys.executable)


def _preflight() -> tuple[str | None, dict[str, Any]]:
    """Why the sandbox cannot be set up here (None when it can) and the facts the init needs."""
    if sys.platform != "linux":
        return "the sandbox needs Linux namespaces", {}
    if os.geteuid() != 0:
        return "the sandbox needs root (namespaces, chroot, dropping to the sandbox uid); refusing", {}
    if platform.machine() not in _SECCOMP_ARCHES:
        return f"no seccomp filter for the {platform.machine()} architecture; refusing", {}
    unshare = shutil.which("unshare", path=_TOOL_PATH)
    if unshare is None:
        return "util-linux 'unshare' not found; refusing to run without isolation", {}
    try:
        host_ns = {ns: os.stat(f"/proc/self/ns/{ns}").st_ino for ns in _NAMESPACES}
    except OSError as exc:
        return f"cannot read the host namespaces ({exc}); refusing", {}
    return None, {"unshare": unshare, "host_ns": host_ns}


class _Output:
    """stdout and stderr under one byte budget."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.data = {"stdout": bytearray(), "stderr": bytearray()}
        self.truncated_in: str | None = None

    def add(self, name: str, chunk: bytes) -> bool:
        """Keep what fits; False once the budget is exceeded."""
        room = self.limit - self.used
        self.data[name] += chunk[:room]
        self.used += min(room, len(chunk))
        if len(chunk) > room:
            self.truncated_in = name
            return False
        return True

    def text(self, name: str) -> str:
        text = self.data[name].decode("utf-8", "replace")
        if self.truncated_in == name:
            text += f"\n[... output truncated: the sandbox output limit is {self.limit} bytes ...]\n"
        return text


async def run_python(code: str, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Run untrusted Python code in an isolated, resource-bounded process; never raises for bad code."""
    started = time.monotonic()

    def refused(reason: str, stderr: str = "") -> SandboxResult:
        return SandboxResult("", stderr, None, False, None, False, time.monotonic() - started, reason)

    try:
        source = code.encode("utf-8")
    except UnicodeEncodeError:
        return refused("the code is not valid UTF-8 text")
    if len(source) > limits.max_code_bytes:
        return refused(f"the code is {len(source)} bytes; the limit is {limits.max_code_bytes}")
    problem, facts = _preflight()
    if problem is not None:
        return refused(problem)
    if limits.uid is None:
        from services.tool.uids import PoolExhausted, lease  # host side only: the init is stdlib-only

        try:
            with lease() as uid:
                pinned = replace(limits, uid=uid, gid=limits.gid or uid)
                return await _run(source, pinned, facts, started, refused)
        except PoolExhausted as exc:
            return refused(str(exc))
    return await _run(source, limits, facts, started, refused)


async def _run(
    source: bytes,
    limits: SandboxLimits,
    facts: dict[str, Any],
    started: float,
    refused: Callable[..., SandboxResult],
) -> SandboxResult:
    import asyncio

    assert limits.uid is not None

    status_r, pipe_w = os.pipe()
    status_w = fcntl.fcntl(pipe_w, fcntl.F_DUPFD_CLOEXEC, 10)  # never 0-2, even if the host closed them
    os.close(pipe_w)
    config = {
        "status_fd": status_w,
        "host_ns": facts["host_ns"],
        "uid": limits.uid,
        "gid": limits.gid if limits.gid is not None else limits.uid,
        "cpu_s": limits.cpu_s,
        "memory_bytes": limits.memory_mb << 20,
        "nproc": limits.max_processes,
        "fsize_bytes": limits.max_file_mb << 20,
        "nofile": limits.max_open_files,
        "scratch_bytes": limits.scratch_mb << 20,
        "max_code_bytes": limits.max_code_bytes,
        "nice": limits.nice,
    }
    # --kill-child: the init dies with unshare; --fork --pid: the init is PID 1 of the new namespace
    argv = [
        facts["unshare"],
        "--fork",
        "--kill-child",
        "--pid",
        "--mount",
        "--net",
        "--ipc",
        "--uts",
        "--propagation",
        "private",
        "--",
        _interpreter(),
        "-I",
        "-S",
        "-B",
        _INIT_SCRIPT,
        _INIT_FLAG,
        json.dumps(config),
    ]
    loop = asyncio.get_running_loop()
    status_reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(status_reader), os.fdopen(status_r, "rb", buffering=0)
    )
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(status_w,),
            start_new_session=True,
            env={},
            cwd="/",
        )
    except OSError as exc:
        transport.close()
        return refused(f"cannot start the sandbox: {exc}")
    finally:
        os.close(status_w)

    output = _Output(limits.output_bytes)
    status_chunks: list[bytes] = []
    killed_reason: str | None = None

    def kill(reason: str) -> None:
        nonlocal killed_reason
        if killed_reason is None:
            killed_reason = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(source)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            proc.stdin.close()

    async def pump(stream: asyncio.StreamReader | None, name: str) -> None:
        assert stream is not None
        while chunk := await stream.read(65536):
            if output.truncated_in is None and not output.add(name, chunk):
                kill("output_limit")  # what follows is drained and dropped until the pipes close

    async def read_status() -> None:
        size = 0
        while chunk := await status_reader.read(4096):
            size += len(chunk)
            if size <= 65536:  # the init writes a few short lines; never trust it to be bounded
                status_chunks.append(chunk)

    tasks = [
        asyncio.create_task(feed()),
        asyncio.create_task(pump(proc.stdout, "stdout")),
        asyncio.create_task(pump(proc.stderr, "stderr")),
        asyncio.create_task(read_status()),
    ]
    try:
        try:
            async with asyncio.timeout(limits.wall_s):
                await proc.wait()
                await asyncio.gather(*tasks)
        except TimeoutError:
            kill("wall_time")
            await proc.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):  # the namespace is gone: the pipes close at once
                    await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if proc.returncode is None:  # cancelled: never leave the sandbox running
            kill("cancelled")
        for task in tasks:
            task.cancel()
        transport.close()

    status: dict[str, Any] = {}
    for line in b"".join(status_chunks).splitlines():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict):
                status.update(message)
    duration = time.monotonic() - started
    stderr = output.text("stderr")
    if "error" in status or not status.get("ready"):
        if killed_reason == "wall_time" and not status.get("ready"):
            reason = "the sandbox was not ready within the wall-time limit"
        else:
            detail = status.get("error") or (
                stderr.strip()[-500:] or f"unshare exited with {proc.returncode}"
            )
            reason = f"the sandbox could not be established, nothing ran: {detail}"
        return SandboxResult(
            "", stderr, None, killed_reason == "wall_time", killed_reason, False, duration, reason
        )

    exit_code: int | None = None
    if "exit" in status:
        exit_code = int(status["exit"])
    elif "signal" in status:
        signum = int(status["signal"])
        exit_code = -signum
        cpu_used = float(status.get("cpu_s", 0.0))
        if killed_reason is None:
            if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu_used >= limits.cpu_s - 0.05):
                killed_reason = "cpu_time"
            else:
                killed_reason = (
                    f"signal {signal.Signals(signum).name}" if signum in _SIGNUMS else f"signal {signum}"
                )
    return SandboxResult(
        stdout=output.text("stdout"),
        stderr=stderr,
        exit_code=exit_code,
        timed_out=killed_reason in {"wall_time", "cpu_time"},
        killed_reason=killed_reason,
        truncated=output.truncated_in is not None,
        duration_s=duration,
    )


_SIGNUMS = {int(s) for s in signal.Signals}

"""Sandboxed Python for the chat agent: run untrusted code in a separate, isolated, bounded process.

`run_python(code, limits)` starts, through util-linux ``unshare``, a small init process (this very file,
run as a script by the base interpreter with ``-I -S -B``) in fresh PID, mount, network, IPC and UTS
namespaces. The init checks that the namespaces really are new (their inode numbers differ from the
host's; the network namespace holds only ``lo``; it is PID 1), builds a minimal root on a tmpfs,
forks, and the child drops to the sandbox user, applies the limits and execs ``python -I -S -B``
on the code. What is enforced:

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
import ctypes
import fcntl
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # asyncio is imported lazily: the init (this file run as a script) never needs it
    import asyncio

NOBODY = 65534
_INIT_FLAG = "--sandbox-init"
_INIT_SCRIPT = os.path.abspath(__file__)  # run by the base interpreter as the namespaces' PID 1
_NAMESPACES = ("net", "mnt", "pid", "ipc", "uts")
_TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
_NEW_ROOT = "/tmp"  # the tmpfs root is mounted here, inside the new (private) mount namespace only


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


# --- seccomp --------------------------------------------------------------------------------------------

# AUDIT_ARCH and syscall numbers; the filter is only installed on these architectures
_SECCOMP_ARCHES: dict[str, tuple[int, bool, dict[str, int]]] = {
    "x86_64": (
        0xC000003E,
        True,  # the x32 ABI (syscall numbers with bit 30 set) must be refused
        {
            "socket": 41,
            "socketpair": 53,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "bpf": 321,
            "perf_event_open": 298,
            "userfaultfd": 323,
            "add_key": 248,
            "request_key": 249,
            "keyctl": 250,
        },
    ),
    "aarch64": (
        0xC00000B7,
        False,
        {
            "socket": 198,
            "socketpair": 199,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "bpf": 280,
            "perf_event_open": 241,
            "userfaultfd": 282,
            "add_key": 217,
            "request_key": 218,
            "keyctl": 219,
        },
    ),
}
_ALLOWED_SOCKET_FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_RET_K = 0x06
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_KILL_PROCESS = 0x80000000
_EPERM = 1


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


@dataclass(frozen=True, slots=True)
class _Insn:
    code: int
    k: int
    jt: str | None = None  # label to jump to when the test is true (next instruction otherwise)
    jf: str | None = None


def _seccomp_program(machine: str) -> list[tuple[int, int, int, int]]:
    """A classic-BPF seccomp program: refuse foreign ABIs, risky syscalls and non-namespaced sockets."""
    audit_arch, has_x32, nr = _SECCOMP_ARCHES[machine]
    denied = [
        *("io_uring_setup", "io_uring_enter", "io_uring_register"),
        *("bpf", "perf_event_open", "userfaultfd", "add_key", "request_key", "keyctl"),
    ]
    program: list[_Insn | str] = [  # a str is a label for the instruction after it
        _Insn(_BPF_LD_W_ABS, 4),  # seccomp_data.arch
        _Insn(_BPF_JEQ_K, audit_arch, jf="kill"),
        _Insn(_BPF_LD_W_ABS, 0),  # seccomp_data.nr
        *([_Insn(_BPF_JGE_K, 0x40000000, jt="kill")] if has_x32 else []),
        *[_Insn(_BPF_JEQ_K, nr[name], jt="family") for name in ("socket", "socketpair")],
        *[_Insn(_BPF_JEQ_K, nr[name], jt="deny") for name in denied],
        _Insn(_BPF_RET_K, _SECCOMP_RET_ALLOW),
        "family",
        _Insn(_BPF_LD_W_ABS, 16),  # low 32 bits of args[0] (little endian): the address family
        *[_Insn(_BPF_JEQ_K, int(family), jt="allow") for family in _ALLOWED_SOCKET_FAMILIES],
        "deny",
        _Insn(_BPF_RET_K, _SECCOMP_RET_ERRNO | _EPERM),
        "allow",
        _Insn(_BPF_RET_K, _SECCOMP_RET_ALLOW),
        "kill",
        _Insn(_BPF_RET_K, _SECCOMP_RET_KILL_PROCESS),
    ]
    labels: dict[str, int] = {}
    insns: list[_Insn] = []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)

    def offset(index: int, label: str | None) -> int:
        jump = 0 if label is None else labels[label] - index - 1
        if not 0 <= jump < 256:
            raise RuntimeError("seccomp program jump out of range")
        return jump

    return [(i.code, offset(n, i.jt), offset(n, i.jf), i.k) for n, i in enumerate(insns)]


# --- the init: runs as PID 1 of the new namespaces (this file run as a script) --------------------------

_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount(
    libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    def b(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    if libc.mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or fstype} on {target}: {os.strerror(err)}")


def _bind(libc: ctypes.CDLL, source: str, target: str, extra_flags: int) -> None:
    _mount(libc, source, target, None, _MS_BIND, None)
    _mount(libc, None, target, None, _MS_BIND | _MS_REMOUNT | extra_flags, None)


def _within(path: str, directories: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in directories)


def _verify_namespaces(host_ns: dict[str, int]) -> None:
    if os.getpid() != 1:
        raise RuntimeError("the init is not PID 1 of a new PID namespace")
    for ns in _NAMESPACES:
        if os.stat(f"/proc/self/ns/{ns}").st_ino == host_ns[ns]:
            raise RuntimeError(f"the {ns} namespace is the host's")
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        raise RuntimeError(f"the network namespace is not empty: {interfaces}")


def _build_root(libc: ctypes.CDLL, cfg: dict[str, Any], code: bytes) -> tuple[str, str]:
    """The sandbox's root filesystem; returns (root, interpreter path inside it)."""
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE, None)  # nothing below propagates to the host
    root = _NEW_ROOT
    _mount(
        libc, "sandbox-root", root, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={len(code) + (1 << 20)},mode=0755"
    )
    ro = _MS_RDONLY | _MS_NOSUID | _MS_NODEV
    bound: list[str] = []
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        source = "/" + name
        if os.path.islink(source):
            os.symlink(os.readlink(source), root + source)
        elif os.path.isdir(source):
            os.mkdir(root + source, 0o755)
            _bind(libc, source, root + source, ro)
            bound.append(os.path.realpath(source))
    prefix = os.path.realpath(sys.prefix)
    if not _within(prefix, bound):
        os.makedirs(root + prefix, 0o755)
        _bind(libc, prefix, root + prefix, ro)
        bound.append(prefix)
    python = os.path.realpath(sys.executable)
    if not _within(python, bound):
        raise RuntimeError(f"the interpreter {python} is outside the sandbox's read-only binds")
    for key in ("purelib", "platlib"):  # installed packages (this project among them) stay hidden
        packages = os.path.realpath(sysconfig.get_path(key))
        if os.path.isdir(root + packages) and not os.path.ismount(root + packages):
            _mount(libc, "hidden", root + packages, "tmpfs", ro | _MS_NOEXEC, "size=4k,mode=0755")
    os.mkdir(root + "/dev", 0o755)
    for device in ("null", "zero", "random", "urandom"):
        with open(root + "/dev/" + device, "wb"):
            pass
        _bind(libc, "/dev/" + device, root + "/dev/" + device, _MS_NOSUID | _MS_NOEXEC)
    os.mkdir(root + "/scratch", 0o700)
    scratch = f"size={cfg['scratch_bytes']},nr_inodes=4096,mode=0700,uid={cfg['uid']},gid={cfg['gid']}"
    _mount(libc, "sandbox-scratch", root + "/scratch", "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, scratch)
    os.symlink("/scratch", root + "/tmp")
    os.mkdir(root + "/sandbox", 0o755)
    with open(root + "/sandbox/main.py", "wb") as fh:
        fh.write(code)
    os.chmod(root + "/sandbox/main.py", 0o444)
    _mount(libc, None, root, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)
    return root, python


def _report(fd: int, **message: Any) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode())


def _exec_sandboxed(libc: ctypes.CDLL, root: str, python: str, cfg: dict[str, Any]) -> None:
    """In the forked child: enter the root, drop to the sandbox user, limit, filter, exec. Never returns."""
    status_fd: int = cfg["status_fd"]
    null = os.open(root + "/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chroot(root)
    os.chdir("/scratch")
    os.nice(int(cfg["nice"]))
    uid, gid = int(cfg["uid"]), int(cfg["gid"])
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise RuntimeError("could not drop to the sandbox user")
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise RuntimeError("the sandbox user can regain root")
    limits = {
        resource.RLIMIT_CPU: (cfg["cpu_s"], cfg["cpu_s"] + 1),
        resource.RLIMIT_AS: (cfg["memory_bytes"], cfg["memory_bytes"]),
        resource.RLIMIT_NPROC: (cfg["nproc"], cfg["nproc"]),
        resource.RLIMIT_FSIZE: (cfg["fsize_bytes"], cfg["fsize_bytes"]),
        resource.RLIMIT_NOFILE: (cfg["nofile"], cfg["nofile"]),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_MEMLOCK: (0, 0),
        resource.RLIMIT_MSGQUEUE: (0, 0),
    }
    for which, (soft, hard) in limits.items():
        resource.setrlimit(which, (int(soft), int(hard)))
    if libc.prctl(
        _PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)
    ):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    program = _seccomp_program(platform.machine())
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), filters)
    if libc.prctl(
        _PR_SET_SECCOMP,
        ctypes.c_ulong(_SECCOMP_MODE_FILTER),
        ctypes.byref(fprog),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    ):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
    os.closerange(3, status_fd)
    os.closerange(status_fd + 1, 1 << 16)
    os.set_inheritable(status_fd, False)  # closed by the exec below; kept for reporting if exec fails
    _report(status_fd, ready=True)
    os.execve(python, [python, "-I", "-S", "-B", "/sandbox/main.py"], {})


def _init_main(raw_config: str) -> int:
    cfg = json.loads(raw_config)
    status_fd = int(cfg["status_fd"])
    try:
        code = b""
        while chunk := os.read(0, 65536):
            code += chunk
            if len(code) > int(cfg["max_code_bytes"]):
                raise RuntimeError("the code is over the size limit")
        _verify_namespaces(cfg["host_ns"])
        libc = _libc()
        root, python = _build_root(libc, cfg, code)
    except Exception as exc:
        _report(status_fd, error=f"{type(exc).__name__}: {exc}")
        return 70
    child = os.fork()
    if child == 0:
        try:
            _exec_sandboxed(libc, root, python, cfg)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                _report(status_fd, error=f"{type(exc).__name__}: {exc}")
        os._exit(127)
    # PID 1: reap everything until the sandboxed child ends, then end whatever it left behind
    while True:
        try:
            pid, wait_status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            _report(status_fd, error="the sandboxed process vanished")
            return 70
        if pid == child:
            break
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while True:
            os.wait()
    cpu_s = usage.ru_utime + usage.ru_stime
    if os.WIFSIGNALED(wait_status):
        _report(status_fd, signal=os.WTERMSIG(wait_status), cpu_s=cpu_s)
    else:
        _report(status_fd, exit=os.WEXITSTATUS(wait_status), cpu_s=cpu_s)
    return 0


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == _INIT_FLAG:
    sys.exit(_init_main(sys.argv[2]))

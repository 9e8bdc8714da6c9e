"""The sandbox's init: run by ``services/tool/sandbox.py`` as a script (``python -I -S -B`` on this
file, through ``unshare``) as PID 1 of fresh PID, mount, network, IPC and UTS namespaces. It checks
that the namespaces are new, builds the minimal root on a tmpfs, forks, and the child drops to the
sandbox user, installs the seccomp filter, applies the limits and execs the interpreter on the code.

It runs isolated (``-I``: no site-packages, no script directory on ``sys.path``), so it imports the
standard library only, never this package; the host side imports its constants from here.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import resource
import signal
import socket
import sys
import sysconfig
from dataclasses import dataclass
from typing import Any

_INIT_FLAG = "--sandbox-init"
_NAMESPACES = ("net", "mnt", "pid", "ipc", "uts")
_NEW_ROOT = "/tmp"  # the tmpfs root is mounted here, inside the new (private) mount namespace only

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

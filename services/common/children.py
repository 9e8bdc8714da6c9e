"""Child processes that never outlive the process that started them, and data directories that
never have two servers.

The embedded stack starts servers (Tansu, FalkorDB) as child processes. A clean stop stops them; a
``kill -9`` of ``ragstream up`` used to leave them running, and the next ``up`` then ran a second
FalkorDB on the same data directory while the orphan later wrote its stale snapshot over the new
one. Two guards, both from the kernel, so they hold for SIGKILL too:

- ``die_with_parent`` (a ``preexec_fn``): Linux's parent-death signal. The child gets SIGTERM when
  the thread that started it ends, so start children from the main thread (the stack does).
- ``DirectoryLock``: an exclusive ``flock`` on ``<dir>/.lock`` that the server process inherits and
  holds for its whole life; a second server on the directory waits for it (an orphan saving its
  snapshot on SIGTERM), then refuses with the holder's pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child


def die_with_parent(parent: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets SIGTERM when its parent dies, and
    exits at once if the parent is already gone (it died between fork and exec)."""
    expected = parent if parent is not None else os.getpid()

    def arm() -> None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != expected:
            os._exit(1)

    return arm


def die_with_parent_now(sig: int = signal.SIGKILL) -> None:
    """The same guard from inside a child that is already running (a pool worker's initializer)."""
    _prctl(_PR_SET_PDEATHSIG, sig)


class DataDirectoryBusy(RuntimeError):
    pass


class DirectoryLock:
    """An exclusive lock on a data directory, passed to the server that uses it (``fd``)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / ".lock"
        self.fd: int | None = None

    def acquire(self, wait_s: float = 30.0) -> int:
        """Lock (waiting up to ``wait_s`` for a previous server to finish) and return the fd."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = self.path.read_text().strip() or "unknown"
                    os.close(fd)
                    raise DataDirectoryBusy(
                        f"{self.path.parent} is in use by another server (pid {holder}); stop it, or "
                        "use another RAGSTREAM_HOME"
                    ) from None
                time.sleep(0.2)
        self.fd = fd
        return fd

    def record(self, pid: int) -> None:
        """Write the server's pid into the lock file (for the message a second server gets)."""
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, str(pid).encode(), 0)

    def release(self) -> None:
        """Our copy of the fd; the lock ends when the server holding the other copy exits too."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# Bulk work in worker processes (parsing, chunking) runs this much nicer than the stack: on a small
# machine a question's forward pass and Kafka hops then win the cores over a 50 MB document's chunking
# (bench/pressure), while an idle machine still gives the workers every cycle.
BULK_NICENESS = 10


def bulk_worker(memory_bytes: int) -> None:
    """A bulk worker's initializer (parsing, chunking): SIGKILL when the stack dies, a lower CPU
    priority (``BULK_NICENESS``) and an address-space ceiling (``RLIMIT_AS``)."""
    import resource

    die_with_parent_now(signal.SIGKILL)
    run_as_bulk_work()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def run_as_bulk_work() -> None:
    """In a worker process: lower its CPU priority by ``BULK_NICENESS`` (never raises it back)."""
    with contextlib.suppress(OSError):
        os.nice(BULK_NICENESS)


def run_this_thread_as_bulk_work() -> None:
    """Lower the calling thread's CPU priority alone by ``BULK_NICENESS`` (Linux keeps a nice value
    per thread; threads it starts from now on, such as its OpenMP team, inherit it). Elsewhere: no-op."""
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BULK_NICENESS)

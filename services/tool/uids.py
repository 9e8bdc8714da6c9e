"""A pool of unprivileged uids for the sandbox: each run holds one uid for its whole life.

RLIMIT_NPROC counts the processes of a real uid on the host, so sandboxes sharing one uid share one
process budget: one user's fork storm made another user's code fail with EAGAIN. Here each run leases
a uid of its own from ``POOL`` (an exclusive ``flock`` on a file per uid, so tool workers in several
processes on one host never hand out the same uid), and gives it back when the run ends; by then the
run's PID namespace is gone, so no process of that uid is left. The uids need no passwd entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

POOL = range(200_000, 201_000)


class PoolExhausted(RuntimeError):
    pass


def lock_dir() -> Path:
    """Root's own directory for the lock files (the sandbox runs as root; 0700 keeps others out)."""
    path = Path("/run/ragstream-sandbox") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    if path.name != "ragstream-sandbox":
        path = path / "ragstream-sandbox"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextlib.contextmanager
def lease(pool: range = POOL) -> Iterator[int]:
    """A uid no other run on this host holds, for the duration of the ``with``."""
    folder = lock_dir()
    start = random.randrange(len(pool))
    for i in range(len(pool)):
        uid = pool[(start + i) % len(pool)]
        fd = os.open(folder / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    raise PoolExhausted(f"all {len(pool)} sandbox uids are in use")

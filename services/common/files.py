"""Writing a file so that a crash leaves the old bytes or the new ones, never a torn mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, fsync: bool = True, tmp_prefix: str = ".tmp-") -> None:
    """Temp file in the same directory, flushed (and fsynced), renamed over ``path``; with ``fsync``
    the directory is fsynced too, so the new name survives a power loss as well as a crash."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=tmp_prefix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

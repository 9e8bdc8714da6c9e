"""Content-addressed blob store on a local directory (embedded default).

URIs are ``cas://sha256/<hex>``: the same bytes always get the same URI, so re-publishing a file
stores nothing new and a message's claim check can be verified. An S3 adapter keeps the same URIs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

SCHEME = "cas://sha256/"
_CHUNK = 1024 * 1024


class BlobNotFound(FileNotFoundError):
    pass


def _digest_of(uri: str) -> str:
    if not uri.startswith(SCHEME):
        raise ValueError(f"not a blob URI: {uri!r} (expected {SCHEME}<sha256>)")
    digest = uri.removeprefix(SCHEME)
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"bad sha256 in blob URI {uri!r}")
    return digest


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def _put(self, source: Path | None, data: bytes | None) -> tuple[str, str, int]:
        self.root.mkdir(parents=True, exist_ok=True)
        sha = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                if source is not None:
                    with open(source, "rb") as src:
                        while block := src.read(_CHUNK):
                            sha.update(block)
                            out.write(block)
                            size += len(block)
                elif data is not None:
                    sha.update(data)
                    out.write(data)
                    size = len(data)
            digest = sha.hexdigest()
            target = self._path(digest)
            if target.exists():
                os.unlink(tmp)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return SCHEME + digest, digest, size

    async def put_file(self, path: str) -> tuple[str, str, int]:
        return await asyncio.to_thread(self._put, Path(path), None)

    async def put_bytes(self, data: bytes) -> tuple[str, str, int]:
        return await asyncio.to_thread(self._put, None, data)

    def _existing(self, uri: str) -> Path:
        path = self._path(_digest_of(uri))
        if not path.exists():
            raise BlobNotFound(f"blob {uri} is not in {self.root}")
        return path

    @contextlib.asynccontextmanager
    async def local_file(self, uri: str) -> AsyncIterator[str]:
        yield str(self._existing(uri))

    async def get_bytes(self, uri: str) -> bytes:
        return await asyncio.to_thread(self._existing(uri).read_bytes)

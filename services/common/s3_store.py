"""Where the object server (``services/common/s3_server.py``) keeps its objects: files under one
directory, written atomically (a temporary file flushed, fsynced and renamed over the object, the
directory fsynced too), with what it knows of them and each listed folder's sorted keys cached in
memory, since this process is the directory's only writer."""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.common.files import atomic_write, fsync_dir
from services.common.s3_protocol import S3Error, escape, quoted

SUFFIX = ".obj"  # object files end with it, so a key "a" and a key "a/b" never collide on disk
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class Stored:
    etag: str  # MD5 of the content, as S3's for single-part uploads
    size: int
    mtime: float


class ObjectStore:
    """Objects as files under ``root/<bucket>/``; each key segment percent-encoded, the last with
    ``.obj``. This process is the directory's only writer (it holds its lock), so what it knows of
    each object (ETag, size, time) and each listed folder's sorted keys are kept in memory and
    updated as it writes: Tansu lists a partition's batches on every fetch, and a listing must not
    walk the disk each time. After a restart both are rebuilt from the files on first use."""

    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self._stored: dict[Path, Stored] = {}
        self._listings: dict[Path, list[str]] = {}  # a folder -> every key under it, sorted
        # (bucket folder, key) -> the object's <Contents> element in a listing: looked up by key, as a
        # listing walks keys (building each key's path cost 30 µs: 30 ms per page of 1000)
        self._entries: dict[tuple[Path, str], str] = {}
        self._last_write = 0.0

    # -- paths ---------------------------------------------------------------------------------
    def bucket_dir(self, bucket: str) -> Path:
        if not _BUCKET.match(bucket):
            raise S3Error(400, "InvalidBucketName", f"invalid bucket name {bucket!r}")
        return self.root / bucket

    def existing_bucket(self, bucket: str) -> Path:
        path = self.bucket_dir(bucket)
        if not path.is_dir():
            raise S3Error(404, "NoSuchBucket", f"no bucket {bucket!r}")
        return path

    def path(self, bucket: str, key: str) -> Path:
        segments = key.split("/")
        if not key or any(s in ("", ".", "..") for s in segments):
            raise S3Error(400, "InvalidArgument", f"key {key!r} is not stored by this server")
        encoded = [urllib.parse.quote(s, safe="") for s in segments]
        return self.existing_bucket(bucket).joinpath(*encoded[:-1], encoded[-1] + SUFFIX)

    # -- objects -------------------------------------------------------------------------------
    def stored(self, path: Path) -> Stored | None:
        found = self._stored.get(path)
        if found is None and path.is_file():
            stat = path.stat()
            tag = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            found = self._stored[path] = Stored(tag, stat.st_size, stat.st_mtime)
        return found

    def etag(self, path: Path) -> str | None:
        found = self.stored(path)
        return found.etag if found else None

    def put(self, path: Path, key: str, data: bytes) -> str:
        """Write an object. Its time is strictly later than the previous write's, and kept on the
        file: Tansu answers "latest offset" with the batch of the latest LastModified, so two batches
        must never share one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, self.fsync)
        self._last_write = max(time.time(), self._last_write + 1e-6)
        os.utime(path, (self._last_write, self._last_write))
        tag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self._stored[path] = Stored(tag, len(data), self._last_write)
        self._entries.pop((path.parents[key.count("/")], key), None)
        for keys in self._listings_above(path):
            at = bisect.bisect_left(keys, key)
            if at == len(keys) or keys[at] != key:
                keys.insert(at, key)
        return tag

    def delete(self, path: Path, key: str, sync: bool = True) -> None:
        """Remove an object; ``sync=False`` skips the directory fsync (an expired batch that comes
        back after a power loss is only deleted again)."""
        self._stored.pop(path, None)
        self._entries.pop((path.parents[key.count("/")], key), None)
        for keys in self._listings_above(path):
            at = bisect.bisect_left(keys, key)
            if at < len(keys) and keys[at] == key:
                del keys[at]
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            if self.fsync and sync:
                fsync_dir(path.parent)

    def _listings_above(self, path: Path) -> list[list[str]]:
        return [keys for folder, keys in self._listings.items() if folder in path.parents]

    def keys(self, bucket_dir: Path, prefix: str, after: str = "") -> Iterator[str]:
        """The keys under ``prefix`` that sort after ``after``, in S3's (lexicographic) order, from the
        sorted listing of the folder the prefix names (Tansu lists one partition's records on every
        fetch: a page costs what it returns, never what came before it)."""
        folders = prefix.split("/")[:-1]
        if any(s in ("", ".", "..") for s in folders):
            return iter(())
        start = bucket_dir.joinpath(*(urllib.parse.quote(s, safe="") for s in folders))
        keys = self._listings.get(start)
        if keys is None:
            keys = self._listings[start] = self._walk(bucket_dir, start)
        first = max(bisect.bisect_left(keys, prefix), bisect.bisect_right(keys, after) if after else 0)
        return itertools.takewhile(lambda k: k.startswith(prefix), itertools.islice(keys, first, None))

    @staticmethod
    def object_path(bucket_dir: Path, key: str) -> Path:
        """Where a listed key's object lives (no checks: the key came from a listing)."""
        path = bucket_dir.joinpath(*(urllib.parse.quote(s, safe="") for s in key.split("/")))
        return path.with_name(path.name + SUFFIX)

    def entry(self, bucket_dir: Path, key: str) -> str | None:
        """The object's ``<Contents>`` element of a listing (rendered once per write), or None."""
        found = self._entries.get((bucket_dir, key))
        if found is None:
            obj = self.stored(self.object_path(bucket_dir, key))
            if obj is None:
                return None
            when = datetime.fromtimestamp(obj.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            found = self._entries[(bucket_dir, key)] = (
                f"<Contents><Key>{escape(key)}</Key><LastModified>{when}</LastModified>"
                f"<ETag>{quoted(obj.etag)}</ETag><Size>{obj.size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        return found

    @staticmethod
    def _walk(bucket_dir: Path, start: Path) -> list[str]:
        found: list[str] = []
        for folder, _dirs, files in os.walk(start):
            head = [urllib.parse.unquote(p) for p in Path(folder).relative_to(bucket_dir).parts]
            for name in files:
                if name.endswith(SUFFIX) and not name.startswith(".tmp-"):
                    found.append("/".join([*head, urllib.parse.unquote(name[: -len(SUFFIX)])]))
        return sorted(found)

"""A small S3-protocol object server on loopback that keeps objects in a directory: the storage of the
embedded broker (Tansu's ``s3://`` engine), so topics, offsets and dead letters survive a restart and a
``kill -9``.

Why our own: Tansu keeps its high watermarks and group offsets in objects it rewrites with
conditional PUTs (``If-None-Match: *`` to create, ``If-Match: <etag>`` to update). Measured against
Tansu 0.6 (docs/architecture.md): s3rver ignores both on PUT, so after a restart Tansu recreated its
watermark at offset 0 and overwrote committed batches; local-s3-server answers every overwrite with a
500; alocals3 is correct but leaves an orphan file behind every overwrite (~1 GB a day with one idle
consumer); moto keeps nothing on disk. This server implements exactly the S3 subset Tansu and the
blob store use, with those conditions right, and nothing more:

* buckets: create (idempotent), head;
* objects: PUT (conditional, or a copy with ``x-amz-copy-source``), GET (ranges, conditions), HEAD,
  DELETE, multi-object delete; ``ListObjectsV2`` with prefix, delimiter, start-after and pages.

Every write goes to a temporary file that is flushed, fsynced and renamed over the object (the
directory fsynced too), so an acknowledged write survives a crash of any process and of the machine.
Requests are not signed-checked: the server binds to loopback only and serves one stack's home.
Idle connections stay open for ``KEEP_ALIVE_S``, longer than any client keeps one in its pool: a server
that closes an idle connection first races the client's next request on it (measured: uvicorn's 5 s
default reset Tansu's conditional PUT of ``meta.json``, which it does not retry; Tansu then fenced the
stack's idempotent producer and ingestion stopped).
Run: ``python -m services.common.s3_server --root DIR --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import itertools
import os
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.files import atomic_write, fsync_dir

SUFFIX = ".obj"  # object files end with it, so a key "a" and a key "a/b" never collide on disk
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
KEEP_ALIVE_S = 600  # > the 90 s a reqwest client (Tansu, object_store) keeps an idle connection


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _error(exc: S3Error) -> Response:
    body = f"<Error><Code>{exc.code}</Code><Message>{_escape(str(exc))}</Message></Error>"
    return Response(body if exc.status != 304 else b"", exc.status, media_type="application/xml")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml(root: str, children: list[str]) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{XMLNS}">{"".join(children)}</{root}>'
    return Response(body, 200, media_type="application/xml")


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
        self._entries: dict[Path, str] = {}  # an object -> its <Contents> element in a listing
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
        self._entries.pop(path, None)
        for keys in self._listings_above(path):
            at = bisect.bisect_left(keys, key)
            if at == len(keys) or keys[at] != key:
                keys.insert(at, key)
        return tag

    def delete(self, path: Path, key: str, sync: bool = True) -> None:
        """Remove an object; ``sync=False`` skips the directory fsync (an expired batch that comes
        back after a power loss is only deleted again)."""
        self._stored.pop(path, None)
        self._entries.pop(path, None)
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
        path = self.object_path(bucket_dir, key)
        found = self._entries.get(path)
        if found is None:
            obj = self.stored(path)
            if obj is None:
                return None
            when = datetime.fromtimestamp(obj.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            found = self._entries[path] = (
                f"<Contents><Key>{_escape(key)}</Key><LastModified>{when}</LastModified>"
                f"<ETag>{_quoted(obj.etag)}</ETag><Size>{obj.size}</Size>"
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


def _quoted(tag: str) -> str:
    return f'"{tag}"'


def _matches(header: str, tag: str | None) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names ``tag`` (``*`` names any object)."""
    if tag is None:
        return False
    wanted = {t.strip().strip('"') for t in header.split(",")}
    return "*" in wanted or tag in wanted


def check_conditions(request: Request, tag: str | None, reading: bool) -> None:
    if_match, if_none = request.headers.get("if-match"), request.headers.get("if-none-match")
    if if_match is not None and not _matches(if_match, tag):
        if tag is None and not reading:
            raise S3Error(404, "NoSuchKey", "no object to update (If-Match)")
        raise S3Error(412, "PreconditionFailed", "the object changed (If-Match)")
    if if_none is not None and _matches(if_none, tag):
        if reading:
            raise S3Error(304, "NotModified", "not modified")
        raise S3Error(412, "PreconditionFailed", "the object exists (If-None-Match)")


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` as an inclusive (start, end), or None for all."""
    if not header:
        return None
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise S3Error(416, "InvalidRange", f"unsupported range {header!r}")
    if not m.group(1):
        start, end = max(0, size - int(m.group(2))), size - 1
    else:
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if start >= size or start > end:
        raise S3Error(416, "InvalidRange", f"range {header!r} outside {size} bytes")
    return start, end


class S3App:
    def __init__(self, store: ObjectStore, tansu_retention: str | None = None) -> None:
        """``tansu_retention``: a bucket holding Tansu's storage, whose topics' retention this server
        enforces (services/common/tansu_retention.py)."""
        self.store = store
        self.tansu_retention = tansu_retention
        self.app = Starlette(
            routes=[
                Route("/{bucket}", self.bucket, methods=["GET", "PUT", "HEAD", "POST", "DELETE"]),
                Route("/{bucket}/{key:path}", self.object, methods=["GET", "PUT", "HEAD", "DELETE", "POST"]),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        if self.tansu_retention is None:
            yield
            return
        from services.common.tansu_retention import run_sweeps

        task = asyncio.create_task(run_sweeps(self.store, self.tansu_retention))
        try:
            yield
        finally:
            task.cancel()

    async def bucket(self, request: Request) -> Response:
        name = request.path_params["bucket"]
        try:
            if request.method == "PUT":
                self.store.bucket_dir(name).mkdir(parents=True, exist_ok=True)
                return Response(status_code=200, headers={"Location": f"/{name}"})
            bucket_dir = self.store.existing_bucket(name)
            if request.method == "HEAD":
                return Response(status_code=200)
            if request.method == "GET" and request.query_params.get("list-type") == "2":
                return self.list_v2(request, name, bucket_dir)
            if request.method == "POST" and "delete" in request.query_params:
                return await self.delete_many(request, name)
            raise S3Error(501, "NotImplemented", f"{request.method} on a bucket is not supported")
        except S3Error as exc:
            return _error(exc)

    async def object(self, request: Request) -> Response:
        bucket, key = request.path_params["bucket"], request.path_params["key"]
        try:
            if request.method == "POST" or "uploadId" in request.query_params:
                raise S3Error(501, "NotImplemented", "multipart uploads are not supported")
            path = self.store.path(bucket, key)
            if request.method == "PUT":
                return await self.put(request, path, key)
            if request.method == "DELETE":
                self.store.delete(path, key)
                return Response(status_code=204)
            return self.get(request, path, head=request.method == "HEAD")
        except S3Error as exc:
            return _error(exc) if request.method != "HEAD" else Response(status_code=exc.status)

    async def put(self, request: Request, path: Path, key: str) -> Response:
        source = request.headers.get("x-amz-copy-source")
        if source:
            src_bucket, _, src_key = urllib.parse.unquote(source).lstrip("/").partition("/")
            src = self.store.path(src_bucket, src_key)
            if self.store.etag(src) is None:
                raise S3Error(404, "NoSuchKey", f"no object {src_key!r}")
            data = src.read_bytes()
        else:
            if request.headers.get("content-encoding", "").startswith("aws-chunked"):
                raise S3Error(501, "NotImplemented", "aws-chunked uploads are not supported")
            data = await request.body()
        # Checked and written without an await in between: one event loop, so the condition holds.
        check_conditions(request, self.store.etag(path), reading=False)
        tag = self.store.put(path, key, data)
        if source:
            modified = format_datetime(datetime.now(UTC)).replace("+0000", "GMT")
            result = f"<ETag>{_quoted(tag)}</ETag><LastModified>{modified}</LastModified>"
            return _xml("CopyObjectResult", [result])
        return Response(status_code=200, headers={"ETag": _quoted(tag)})

    def get(self, request: Request, path: Path, head: bool) -> Response:
        found = self.store.stored(path)
        if found is None:
            raise S3Error(404, "NoSuchKey", "no such key")
        check_conditions(request, found.etag, reading=True)
        headers = {
            "ETag": _quoted(found.etag),
            "Last-Modified": format_datetime(datetime.fromtimestamp(found.mtime, UTC), usegmt=True),
            "Accept-Ranges": "bytes",
        }
        span = _range(request.headers.get("range"), found.size)
        if head:
            headers["Content-Length"] = str(found.size)
            return Response(status_code=200, headers=headers)
        data = path.read_bytes()
        if span is None:
            return Response(data, 200, headers=headers, media_type="application/octet-stream")
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{found.size}"
        return Response(data[start : end + 1], 206, headers=headers, media_type="application/octet-stream")

    def list_v2(self, request: Request, bucket: str, bucket_dir: Path) -> Response:
        q = request.query_params
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        max_keys = min(int(q.get("max-keys", "1000")), 1000)
        after = q.get("continuation-token") or q.get("start-after") or ""
        contents: list[str] = []
        prefixes: list[str] = []
        truncated, last = False, ""
        for key in self.store.keys(bucket_dir, prefix, after):
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: key.index(delimiter, len(prefix)) + len(delimiter)]
                if (prefixes and prefixes[-1] == common) or common <= after:
                    continue
                entry, token, is_key = common, common + "\U0010ffff", False
            else:
                entry, token, is_key = key, key, True
            if len(contents) + len(prefixes) == max_keys:
                truncated = True
                break
            if is_key:
                element = self.store.entry(bucket_dir, key)
                if element is None:
                    continue
                contents.append(element)
            else:
                prefixes.append(entry)
            last = token
        children = [
            f"<Name>{bucket}</Name><Prefix>{_escape(prefix)}</Prefix>"
            f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{str(truncated).lower()}</IsTruncated>",
            *contents,
            *(f"<CommonPrefixes><Prefix>{_escape(p)}</Prefix></CommonPrefixes>" for p in prefixes),
        ]
        if delimiter:
            children.append(f"<Delimiter>{_escape(delimiter)}</Delimiter>")
        if truncated:
            children.append(f"<NextContinuationToken>{_escape(last)}</NextContinuationToken>")
        return _xml("ListBucketResult", children)

    async def delete_many(self, request: Request, bucket: str) -> Response:
        doc = ET.fromstring(await request.body())
        deleted = []
        for obj in doc.iter():
            if obj.tag.rsplit("}", 1)[-1] == "Key" and obj.text:
                self.store.delete(self.store.path(bucket, obj.text), obj.text)
                deleted.append(f"<Deleted><Key>{_escape(obj.text)}</Key></Deleted>")
        return _xml("DeleteResult", deleted)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="directory that holds the buckets")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--no-fsync", action="store_true", help="skip fsync (survives kill -9, not power loss)"
    )
    parser.add_argument(
        "--tansu-retention", metavar="BUCKET", help="enforce topic retention on Tansu's storage in BUCKET"
    )
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    app = S3App(ObjectStore(args.root, fsync=not args.no_fsync), args.tansu_retention).app
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


if __name__ == "__main__":
    main()

"""The object server's HTTP side (``services/common/s3_server.py``): a Starlette app whose handlers
map the S3 requests Tansu and the blob store make onto an ``ObjectStore``, and, for Tansu's bucket,
the retention sweeps that run for the app's life."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.s3_protocol import (
    S3Error,
    byte_range,
    check_conditions,
    error_response,
    escape,
    quoted,
    xml_response,
)
from services.common.s3_store import ObjectStore


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
            return error_response(exc)

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
            return error_response(exc) if request.method != "HEAD" else Response(status_code=exc.status)

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
            result = f"<ETag>{quoted(tag)}</ETag><LastModified>{modified}</LastModified>"
            return xml_response("CopyObjectResult", [result])
        return Response(status_code=200, headers={"ETag": quoted(tag)})

    def get(self, request: Request, path: Path, head: bool) -> Response:
        found = self.store.stored(path)
        if found is None:
            raise S3Error(404, "NoSuchKey", "no such key")
        check_conditions(request, found.etag, reading=True)
        headers = {
            "ETag": quoted(found.etag),
            "Last-Modified": format_datetime(datetime.fromtimestamp(found.mtime, UTC), usegmt=True),
            "Accept-Ranges": "bytes",
        }
        span = byte_range(request.headers.get("range"), found.size)
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
            f"<Name>{bucket}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{str(truncated).lower()}</IsTruncated>",
            *contents,
            *(f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes),
        ]
        if delimiter:
            children.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        if truncated:
            children.append(f"<NextContinuationToken>{escape(last)}</NextContinuationToken>")
        return xml_response("ListBucketResult", children)

    async def delete_many(self, request: Request, bucket: str) -> Response:
        doc = ET.fromstring(await request.body())
        deleted = []
        for obj in doc.iter():
            if obj.tag.rsplit("}", 1)[-1] == "Key" and obj.text:
                self.store.delete(self.store.path(bucket, obj.text), obj.text)
                deleted.append(f"<Deleted><Key>{escape(obj.text)}</Key></Deleted>")
        return xml_response("DeleteResult", deleted)

"""Content-addressed blob store on S3 (or any S3-protocol server: MinIO, moto, s3rver) for clusters,
where the processes of a deployment share no disk.

Same URIs as the local store (``cas://sha256/<hex>``), so messages never name where bytes live and a
deployment can move between stores by copying objects. Objects are ``<prefix>sha256/<hex>``. A file
is hashed first and then uploaded (boto3's managed, multipart transfer for large files); an object
already there is not uploaded again. Reads for parsing download to a temporary file that is removed
when the parser is done with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from services.stores.blobs import SCHEME, BlobNotFound, _digest_of

_CHUNK = 1024 * 1024


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (bucket, "some/prefix/")."""
    if not url.startswith("s3://") or not url.removeprefix("s3://").split("/", 1)[0]:
        raise ValueError(f"not an S3 URL: {url!r} (expected s3://bucket[/prefix])")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, (prefix.strip("/") + "/") if prefix.strip("/") else ""


def _missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    def __init__(
        self,
        url: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        tmp_dir: Path | None = None,
    ) -> None:
        import boto3

        self.bucket, self.prefix = parse_s3_url(url)
        self._client = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
        self._tmp_dir = tmp_dir

    def _key(self, digest: str) -> str:
        return f"{self.prefix}sha256/{digest}"

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                return False
            raise
        return True

    def _put_file(self, path: Path) -> tuple[str, str, int]:
        sha, size = hashlib.sha256(), 0
        with open(path, "rb") as src:
            while block := src.read(_CHUNK):
                sha.update(block)
                size += len(block)
        digest = sha.hexdigest()
        if not self._exists(self._key(digest)):
            self._client.upload_file(str(path), self.bucket, self._key(digest))
        return SCHEME + digest, digest, size

    def _put_bytes(self, data: bytes) -> tuple[str, str, int]:
        digest = hashlib.sha256(data).hexdigest()
        if not self._exists(self._key(digest)):
            self._client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data)
        return SCHEME + digest, digest, len(data)

    async def put_file(self, path: str) -> tuple[str, str, int]:
        return await asyncio.to_thread(self._put_file, Path(path))

    async def put_bytes(self, data: bytes) -> tuple[str, str, int]:
        return await asyncio.to_thread(self._put_bytes, data)

    def _get(self, uri: str) -> bytes:
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(_digest_of(uri)))["Body"]
        except Exception as exc:
            if _missing(exc):
                raise BlobNotFound(f"blob {uri} is not in s3://{self.bucket}/{self.prefix}") from exc
            raise
        return bytes(body.read())

    async def get_bytes(self, uri: str) -> bytes:
        return await asyncio.to_thread(self._get, uri)

    def _download(self, uri: str, target: str) -> None:
        try:
            self._client.download_file(self.bucket, self._key(_digest_of(uri)), target)
        except Exception as exc:
            if _missing(exc):
                raise BlobNotFound(f"blob {uri} is not in s3://{self.bucket}/{self.prefix}") from exc
            raise

    @contextlib.asynccontextmanager
    async def local_file(self, uri: str) -> AsyncIterator[str]:
        fd, tmp = tempfile.mkstemp(prefix="ragstream-blob-", dir=self._tmp_dir)
        os.close(fd)
        try:
            await asyncio.to_thread(self._download, uri, tmp)
            yield tmp
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

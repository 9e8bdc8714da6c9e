"""The S3 blob store against a real S3-protocol server on loopback (moto's server mode): the same
content-addressed URIs as the local store, nothing uploaded twice, files handed to parsers and
removed afterwards, a clear BlobNotFound for what is not stored, and the pipeline parsing from it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from confluent_kafka import Consumer

import topics
from services.common.codec import make_codec
from services.common.messages import ChunkCreated
from services.common.settings import Settings, StoreSettings
from services.pipeline import run_pipeline
from services.publisher import DocumentPublisher
from services.stores.blobs import SCHEME, BlobNotFound, LocalBlobStore
from services.stores.blobs_s3 import S3BlobStore, parse_s3_url
from tests.support import s3_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with s3_server() as env, pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            mp.setenv(key, env[key])
        yield env


def store(s3: dict[str, str], tmp: Path | None = None) -> S3BlobStore:
    return S3BlobStore(s3["RAGSTREAM_STORES__BLOB_URL"], s3["RAGSTREAM_STORES__S3_ENDPOINT_URL"], tmp_dir=tmp)


def objects(s3: dict[str, str]) -> list[str]:
    client = boto3.client("s3", endpoint_url=s3["RAGSTREAM_STORES__S3_ENDPOINT_URL"])
    listed = client.list_objects_v2(Bucket="ragstream-test", Prefix="blobs/")
    return [o["Key"] for o in listed.get("Contents", [])]


async def test_same_uris_as_the_local_store_and_nothing_uploaded_twice(
    s3: dict[str, str], tmp_path: Path
) -> None:
    """A file and the same bytes give the local store's URI; storing them again adds no object."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    blobs = store(s3)
    uri, sha, size = await blobs.put_file(str(path))
    assert (uri, sha, size) == (
        SCHEME + hashlib.sha256(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    assert (await LocalBlobStore(tmp_path / "local").put_file(str(path)))[0] == uri
    before = objects(s3)
    assert (await blobs.put_bytes(data))[0] == uri
    assert objects(s3) == before
    assert f"blobs/sha256/{sha}" in before
    assert await blobs.get_bytes(uri) == data


async def test_a_large_file_round_trips_through_a_local_file_that_is_removed_after(
    s3: dict[str, str], tmp_path: Path
) -> None:
    """A 20 MB file (multipart upload) comes back byte for byte as a temporary file, gone afterwards."""
    data = os.urandom(20 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    blobs = store(s3, scratch)
    uri, _, _ = await blobs.put_file(str(tmp_path / "big.bin"))
    async with blobs.local_file(uri) as local:
        assert await asyncio.to_thread(Path(local).read_bytes) == data
    assert os.listdir(scratch) == []


async def test_a_missing_blob_is_blob_not_found(s3: dict[str, str], tmp_path: Path) -> None:
    """Reading what was never stored raises BlobNotFound (parse dead-letters it as missing_blob)."""
    blobs = store(s3, tmp_path)
    missing = SCHEME + "0" * 64
    with pytest.raises(BlobNotFound):
        await blobs.get_bytes(missing)
    with pytest.raises(BlobNotFound):
        async with blobs.local_file(missing):
            pass
    assert os.listdir(tmp_path) == []


def test_s3_urls_are_checked() -> None:
    """Bucket and prefix come from the URL; anything else is refused with the expected form."""
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b/")
    with pytest.raises(ValueError, match="s3://bucket"):
        parse_s3_url("https://bucket/a")


def chunks_on(bootstrap: str, topic: str, timeout_s: float = 60) -> list[ChunkCreated]:
    """Every chunk on the topic, read from the beginning until one arrives (or the timeout)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    codec, found, deadline = make_codec(None), [], time.monotonic() + timeout_s
    try:
        while not found and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                if not msg.error():
                    found.append(codec.decode(msg.value(), ChunkCreated, topic))
    finally:
        consumer.close()
    return found


async def test_the_pipeline_parses_and_chunks_documents_from_s3(
    s3: dict[str, str], settings: Settings, kafka_bootstrap: str
) -> None:
    """With blob_url set, a document published into S3 is parsed from there, its sections stored
    there, and chunked; nothing is written to the local blob directory."""
    settings.stores = StoreSettings(
        blob_url=s3["RAGSTREAM_STORES__BLOB_URL"], s3_endpoint_url=s3["RAGSTREAM_STORES__S3_ENDPOINT_URL"]
    )
    doc = settings.home / "note.md"
    doc.parent.mkdir(parents=True)
    doc.write_text("# Note\n\nThe Quillfeather archive opens on Mondays.\n")
    async with run_pipeline(settings, ("parse", "chunk"), bootstrap=kafka_bootstrap) as pipe:
        assert isinstance(pipe.blobs, S3BlobStore)
        publisher = DocumentPublisher(kafka_bootstrap, pipe.names, pipe.codec, pipe.blobs)
        await publisher.upsert(doc, "acme")
        publisher.flush()
        chunks = await asyncio.to_thread(chunks_on, kafka_bootstrap, pipe.names(topics.CHUNKS))
    assert [c.text for c in chunks if "Quillfeather" in c.text]
    assert not (settings.home / "data" / "blobs").exists()

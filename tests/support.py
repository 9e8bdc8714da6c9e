"""Test building blocks shared by several suites: the example documents indexed in-process into real
stores, and the whole embedded chat stack (pipeline, agent workers, gateway) with them ingested."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from services.chunk.chunker import TokenChunker
from services.common.settings import Settings
from services.extract_graph.extractor import RuleExtractor
from services.gateway import Gateway, GatewayConfig
from services.generations import Stack, run_stack
from services.index.app import Indexer
from services.index.ledger import SqliteLedger
from services.inprocess import discard, ingest_inprocess
from services.models.embedder import LocalEmbedder
from services.publisher import DocumentPublisher, OutcomeWatcher
from services.stores.blobs import LocalBlobStore
from services.stores.graph_falkor import FalkorGraphStore, FalkorServer
from services.stores.vectors_edge import EdgeVectorIndex
from topics import TopicNames

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "docs"
TENANT = "acme"


@contextlib.asynccontextmanager
async def loopback_app(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port unless given) for the block; yields
    its base URL. A real HTTP server: the tests' stand-in for model servers and search services."""
    import asyncio

    import uvicorn

    from services.common.tansu import free_port

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # the server failed to start: raise its error
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def docker_unavailable() -> str | None:
    """None when a Docker engine answers, else why not (testcontainers tests skip with it)."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        return f"no Docker engine reachable ({type(exc).__name__}: {exc})"
    return None


@contextlib.contextmanager
def s3_server(bucket: str = "ragstream-test") -> Iterator[dict[str, str]]:
    """moto's S3 server on loopback (a real S3-protocol endpoint; it keeps nothing on disk) with one
    bucket; yields the environment a process needs to use it as the blob store."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "RAGSTREAM_STORES__BLOB_URL": f"s3://{bucket}/blobs",
        "RAGSTREAM_STORES__S3_ENDPOINT_URL": f"http://{host}:{port}",
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["RAGSTREAM_STORES__S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=bucket)
    try:
        yield env
    finally:
        server.stop()


@dataclass
class IndexedStores:
    embedder: LocalEmbedder
    vectors: EdgeVectorIndex
    graph: FalkorGraphStore


@contextlib.asynccontextmanager
async def examples_indexed_inprocess(
    root: Path,
    tenant: str = TENANT,
    files: list[Path] | None = None,
    *,
    also: Sequence[str] = (),
    uri_of: Callable[[Path], str] | None = None,
) -> AsyncIterator[IndexedStores]:
    """examples/docs (or ``files``) run through the in-process stages into qdrant-edge and a
    FalkorDB child, for ``tenant`` and then for each tenant in ``also``; ``uri_of`` names each file
    (default: its file URI)."""
    embedder = LocalEmbedder()
    vectors = EdgeVectorIndex(root / "vectors")
    with FalkorServer(root / "graph") as server:
        graph = await FalkorGraphStore.connect(server.host, server.port)
        indexer = Indexer(discard, vectors, graph, SqliteLedger(root / "ledger.sqlite"), "chunks")
        naming = {"uri_of": uri_of} if uri_of is not None else {}
        for each in (tenant, *also):
            await ingest_inprocess(
                files or sorted(EXAMPLES.iterdir()),
                each,
                blobs=LocalBlobStore(root / "blobs"),
                chunker=TokenChunker(),
                embedder=embedder,
                extractor=RuleExtractor(),
                indexer=indexer,
                **naming,
            )
        try:
            yield IndexedStores(embedder, vectors, graph)
        finally:
            await graph.close()
            await vectors.close()


@contextlib.asynccontextmanager
async def chat_stack(
    bootstrap: str,
    home: Path,
    secret: str,
    label: str,
    settings: Settings | None = None,
    paths: list[Path] | None = None,
) -> AsyncIterator[tuple[Stack, Gateway]]:
    """The embedded stack on ``bootstrap`` with examples/docs (or ``paths``) published and indexed for
    TENANT through the streaming pipeline, and a gateway signing tokens with ``secret``. ``settings``
    may point the stack at model servers; by default it embeds in-process."""
    names = TopicNames(prefix=f"{label}-{uuid.uuid4().hex[:8]}.")
    settings = settings or Settings(home=home)
    settings.kafka.topic_prefix = names.prefix
    embedder = None if settings.models.embeddings_url else LocalEmbedder()
    async with run_stack(settings, bootstrap=bootstrap, names=names, embedder=embedder) as stack:
        watcher = OutcomeWatcher(stack.bootstrap, names, stack.front.codec)
        publisher = DocumentPublisher(stack.bootstrap, names, stack.front.codec, stack.front.blobs)
        subs = [await publisher.upsert(p, TENANT) for p in paths or sorted(EXAMPLES.iterdir())]
        publisher.flush()
        outcomes = await watcher.wait(subs, 180)
        watcher.close()
        assert {o.status for o in outcomes} == {"indexed"}, outcomes
        redis = Redis.from_url("redis://127.0.0.1:6379/0")
        config = GatewayConfig(
            redis_prefix=f"test:{label}:{uuid.uuid4().hex[:6]}:",
            request_timeout_s=settings.gateway.request_timeout_s,
        )
        try:
            async with Gateway(stack.bootstrap, names, secret, redis, config=config) as gateway:
                yield stack, gateway
        finally:
            await redis.aclose()

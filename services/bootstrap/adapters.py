"""The adapters behind every port, chosen in one place from settings: the broker (embedded Tansu or
an external Kafka), the blob store (a directory or S3), the vector index (qdrant-edge or a Qdrant
server), the graph store (a FalkorDB child, a running FalkorDB, or Neo4j), the embedder (in-process
or an OpenAI-compatible server) and the graph extractor (rules, or the LLM when one is set)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog

from services.common.settings import Settings
from services.common.tansu import ObjectServer, TansuBroker
from services.models.embedder import Embedder
from services.stores.blobs import LocalBlobStore
from services.stores.ports import BlobStore, GraphStore, VectorIndex

log = structlog.get_logger("ragstream.bootstrap")


@contextlib.asynccontextmanager
async def embedded_broker(settings: Settings) -> AsyncIterator[str]:
    """Yield a bootstrap address: the configured Kafka, or a Tansu started (and stopped) here."""
    if settings.kafka.bootstrap:
        yield settings.kafka.bootstrap
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    objects: ObjectServer | None = None
    if settings.kafka.storage == "durable":
        kafka = settings.kafka
        kafka.chat_fetch_max_wait_ms = max(kafka.chat_fetch_max_wait_ms, kafka.DURABLE_MIN_WAIT_MS)
        kafka.chat_idempotence = False
        objects = ObjectServer(settings.broker_dir, log_file=settings.home / "broker-storage.log").start()
        storage, env = f"s3://{objects.BUCKET}/", objects.tansu_env()
        tansu = TansuBroker(storage, log_file=settings.home / "tansu.log", env=env)
    else:
        tansu = TansuBroker(log_file=settings.home / "tansu.log")
    try:
        tansu.start()
        log.info("embedded broker started", bootstrap=tansu.bootstrap, storage=settings.kafka.storage)
        yield tansu.bootstrap
    finally:
        tansu.stop()
        if objects is not None:
            objects.stop()


@contextlib.asynccontextmanager
async def graph_store(settings: Settings, graph_name: str = "ragstream") -> AsyncIterator[GraphStore]:
    if settings.stores.neo4j_uri:
        from services.stores.graph_neo4j import Neo4jGraphStore

        store: Any = Neo4jGraphStore(
            settings.stores.neo4j_uri,
            settings.stores.neo4j_user,
            settings.stores.neo4j_password.get_secret_value(),
        )
        await store.open()
        try:
            yield store
        finally:
            await store.close()
        return
    from services.stores.graph_falkor import FalkorGraphStore, FalkorServer

    server: FalkorServer | None = None
    if settings.stores.falkordb_url:
        hostport = settings.stores.falkordb_url.removeprefix("redis://").rstrip("/")
        host, port = hostport.rsplit(":", 1)
    else:
        server = FalkorServer(settings.data_dir / "graph").start()
        host, port = server.host, str(server.port)
    store = await FalkorGraphStore.connect(host, int(port), graph=graph_name)
    try:
        yield store
    finally:
        await store.close()
        if server is not None:
            server.stop()


def blob_store(settings: Settings) -> BlobStore:
    """S3 when ``stores.blob_url`` names a bucket, else the local directory under home."""
    if settings.stores.blob_url:
        from services.stores.blobs_s3 import S3BlobStore

        return S3BlobStore(
            settings.stores.blob_url, settings.stores.s3_endpoint_url, settings.stores.s3_region
        )
    return LocalBlobStore(settings.blob_dir)


def vector_index(settings: Settings) -> VectorIndex:
    if settings.stores.qdrant_url:
        from services.stores.vectors_server import ServerVectorIndex

        key = settings.stores.qdrant_api_key
        return ServerVectorIndex(
            url=settings.stores.qdrant_url, api_key=key.get_secret_value() if key else None
        )
    from services.stores.vectors_edge import EdgeVectorIndex

    return EdgeVectorIndex(settings.data_dir / "vectors")


def embedder_for(settings: Settings) -> Embedder:
    models = settings.models
    if models.embeddings_url:
        from services.models.embedder import HttpEmbedder

        return HttpEmbedder(
            models.embeddings_url,
            models.embeddings_model,
            dim=models.embeddings_dim,
            api_key=models.embeddings_api_key.get_secret_value() if models.embeddings_api_key else None,
            batch_size=models.embed_batch_size,
        )
    from services.models.embedder import LocalEmbedder
    from services.models.precision import describe

    embedder = LocalEmbedder(precision=models.embedder_precision, question_lane=models.embedder_question_lane)
    log.info("embedder loaded", model=embedder.model, precision=describe(embedder.precision))
    return embedder


def graph_extractor(settings: Settings, stack: contextlib.AsyncExitStack) -> Any:
    """The LLM extractor when an LLM is configured (and ``llm_extract_graph``), else the rules."""
    from services.models.llm import chat_model_from

    llm = chat_model_from(settings.models) if settings.models.llm_extract_graph else None
    if llm is None:
        from services.extract_graph.extractor import RuleExtractor

        return RuleExtractor()
    from services.extract_graph.llm_extractor import LLMGraphExtractor

    stack.push_async_callback(llm.close)
    redis = settings.redis()
    stack.push_async_callback(redis.aclose)
    return LLMGraphExtractor(
        llm,
        redis,
        prefix=f"ragstream:{settings.kafka.topic_prefix}",
        concurrency=settings.models.llm_extract_concurrency,
        max_tokens=settings.models.llm_extract_max_tokens,
    )

"""The ingestion pipeline in this process: the stages asked for, on a FastStream broker, with the
adapters ``services.bootstrap.adapters`` chooses from settings (broker, topics, codec, stores, models).

``ragstream up`` runs every stage here; ``ragstream worker <stage>`` runs one (the same code, one
process per stage, as compose and Helm deploy it). Tests run it in-process against a shared broker
with a topic prefix so each test has its own topics and consumer groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import Any

import structlog
from faststream.confluent import KafkaBroker
from faststream.confluent.opentelemetry import KafkaTelemetryMiddleware
from faststream.confluent.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY

import topics
from services.bootstrap.adapters import (
    blob_store,
    embedded_broker,
    embedder_for,
    graph_extractor,
    graph_store,
    vector_index,
)
from services.common import kafka_conf
from services.common.codec import Codec, make_codec
from services.common.ids import CorrelationIds
from services.common.inflight import InFlight
from services.common.settings import Settings
from services.common.stage import GroupOf, StageContext, consumer_group
from services.roles import STAGES
from services.stores.ports import BlobStore
from topics import TopicNames
from topics.admin import ensure_topics

log = structlog.get_logger("ragstream.pipeline")


@dataclass
class Pipeline:
    settings: Settings
    bootstrap: str
    names: TopicNames
    codec: Codec
    broker: KafkaBroker
    blobs: BlobStore
    stages: tuple[str, ...]
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def vectors(self) -> Any:
        return self.resources.get("vectors")

    @property
    def graph(self) -> Any:
        return self.resources.get("graph")

    @property
    def embedder(self) -> Any:
        return self.resources.get("embedder")

    @property
    def context(self) -> StageContext:
        """The stages' shared runtime (retry policy, dead letters, backpressure state)."""
        ctx: StageContext = self.resources["context"]
        return ctx


@functools.cache
def _prometheus_middleware() -> KafkaPrometheusMiddleware:
    """One per process: its metrics register once in the default registry, whatever the broker count."""
    return KafkaPrometheusMiddleware(registry=REGISTRY, app_name="ragstream")


@contextlib.asynccontextmanager
async def run_pipeline(
    settings: Settings,
    stages: Collection[str] = STAGES,
    bootstrap: str | None = None,
    names: TopicNames | None = None,
    target_collection: str | None = None,
    group_suffix: str = "",
    graph_name: str = "ragstream",
    embedder: Any = None,
    vectors: Any = None,
    graph: Any = None,
    tracer_provider: Any = None,
    ledger: Any = None,
    parser: Any = None,
) -> AsyncIterator[Pipeline]:
    """Start the requested stages (and what they need); stop everything on exit.

    ``embedder``, ``vectors`` and ``graph`` let a caller share what it already holds (a loaded model;
    the stores, which only one process may open): an index generation started by a reindex runs
    beside the live one on the same stores, and a repair shares the live ``ledger`` too. ``parser``:
    the parse workers (a ``ParserPool``; default: one from the settings' limits). Shared objects are
    not closed here.
    ``tracer_provider``: OpenTelemetry provider for the spans (default: the global one); the trace
    context rides in message headers, so one document's trace spans every stage."""
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")
    names = names or TopicNames(settings.kafka.topic_prefix)
    kafka_conf.use(settings.kafka)
    async with contextlib.AsyncExitStack() as stack:
        if bootstrap is None:
            bootstrap = await stack.enter_async_context(embedded_broker(settings))
        created = ensure_topics(
            bootstrap, names, settings.kafka.partitions, settings.kafka.replication_factor
        )
        if created:
            log.info("topics created", count=len(created))
        broker = KafkaBroker(
            bootstrap,
            config=kafka_conf.security(),  # type: ignore[arg-type]
            client_id=settings.kafka.client_id,
            graceful_timeout=10.0,
            id_generator=CorrelationIds(),
            logger=None,
            enable_idempotence=True,
            acks="all",
            linger_ms=settings.kafka.linger_ms,
            middlewares=(
                KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
                _prometheus_middleware(),
            ),
        )
        codec = make_codec(settings.kafka.schema_registry_url)
        ctx = StageContext(
            broker, codec, names, settings.pipeline, settings.kafka, group_instance=settings.group_instance()
        )
        blobs = blob_store(settings)
        pipe = Pipeline(settings, bootstrap, names, codec, broker, blobs, tuple(stages))
        shared = {
            "embedder": embedder, "vectors": vectors, "graph": graph, "ledger": ledger, "parser": parser
        }  # fmt: skip
        pipe.resources |= {k: v for k, v in shared.items() if v is not None}
        pipe.resources["context"] = ctx
        runners = await _register(pipe, ctx, stack, target_collection, group_suffix, graph_name)
        await broker.start()
        stack.push_async_callback(_stop, broker, runners)
        log.info("pipeline running", stages=list(stages), bootstrap=bootstrap)
        yield pipe


async def _register(
    pipe: Pipeline,
    ctx: StageContext,
    stack: contextlib.AsyncExitStack,
    target_collection: str | None,
    group_suffix: str,
    graph_name: str,
) -> list[InFlight]:
    """Subscribe the pipeline's stages; the concurrent runners among them (drained at stop)."""
    settings, broker, names = pipe.settings, pipe.broker, pipe.names
    stages = set(pipe.stages)
    runners: list[InFlight] = []

    def group(stage: str) -> GroupOf:
        return lambda spec: consumer_group(names, stage, spec, group_suffix)

    if "parse" in stages:
        from services.parse import app as parse_app
        from services.parse.isolation import ParserPool

        limits = settings.pipeline
        parser = pipe.resources.get("parser")
        if parser is None:
            parser = ParserPool(limits.parse_workers, limits.parse_timeout_s, limits.parse_memory_mb)
            stack.callback(parser.close)
        runners.append(
            parse_app.register(broker, ctx, pipe.blobs, limits.max_document_bytes, group("parse"), parser)
        )
    if "chunk" in stages:
        from services.chunk import app as chunk_app
        from services.chunk.isolation import ChunkerPool

        chunker = ChunkerPool(
            settings.models.chunk_max_tokens,
            settings.models.chunk_overlap_tokens,
            timeout_s=settings.pipeline.chunk_timeout_s,
            memory_mb=settings.pipeline.chunk_memory_mb,
        )
        stack.callback(chunker.close)
        poll_ms = int((settings.pipeline.chunk_timeout_s + 60) * 1000)
        chunk_app.register(broker, ctx, pipe.blobs, chunker, group("chunk"), max(poll_ms, 300_000))
    if "embed" in stages:
        from services.embed import app as embed_app

        if pipe.embedder is None:
            embedder = embedder_for(settings)
            pipe.resources["embedder"] = embedder
            stack.push_async_callback(embedder.close)
        embed_app.register(broker, ctx, pipe.embedder, group("embed"))
    if "extract-graph" in stages:
        from services.extract_graph import app as extract_app

        extract_app.register(broker, ctx, graph_extractor(settings, stack), group("extract-graph"))
    if "index" in stages:
        from services.catchup import group_suffix as catchup_suffix
        from services.catchup import label_of
        from services.index import app as index_app
        from services.index.ledger import Ledger, PostgresLedger, SqliteLedger
        from services.index.recovery import GraphRecovery

        if pipe.vectors is None:
            pipe.resources["vectors"] = vector_index(settings)
            stack.push_async_callback(pipe.resources["vectors"].close)
        if pipe.graph is None:
            pipe.resources["graph"] = await stack.enter_async_context(graph_store(settings, graph_name))
        vectors, graph = pipe.vectors, pipe.graph

        async def open_ledger(suffix: str) -> Ledger:
            if settings.stores.postgres_dsn:
                dsn = settings.stores.postgres_dsn.get_secret_value()
                opened: Ledger = await PostgresLedger.connect(dsn, suffix)
            else:
                opened = SqliteLedger(settings.data_dir / "index" / f"ledger{suffix}.sqlite")
            stack.push_async_callback(opened.close)
            return opened

        ledger: Ledger
        if "ledger" in pipe.resources:
            ledger = pipe.resources["ledger"]  # shared (a repair): its owner closes it
        else:
            ledger = await open_ledger(group_suffix)
        alias = settings.stores.collection_alias
        # A generation catching up beside the one searches read (a reindex) skips what that one has
        # already replaced: the graph is shared (``Indexer.live``).
        serving = await vectors.resolve(alias) if target_collection else None
        live = None
        if serving is not None and serving != target_collection:
            live = await open_ledger(catchup_suffix(label_of(alias, serving)))

        async def announce(event: Any) -> None:
            # A generation still catching up (a reindex) is not what searches read: stay quiet
            # until the alias points at it, so "indexed" always means "searchable".
            if target_collection and await vectors.resolve(alias) != target_collection:
                return
            await ctx.publish(topics.INDEXED, event, key=event.doc_id)

        indexer = index_app.Indexer(announce, vectors, graph, ledger, alias, target_collection, live)
        pipe.resources["indexer"] = indexer
        graph_group = group("index")(topics.GRAPH)
        recovery = GraphRecovery(graph_group, await graph.checkpoints(graph_group))
        pipe.resources["graph_recovery"] = recovery
        index_app.register(broker, ctx, indexer, group("index"), recovery)
    return runners


async def _stop(broker: KafkaBroker, runners: list[InFlight]) -> None:
    """Let the work in flight finish (a few seconds; the rest is redelivered) and commit it, then stop."""
    await asyncio.gather(*(r.drain(5.0) for r in runners))
    await broker.stop()

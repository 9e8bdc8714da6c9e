"""The streaming pipeline on an embedded broker (memory or durable), timed from the first publish to
the last ``docs.indexed``; start-up (broker, topics, group joins) timed apart."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from bench.ingest import TENANT, WARMUP_TENANT, Figures
from services.roles import STAGES


def handle_seconds() -> dict[str, float]:
    """Cumulative handler time per stage label from the ``ragstream_handle_seconds`` histogram."""
    from prometheus_client import REGISTRY

    import services.common.stage  # noqa: F401  (registers the histogram)

    out = {}
    for stage in STAGES:
        value = REGISTRY.get_sample_value("ragstream_handle_seconds_sum", {"stage": stage})
        out[stage] = float(value or 0.0)
    return out


def handle_counts() -> dict[str, float]:
    from prometheus_client import REGISTRY

    return {
        stage: float(REGISTRY.get_sample_value("ragstream_handle_seconds_count", {"stage": stage}) or 0.0)
        for stage in STAGES
    }


async def publish_and_wait(
    pipe: Any, paths: list[Path], tenant: str, timeout_s: float
) -> tuple[list[Any], float, float, float]:
    """Publish ``paths``, wait for every outcome. Returns (outcomes, publish seconds, seconds from
    the first publish to the last outcome, seconds from the first publish to the first outcome)."""
    from services.publisher import DocumentPublisher, OutcomeWatcher

    watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)  # before publishing
    publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
    done_at: list[float] = []
    try:
        started = time.perf_counter()
        subs = [await publisher.upsert(p, tenant) for p in paths]
        publisher.flush()
        published = time.perf_counter() - started
        outcomes = await watcher.wait(
            subs, timeout_s, on_done=lambda _outcome: done_at.append(time.perf_counter())
        )
    finally:
        watcher.close()
    last = (max(done_at) if done_at else time.perf_counter()) - started
    first = (min(done_at) if done_at else last) - started
    return outcomes, published, last, first


async def bench_streaming(
    paths: list[Path],
    warmup: list[Path],
    embedder: Any,
    root: Path,
    partitions: int,
    storage: str = "memory",
) -> tuple[Figures, dict[str, Any]]:
    """The embedded stack's pipeline; ``storage`` is the embedded broker's (memory, or durable: on
    disk through the loopback object server, as `ragstream up` runs by default)."""
    from services.bootstrap.adapters import embedded_broker
    from services.common.settings import Settings
    from services.pipeline import run_pipeline
    from topics import TopicNames

    settings = Settings(home=root / "home")
    settings.kafka.partitions = partitions
    settings.kafka.storage = storage  # type: ignore[assignment]
    settings.home.mkdir(parents=True, exist_ok=True)
    names = TopicNames(prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    t0 = time.perf_counter()
    async with embedded_broker(settings) as bootstrap:
        broker_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        async with run_pipeline(settings, bootstrap=bootstrap, names=names, embedder=embedder) as pipe:
            pipeline_s = time.perf_counter() - t1
            t2 = time.perf_counter()
            warm, _, _, _ = await publish_and_wait(pipe, warmup, WARMUP_TENANT, 180)
            warmup_s = time.perf_counter() - t2
            if any(o.status != "indexed" for o in warm):
                raise RuntimeError(f"warm-up document not indexed: {warm}")

            before, before_n = handle_seconds(), handle_counts()
            outcomes, publish_s, seconds, first_s = await publish_and_wait(pipe, paths, TENANT, 900)
            await asyncio.sleep(0.5)  # let the handler that announced the last document record its time
            after, after_n = handle_seconds(), handle_counts()

            collection = await pipe.vectors.resolve("chunks")
            stored = await pipe.vectors.count(collection, must={"tenant": TENANT}) if collection else 0
            graph_stats = await pipe.graph.stats(TENANT)
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    indexed = [o for o in outcomes if o.status == "indexed"]
    figures = Figures(
        "streaming" if storage == "memory" else f"streaming-{storage}",
        len(indexed),
        sum(o.chunks for o in indexed),
        seconds,
        stages={s: after[s] - before[s] for s in STAGES},
        extra={
            "startup_seconds": round(broker_s + pipeline_s + warmup_s, 3),
            "startup": {
                "broker_start": round(broker_s, 3),
                "pipeline_start (topics, stores, consumers)": round(pipeline_s, 3),
                "warmup_round_trip (group joins)": round(warmup_s, 3),
            },
            "publish_seconds": round(publish_s, 3),
            "first_indexed_seconds": round(first_s, 3),
            "handler_calls": {s: int(after_n[s] - before_n[s]) for s in STAGES},
            "statuses": statuses,
        },
    )
    check = {
        "stored_chunks": stored,
        "graph": graph_stats,
        "per_doc": {o.submission.path: o.chunks for o in indexed},
    }
    return figures, check

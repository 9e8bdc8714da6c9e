"""The in-process stages (no Kafka) into fresh stores: the baseline the streaming pipeline is held to."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.ingest import EMBED_BATCH, TENANT, WARMUP_TENANT, Figures


async def bench_inprocess(
    paths: list[Path], warmup: list[Path], embedder: Any, root: Path
) -> tuple[Figures, dict[str, Any]]:
    from services.chunk.chunker import TokenChunker
    from services.extract_graph.extractor import RuleExtractor
    from services.index.app import Indexer
    from services.index.ledger import SqliteLedger
    from services.inprocess import discard, ingest_inprocess
    from services.stores.blobs import LocalBlobStore
    from services.stores.graph_falkor import FalkorGraphStore, FalkorServer
    from services.stores.vectors_edge import EdgeVectorIndex

    t0 = time.perf_counter()
    vectors = EdgeVectorIndex(root / "vectors")
    ledger = SqliteLedger(root / "ledger.sqlite")
    with FalkorServer(root / "graph") as server:
        graph = await FalkorGraphStore.connect(server.host, server.port, graph="inprocess")
        indexer = Indexer(discard, vectors, graph, ledger, "chunks")
        common: dict[str, Any] = {
            "blobs": LocalBlobStore(root / "blobs"),
            "chunker": TokenChunker(),
            "embedder": embedder,
            "extractor": RuleExtractor(),
            "indexer": indexer,
            "batch_size": EMBED_BATCH,
        }
        await ingest_inprocess(warmup, WARMUP_TENANT, **common)
        startup = time.perf_counter() - t0

        started = time.perf_counter()
        report = await ingest_inprocess(paths, TENANT, **common)
        seconds = time.perf_counter() - started

        collection = await vectors.resolve("chunks")
        assert collection is not None
        stored = await vectors.count(collection, must={"tenant": TENANT})
        graph_stats = await graph.stats(TENANT)
        await graph.close()
    await vectors.close()
    await ledger.close()
    figures = Figures(
        "in-process",
        len(report.indexed),
        report.chunks,
        seconds,
        stages=dict(report.seconds),
        extra={
            "startup_seconds": round(startup, 3),
            "failed": dict(report.failed),
            "embed_calls": sum(-(-n // EMBED_BATCH) for n in report.indexed.values()),
        },
    )
    check = {
        "stored_chunks": stored,
        "graph": graph_stats,
        "per_doc": dict(report.indexed),
    }
    return figures, check

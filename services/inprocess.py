"""The same ingestion stages called directly, without Kafka: the reference the streaming pipeline is
tested against (same chunks, same entities) and the baseline of ``bench/ingest``."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from services.chunk.app import chunk, in_thread
from services.chunk.chunker import TokenChunker
from services.common import ids
from services.common.messages import ChunkCreated, DocumentIndexed, DocumentSubmitted, GraphExtracted
from services.common.stage import PoisonMessage
from services.embed.app import embed
from services.extract_graph.app import extract_one
from services.extract_graph.extractor import GraphExtractor
from services.index.app import Indexer
from services.models.embedder import Embedder
from services.parse.app import parse
from services.publisher import source_uri
from services.stores.ports import BlobStore


@dataclass
class InProcessReport:
    indexed: dict[str, int] = field(default_factory=dict)  # path -> chunks
    failed: dict[str, str] = field(default_factory=dict)  # path -> reason
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # stage -> time

    @property
    def chunks(self) -> int:
        return sum(self.indexed.values())


async def ingest_inprocess(
    paths: Iterable[Path],
    tenant: str,
    *,
    blobs: BlobStore,
    chunker: TokenChunker,
    embedder: Embedder,
    extractor: GraphExtractor,
    indexer: Indexer,
    max_bytes: int = 512 * 1024 * 1024,
    batch_size: int = 64,
    uri_of: Callable[[Path], str] = source_uri,
) -> InProcessReport:
    """Each path through parse → chunk → embed → extract → index, in order. ``uri_of`` names a file
    (its document id derives from it): by default its file URI, as `ragstream publish` names it."""
    report = InProcessReport()
    name = type(extractor).__name__
    for path in paths:
        started = time.perf_counter()
        blob_uri, sha, size = await blobs.put_file(str(path))
        uri = uri_of(path)
        submitted = DocumentSubmitted(
            tenant=tenant,
            doc_id=ids.doc_id(tenant, uri),
            source_uri=uri,
            filename=path.name,
            blob_uri=blob_uri,
            sha256=sha,
            size_bytes=size,
            submitted_at=datetime.now(UTC),
        )
        report.seconds["publish"] += time.perf_counter() - started
        try:
            t = time.perf_counter()
            parsed = await parse(submitted, blobs, max_bytes)
            report.seconds["parse"] += time.perf_counter() - t
            t = time.perf_counter()
            chunks: list[ChunkCreated] = await chunk(parsed, blobs, in_thread(chunker))
            report.seconds["chunk"] += time.perf_counter() - t
        except PoisonMessage as exc:
            report.failed[str(path)] = exc.reason
            continue
        for start in range(0, len(chunks), batch_size):
            window = chunks[start : start + batch_size]
            t = time.perf_counter()
            embedded = await embed(window, embedder)
            report.seconds["embed"] += time.perf_counter() - t
            t = time.perf_counter()
            extracted = await asyncio.to_thread(_extract_all, window, extractor, name)
            report.seconds["extract-graph"] += time.perf_counter() - t
            t = time.perf_counter()
            await indexer.on_embedded(embedded)
            await indexer.on_graph(extracted)
            report.seconds["index"] += time.perf_counter() - t
        report.indexed[str(path)] = len(chunks)
    return report


def _extract_all(chunks: list[ChunkCreated], extractor: GraphExtractor, name: str) -> list[GraphExtracted]:
    return [extract_one(c, extractor, name) for c in chunks]


async def discard(_: DocumentIndexed) -> None:
    """An ``announce`` for in-process runs: nobody listens for DocumentIndexed."""

"""A 100 MB PDF flows through the pipeline: its bytes travel by claim check, so every Kafka message
stays small, and its text is indexed like any other document."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from pypdf import PdfWriter

import topics
from bench.corpus import generate_large_pdf
from services.chunk.chunker import TokenChunker
from services.common.settings import Settings
from services.models.embedder import LocalEmbedder
from services.parse.parsers import parse_document
from services.pipeline import run_pipeline
from services.publisher import DocumentPublisher, OutcomeWatcher
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def hundred_megabyte_pdf(tmp_path: Path) -> Path:
    """30 pages of text plus 100 MiB of embedded binary, like a scanned report with its raw scan."""
    base = generate_large_pdf(tmp_path / "base.pdf", pages=30)
    writer = PdfWriter(clone_from=str(base))
    writer.add_attachment("scan.bin", os.urandom(100 * 1024 * 1024))
    path = tmp_path / "annual-report-with-scan.pdf"
    with open(path, "wb") as out:
        writer.write(out)
    return path


def largest_message(bootstrap: str, topic: str) -> int:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "size-check", "enable.auto.commit": False}
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        sizes = [len(m.value() or b"") for m in consumer.consume(1000, 3.0) if m.error() is None]
        assert sizes, f"no messages on {topic}"
        return max(sizes)
    finally:
        consumer.close()


async def test_a_100_mb_pdf_is_indexed_through_small_messages(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The 100 MB file is indexed with the chunks its text gives; no Kafka message exceeds 64 KB."""
    pdf = hundred_megabyte_pdf(tmp_path)
    assert pdf.stat().st_size > 100 * 1024 * 1024
    expected = len(TokenChunker().chunk(parse_document(pdf, pdf.name).sections))
    names = TopicNames(prefix=f"big-{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path / "stack")
    async with run_pipeline(
        settings, bootstrap=kafka_bootstrap, names=names, embedder=LocalEmbedder()
    ) as pipe:
        watcher = OutcomeWatcher(pipe.bootstrap, names, pipe.codec)
        publisher = DocumentPublisher(pipe.bootstrap, names, pipe.codec, pipe.blobs)
        sub = await publisher.upsert(pdf, "acme")
        publisher.flush()
        [outcome] = await watcher.wait([sub], 300)
        watcher.close()
        assert (outcome.status, outcome.chunks) == ("indexed", expected)
        assert await pipe.vectors.count("chunks_v1", must={"doc_id": sub.doc_id}) == expected
    for spec in (topics.INGEST, topics.PARSED, topics.CHUNKS, topics.EMBEDDED):
        assert largest_message(kafka_bootstrap, names(spec)) < 64 * 1024

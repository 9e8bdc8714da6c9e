"""Traces ride in message headers: one document's spans in parse and chunk share a trace id."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common.settings import Settings
from services.pipeline import run_pipeline
from services.publisher import DocumentPublisher
from topics import TopicNames

pytestmark = pytest.mark.integration


async def test_one_trace_spans_parse_and_chunk(
    kafka_bootstrap: str, names: TopicNames, settings: Settings, tmp_path: Path
) -> None:
    """The span of the chunk stage continues the trace started when parse handled the document."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    doc = tmp_path / "note.txt"
    doc.write_text("Ada Lovelace works for Analytical Engines Ltd. It is based in London.\n")
    async with run_pipeline(
        settings, ("parse", "chunk"), bootstrap=kafka_bootstrap, names=names, tracer_provider=provider
    ) as pipe:
        publisher = DocumentPublisher(pipe.bootstrap, names, pipe.codec, pipe.blobs)
        await publisher.upsert(doc, "t")
        publisher.flush()
        chunk_topic = names.prefix + "docs.chunks"
        for _ in range(200):
            spans = exporter.get_finished_spans()
            if any(
                chunk_topic in s.name and s.attributes.get("messaging.operation") == "publish" for s in spans
            ):
                break
            await asyncio.sleep(0.1)
    spans = exporter.get_finished_spans()
    parse_spans = [s for s in spans if (names.prefix + "docs.ingest") in s.name]
    chunk_spans = [s for s in spans if (names.prefix + "docs.parsed") in s.name]
    assert parse_spans, [s.name for s in spans]
    assert chunk_spans, [s.name for s in spans]
    parse_traces = {s.context.trace_id for s in parse_spans}
    chunk_traces = {s.context.trace_id for s in chunk_spans}
    assert parse_traces & chunk_traces, "the chunk stage started a new trace instead of continuing"

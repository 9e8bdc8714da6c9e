"""parse: docs.ingest → docs.parsed. Reads the claim-checked bytes, extracts sections, stores them
as a JSON blob (a 100 MB PDF's text would not fit a Kafka message) and announces the version.

Documents are parsed concurrently, one per parse worker process (``InFlight``, commits in offset
order): a document that runs into its time limit holds one worker, the others keep flowing. Two
versions of one document (same key) are still parsed in order."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

from confluent_kafka import Message
from faststream import AckPolicy
from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage

import topics
from services.common.inflight import InFlight
from services.common.messages import DocumentParsed, DocumentSubmitted
from services.common.stage import GroupOf, PoisonMessage, StageContext
from services.parse.isolation import ParserPool
from services.parse.parsers import ParseError, parse_document
from services.stores.blobs import BlobNotFound
from services.stores.ports import BlobStore

STAGE = "parse"


async def parse(
    record: DocumentSubmitted, blobs: BlobStore, max_bytes: int, parser: ParserPool | None = None
) -> DocumentParsed:
    """``parser``: the worker processes that bound time and memory (the stage); None parses in a
    thread of this process (the in-process baseline, on trusted files)."""
    common = {
        "tenant": record.tenant,
        "doc_id": record.doc_id,
        "operation": record.operation,
        "source_uri": record.source_uri,
        "filename": record.filename,
        "submitted_at": record.submitted_at,
    }
    if record.operation == "DELETE":
        return DocumentParsed(version="", **common)
    if not record.blob_uri or not record.sha256:
        raise PoisonMessage("missing_blob", "an UPSERT needs blob_uri and sha256")
    if record.size_bytes > max_bytes:
        raise PoisonMessage("too_large", f"{record.size_bytes} bytes > limit {max_bytes}")
    try:
        async with blobs.local_file(record.blob_uri) as path:
            if parser is None:
                parsed = await asyncio.to_thread(
                    parse_document, path, record.filename, record.content_type, max_bytes=max_bytes
                )
            else:
                parsed = await parser.parse(Path(path), record.filename, record.content_type, max_bytes)
    except BlobNotFound as exc:
        raise PoisonMessage("missing_blob", f"{record.blob_uri} is not in the blob store") from exc
    except ParseError as exc:
        raise PoisonMessage(exc.reason, str(exc)) from exc
    payload = json.dumps([asdict(s) for s in parsed.sections], ensure_ascii=False).encode()
    sections_uri, _, _ = await blobs.put_bytes(payload)
    return DocumentParsed(
        version=record.sha256,
        title=parsed.title,
        content_type=parsed.content_type,
        sections_uri=sections_uri,
        page_count=parsed.page_count,
        section_count=len(parsed.sections),
        char_count=sum(len(s.text) for s in parsed.sections),
        **common,
    )


def register(
    broker: KafkaBroker,
    ctx: StageContext,
    blobs: BlobStore,
    max_bytes: int,
    group: GroupOf,
    parser: ParserPool,
) -> InFlight:
    """The parse subscriber; the returned runner is drained at shutdown (``InFlight.drain``)."""

    async def handle(raw: Message) -> None:
        async def run(record: DocumentSubmitted) -> None:
            parsed = await parse(record, blobs, max_bytes, parser)
            await ctx.publish(topics.PARSED, parsed, key=parsed.doc_id)

        await ctx.handle_one(STAGE, topics.INGEST, raw, run)

    inflight = InFlight(STAGE, parser.workers, handle)
    options = ctx.subscriber_options(group(topics.INGEST)) | {"ack_policy": AckPolicy.MANUAL}

    @broker.subscriber(ctx.names(topics.INGEST), **options)
    async def on_document_submitted(msg: KafkaMessage) -> None:
        await inflight.submit(msg)

    return inflight

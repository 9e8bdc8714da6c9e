"""chunk: docs.parsed → docs.chunks. Token-aware chunks of one document version, each with a
deterministic id, ordinal and the version's chunk count (the index uses it to know when a document
is complete)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator

from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage

import topics
from services.chunk.chunker import TextChunk, TokenChunker
from services.common import ids
from services.common.messages import ChunkCreated, DocumentParsed
from services.common.stage import GroupOf, PoisonMessage, StageContext
from services.parse.parsers import Section
from services.stores.ports import BlobStore

STAGE = "chunk"


def delete_marker(record: DocumentParsed) -> ChunkCreated:
    """A DELETE rides the chunk topics as a textless record, keeping per-document order."""
    return ChunkCreated(
        tenant=record.tenant,
        doc_id=record.doc_id,
        version=record.version,
        operation="DELETE",
        chunk_id="",
        ordinal=0,
        chunk_count=0,
        text="",
        text_sha256="",
        source_uri=record.source_uri,
        filename=record.filename,
        submitted_at=record.submitted_at,
    )


Chunker = Callable[[bytes], Awaitable[list[TextChunk]]]  # stored sections (JSON) → chunks


def in_thread(chunker: TokenChunker) -> Chunker:
    """Chunk in a thread of this process (the in-process baseline; the stage uses ``ChunkerPool``)."""

    async def run(stored: bytes) -> list[TextChunk]:
        return await asyncio.to_thread(chunk_stored_with, chunker, stored)

    return run


def chunk_stored_with(chunker: TokenChunker, stored: bytes) -> list[TextChunk]:
    sections = [Section(text=s["text"], page=s.get("page"), title=s.get("title")) for s in json.loads(stored)]
    return chunker.chunk(sections)


async def chunk(record: DocumentParsed, blobs: BlobStore, chunker: Chunker) -> list[ChunkCreated]:
    if record.operation == "DELETE":
        return [delete_marker(record)]
    if not record.sections_uri:
        raise PoisonMessage("missing_blob", "parsed document without sections_uri")
    pieces = await chunker(await blobs.get_bytes(record.sections_uri))
    if not pieces:
        raise PoisonMessage("empty", "the document has no text to chunk")
    return await asyncio.to_thread(_records, record, pieces)  # 180,000 of them for a 50 MB text


def _records(record: DocumentParsed, pieces: list[TextChunk]) -> list[ChunkCreated]:
    return [
        ChunkCreated(
            tenant=record.tenant,
            doc_id=record.doc_id,
            version=record.version,
            operation="UPSERT",
            chunk_id=ids.chunk_id(record.doc_id, record.version, piece.ordinal, piece.text_sha256),
            ordinal=piece.ordinal,
            chunk_count=len(pieces),
            text=piece.text,
            text_sha256=piece.text_sha256,
            token_count=piece.token_count,
            page=piece.page,
            section=piece.section,
            source_uri=record.source_uri,
            filename=record.filename,
            title=record.title,
            content_type=record.content_type,
            submitted_at=record.submitted_at,
        )
        for piece in pieces
    ]


def _keyed(chunks: list[ChunkCreated]) -> Iterator[tuple[str, ChunkCreated]]:
    return ((c.doc_id, c) for c in chunks)


def register(
    broker: KafkaBroker,
    ctx: StageContext,
    blobs: BlobStore,
    chunker: Chunker,
    group: GroupOf,
    poll_interval_ms: int = 300_000,
) -> None:
    # one document may take its whole chunking time limit: the group must not take it away meanwhile
    options = ctx.subscriber_options(group(topics.PARSED)) | {"max_poll_interval_ms": poll_interval_ms}

    @broker.subscriber(ctx.names(topics.PARSED), **options)
    async def on_document_parsed(msg: KafkaMessage) -> None:
        async def handle(record: DocumentParsed) -> None:
            await ctx.publish_many(topics.CHUNKS, _keyed(await chunk(record, blobs, chunker)))

        await ctx.handle_one(STAGE, topics.PARSED, msg, handle)

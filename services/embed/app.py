"""embed: docs.chunks → docs.embedded, in batches (one forward pass per poll)."""

from __future__ import annotations

from typing import Protocol

from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage

import topics
from services.common.messages import ChunkCreated, ChunkEmbedded
from services.common.stage import GroupOf, StageContext
from services.models.embedder import Embedder

STAGE = "embed"


class Placed(Protocol):
    """A chunk's text and where it sits (a ``ChunkCreated``; the ingest bench's raw embedder builds one
    so that it embeds what the pipeline embeds)."""

    @property
    def title(self) -> str | None: ...
    @property
    def section(self) -> str | None: ...
    @property
    def text(self) -> str: ...


def heading(chunk: Placed) -> str:
    """What a chunk is about, from where it sits: its document's title and its section's heading
    (each once, and not when the text already starts with it)."""
    parts: list[str] = []
    for part in (chunk.title, chunk.section):
        part = " ".join((part or "").split())
        if part and part not in parts and not chunk.text.lstrip("# ").startswith(part):
            parts.append(part)
    return " — ".join(parts)


def read_as(chunk: Placed) -> str:
    """The text the embedder reads for a chunk: its heading, then its text. A chunk that says "The limit
    is EUR 160 per night" is about hotels only because its section says so: contextual retrieval
    without an LLM (issue 11.4)."""
    head = heading(chunk)
    return f"{head}\n\n{chunk.text}" if head else chunk.text


async def embed(records: list[ChunkCreated], embedder: Embedder) -> list[ChunkEmbedded]:
    upserts = [r for r in records if r.operation == "UPSERT"]
    vectors = iter(await embedder.embed([read_as(r) for r in upserts]))
    return [
        ChunkEmbedded(
            chunk=r,
            vector=next(vectors) if r.operation == "UPSERT" else [],
            model=embedder.model,
            dim=embedder.dim,
        )
        for r in records
    ]


def register(broker: KafkaBroker, ctx: StageContext, embedder: Embedder, group: GroupOf) -> None:
    @broker.subscriber(ctx.names(topics.CHUNKS), **ctx.subscriber_options(group(topics.CHUNKS), batch=True))
    async def on_chunks(msg: KafkaMessage) -> None:
        async def handle(records: list[ChunkCreated]) -> None:
            out = await embed(records, embedder)
            await ctx.publish_many(topics.EMBEDDED, ((e.chunk.doc_id, e) for e in out))

        await ctx.handle_batch(STAGE, topics.CHUNKS, msg, handle)

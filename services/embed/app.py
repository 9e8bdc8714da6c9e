"""embed: docs.chunks → docs.embedded, in batches (one forward pass per poll)."""

from __future__ import annotations

from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage

import topics
from services.common.messages import ChunkCreated, ChunkEmbedded
from services.common.stage import GroupOf, StageContext
from services.models.embedder import Embedder

STAGE = "embed"


async def embed(records: list[ChunkCreated], embedder: Embedder) -> list[ChunkEmbedded]:
    upserts = [r for r in records if r.operation == "UPSERT"]
    vectors = iter(await embedder.embed([r.text for r in upserts]))
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

"""extract-graph: docs.chunks → docs.graph. Entities and relations per chunk, restricted to the
declared schema; the extractor is a port (rules offline, an LLM with guided JSON later)."""

from __future__ import annotations

import asyncio

from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage

import topics
from services.common.messages import ChunkCreated, EntityMention, GraphExtracted, RelationMention
from services.common.stage import GroupOf, StageContext
from services.extract_graph.extractor import GraphExtractor

STAGE = "extract-graph"


def extract_one(record: ChunkCreated, extractor: GraphExtractor, name: str) -> GraphExtracted:
    if record.operation == "DELETE":
        return GraphExtracted(chunk=record, entities=[], relations=[], extractor=name)
    found = extractor.extract(record.text)
    return GraphExtracted(
        chunk=record,
        entities=[EntityMention(name=e.name, label=e.label) for e in found.entities],
        relations=[
            RelationMention(
                source=EntityMention(name=r.source.name, label=r.source.label),
                type=r.type,
                target=EntityMention(name=r.target.name, label=r.target.label),
            )
            for r in found.relations
        ],
        extractor=name,
    )


def register(broker: KafkaBroker, ctx: StageContext, extractor: GraphExtractor, group: GroupOf) -> None:
    name = type(extractor).__name__

    @broker.subscriber(ctx.names(topics.CHUNKS), **ctx.subscriber_options(group(topics.CHUNKS), batch=True))
    async def on_chunks(msg: KafkaMessage) -> None:
        async def handle(records: list[ChunkCreated]) -> None:
            out = await asyncio.to_thread(lambda: [extract_one(r, extractor, name) for r in records])
            await ctx.publish_many(topics.GRAPH, ((g.chunk.doc_id, g) for g in out))

        await ctx.handle_batch(STAGE, topics.CHUNKS, msg.raw_message, handle)

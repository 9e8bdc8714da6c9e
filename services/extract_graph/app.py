"""extract-graph: docs.chunks → docs.graph. Entities and relations per chunk, restricted to the
declared schema; the extractor is the rules offline, or an LLM with guided JSON when one is configured
(``services/extract_graph/llm_extractor.py``: grounded in the text, cached per chunk hash and model)."""

from __future__ import annotations

import asyncio
import math

from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage

import topics
from services.common.messages import ChunkCreated, EntityMention, GraphExtracted, RelationMention
from services.common.stage import GroupOf, StageContext
from services.extract_graph.extractor import Extraction, GraphExtractor
from services.extract_graph.llm_extractor import LLMGraphExtractor

STAGE = "extract-graph"


def extract_one(record: ChunkCreated, extractor: GraphExtractor, name: str) -> GraphExtracted:
    if record.operation == "DELETE":
        return GraphExtracted(chunk=record, entities=[], relations=[], extractor=name)
    return to_record(record, extractor.extract(record.text), name)


def to_record(record: ChunkCreated, found: Extraction, name: str) -> GraphExtracted:
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


async def extract_batch(
    records: list[ChunkCreated], extractor: GraphExtractor | LLMGraphExtractor
) -> list[GraphExtracted]:
    """Extract a batch: the LLM extractor concurrently (it awaits the model), the rules in a thread."""
    if isinstance(extractor, LLMGraphExtractor):
        live = [r for r in records if r.operation != "DELETE"]
        found = iter(await extractor.extract_many([r.text for r in live]))
        out = []
        for r in records:
            if r.operation == "DELETE":
                out.append(GraphExtracted(chunk=r, entities=[], relations=[], extractor=extractor.name))
            else:
                result = next(found)
                out.append(to_record(r, result.extraction, result.extractor))
        return out
    name = type(extractor).__name__
    return await asyncio.to_thread(lambda: [extract_one(r, extractor, name) for r in records])


def register(
    broker: KafkaBroker, ctx: StageContext, extractor: GraphExtractor | LLMGraphExtractor, group: GroupOf
) -> None:

    options = ctx.subscriber_options(group(topics.CHUNKS), batch=True)
    if isinstance(extractor, LLMGraphExtractor):
        # a batch of a few hundred chunks asks the model a few hundred times, a few at once, each call
        # within its deadline: the group must not take the batch away meanwhile
        rounds = math.ceil(options["max_records"] / extractor.concurrency)
        deadline_s = getattr(extractor.llm, "deadline_s", 150.0)
        options["max_poll_interval_ms"] = int((rounds * deadline_s + 60) * 1000)

    @broker.subscriber(ctx.names(topics.CHUNKS), **options)
    async def on_chunks(msg: KafkaMessage) -> None:
        async def handle(records: list[ChunkCreated]) -> None:
            out = await extract_batch(records, extractor)
            await ctx.publish_many(topics.GRAPH, ((g.chunk.doc_id, g) for g in out))

        await ctx.handle_batch(STAGE, topics.CHUNKS, msg, handle)

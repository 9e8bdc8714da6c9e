"""index: docs.embedded + docs.graph → Qdrant + graph store → docs.indexed.

Writes are idempotent (point id = uuid5(chunk_id), graph MERGE on stable keys). A document version
is complete when both stores hold ``chunk_count`` chunks of it; then the other versions of that
document are pruned from both stores (an update replaces, never accumulates) and ``DocumentIndexed``
is published. Each handler writes before it checks, so whichever finishes last sees completion.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import structlog
from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage
from prometheus_client import Histogram

import topics
from services.common.messages import ChunkCreated, ChunkEmbedded, DocumentIndexed, GraphExtracted
from services.common.stage import MESSAGES, GroupOf, PoisonMessage, StageContext, as_list, raw_of
from services.index.ledger import Ledger
from services.index.recovery import GraphRecovery, positions_after
from services.stores.hybrid import CollectionNotFoundError
from services.stores.ports import ChunkFacts, Entity, GraphStore, Relation, VectorIndex, VectorPoint

STAGE = "index"
log = structlog.get_logger("ragstream.index")

# Publish to queryable: from the submission's time (stamped by the publisher) to the moment the last of
# the version's chunks and facts is in both stores. Observed where the version completes, so a
# redelivered completion may count twice; the buckets are what a user notices, up to an hour.
FRESHNESS = Histogram(
    "ragstream_freshness_seconds",
    "Seconds from a document's submission to its version being queryable (or removed)",
    ["operation"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


def revision(chunk: ChunkCreated) -> int:
    return int(chunk.submitted_at.timestamp() * 1000)


def payload(chunk: ChunkCreated) -> dict[str, object]:
    return {
        "tenant": chunk.tenant,
        "doc_id": chunk.doc_id,
        "version": chunk.version,
        "chunk_id": chunk.chunk_id,
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "page": chunk.page,
        "section": chunk.section,
        "source_uri": chunk.source_uri,
        "filename": chunk.filename,
        "title": chunk.title,
        "content_type": chunk.content_type,
        "revision": revision(chunk),
    }


def facts(extracted: GraphExtracted) -> ChunkFacts:
    c = extracted.chunk
    return ChunkFacts(
        tenant=c.tenant,
        doc_id=c.doc_id,
        version=c.version,
        chunk_id=c.chunk_id,
        entities=tuple(Entity(e.name, e.label) for e in extracted.entities),
        relations=tuple(
            Relation(Entity(r.source.name, r.source.label), r.type, Entity(r.target.name, r.target.label))
            for r in extracted.relations
        ),
    )


class Indexer:
    def __init__(
        self,
        announce: Callable[[DocumentIndexed], Awaitable[None]],
        vectors: VectorIndex,
        graph: GraphStore,
        ledger: Ledger,
        alias: str,
        target: str | None = None,
        live: Ledger | None = None,
    ) -> None:
        self.announce = announce
        self.vectors = vectors
        self.graph = graph
        self.ledger = ledger
        self.alias = alias
        self.target = target  # a reindex writes into a named new version; None = wherever the alias points
        # A reindex generation catching up: the ledger of the generation searches read. The graph is
        # shared, so a version the live generation already replaced is skipped here, not written
        # (its facts back into the live graph) and completed (pruning the live version's).
        self.live = live
        self._collection: str | None = None
        self._model: str | None = None

    async def collection(self, dim: int, model: str | None = None) -> str:
        """The collection this indexer writes, created on first use; vectors of another model than
        the one it was built with are poison (dead-lettered with the reason: reindex, then replay)."""
        try:
            if self._collection is None:
                name = self.target or await self.vectors.resolve(self.alias)
                if name is None:
                    name = f"{self.alias}_v1"
                    await self.vectors.ensure_collection(name, dim, model)
                    await self.vectors.set_alias(self.alias, name)
                    log.info(
                        "created first index version", collection=name, alias=self.alias, dim=dim, model=model
                    )
                else:
                    await self.vectors.ensure_collection(name, dim, model)
                self._collection, self._model = name, model
            elif model != self._model:
                await self.vectors.ensure_collection(self._collection, dim, model)
        except ValueError as exc:
            raise PoisonMessage("index-model-mismatch", str(exc)) from exc
        return self._collection

    async def _current(self, chunk: ChunkCreated) -> bool:
        fresh = await self.ledger.observe(
            chunk.tenant, chunk.doc_id, revision(chunk), chunk.version, chunk.operation
        )
        fresh = fresh and await self._newest_in(self.live, chunk)
        if not fresh:
            MESSAGES.labels(STAGE, "stale_skipped").inc()
        return fresh

    async def _newest_in(self, ledger: Ledger | None, chunk: ChunkCreated) -> bool:
        """Whether ``ledger`` knows no newer revision of the chunk's document (read only)."""
        newest = await ledger.revision(chunk.doc_id) if ledger is not None else None
        return newest is None or newest <= revision(chunk)

    async def _still_newest(self, chunk: ChunkCreated) -> bool:
        """Asked again before a prune or a delete: a newer version may have come since the chunk was
        read (in the same poll). This narrows the window to the prune itself, it does not close it:
        two handlers interleaving between this check and the prune can still meet."""
        return await self._newest_in(self.ledger, chunk) and await self._newest_in(self.live, chunk)

    async def on_embedded(self, records: Sequence[ChunkEmbedded]) -> None:
        current = [r for r in records if await self._current(r.chunk)]
        upserts = [r for r in current if r.chunk.operation == "UPSERT"]
        if upserts:
            collection = await self.collection(upserts[0].dim, upserts[0].model)
            points = [VectorPoint(r.chunk.chunk_id, r.vector, payload(r.chunk)) for r in upserts]
            await self.vectors.upsert(collection, points)
        await self._settle([r.chunk for r in current])

    async def on_graph(self, records: Sequence[GraphExtracted]) -> None:
        current = [r for r in records if await self._current(r.chunk)]
        upserts = [facts(r) for r in current if r.chunk.operation == "UPSERT"]
        if upserts:
            await self.graph.write(upserts)
        await self._settle([r.chunk for r in current])

    async def _settle(self, chunks: Sequence[ChunkCreated]) -> None:
        seen: dict[tuple[str, str, str], ChunkCreated] = {}
        for c in chunks:
            seen.setdefault((c.doc_id, c.version, c.operation), c)
        for chunk in seen.values():
            if chunk.operation == "DELETE":
                await self._delete(chunk)
            else:
                await self._maybe_complete(chunk)

    async def _delete(self, chunk: ChunkCreated) -> None:
        # Either handler may see the DELETE first; both remove from both stores (idempotent). Not when
        # the same poll brought a newer version after it: that one's vectors were just written.
        if not await self._still_newest(chunk):
            return
        collection = self._collection or await self.vectors.resolve(self.target or self.alias)
        if collection is not None:
            await self.vectors.delete(collection, must={"doc_id": chunk.doc_id})
        await self.graph.prune_document(chunk.doc_id, keep_version=None)
        await self._announce(chunk, chunk_count=0, collection=collection or "")

    async def _maybe_complete(self, chunk: ChunkCreated) -> None:
        # The collection written, or the one this indexer would write: after a restart the graph
        # handler may finish a version whose vectors an earlier process wrote (it used to wait for a
        # vector written by this process, which never came: the version was never completed).
        collection = self._collection or self.target or await self.vectors.resolve(self.alias)
        if collection is None:
            return  # no vector written anywhere yet: the embedded handler will settle it
        key = {"doc_id": chunk.doc_id, "version": chunk.version}
        try:
            vectors = await self.vectors.count(collection, must=key)
        except CollectionNotFoundError:
            return  # a new generation's collection before its first vector: nothing to complete yet
        if vectors < chunk.chunk_count:
            return
        if await self.graph.count_chunks(chunk.doc_id, chunk.version) < chunk.chunk_count:
            return
        # Still the newest? One poll may hold an older version's last chunk and a newer one's first:
        # both were current when checked, and completing the older would prune the newer.
        if not await self._still_newest(chunk):
            return
        others = {"version": chunk.version}
        await self.vectors.delete(collection, must={"doc_id": chunk.doc_id}, must_not=others)
        await self.graph.prune_document(chunk.doc_id, keep_version=chunk.version)
        await self._announce(chunk, chunk.chunk_count, collection)

    async def _announce(self, chunk: ChunkCreated, chunk_count: int, collection: str) -> None:
        event = DocumentIndexed(
            tenant=chunk.tenant,
            doc_id=chunk.doc_id,
            version=chunk.version,
            operation=chunk.operation,
            source_uri=chunk.source_uri,
            title=chunk.title,
            chunk_count=chunk_count,
            collection=collection,
            indexed_at=datetime.now(UTC),
        )
        await self.announce(event)
        fresh = (event.indexed_at - chunk.submitted_at).total_seconds()
        FRESHNESS.labels(operation=chunk.operation).observe(max(fresh, 0.0))
        log.info(
            "document indexed",
            freshness_s=round(fresh, 3),
            doc_id=chunk.doc_id,
            source=chunk.source_uri,
            operation=chunk.operation,
            chunks=chunk_count,
            collection=collection,
        )


def register(
    broker: KafkaBroker, ctx: StageContext, indexer: Indexer, group: GroupOf, recovery: GraphRecovery
) -> None:
    @broker.subscriber(
        ctx.names(topics.EMBEDDED), **ctx.subscriber_options(group(topics.EMBEDDED), batch=True)
    )
    async def on_embedded(msg: KafkaMessage) -> None:
        await ctx.handle_batch(STAGE, topics.EMBEDDED, msg, indexer.on_embedded)

    graph_options = ctx.subscriber_options(group(topics.GRAPH), batch=True)

    @broker.subscriber(ctx.names(topics.GRAPH), **graph_options, on_assign=recovery.on_assign)
    async def on_graph(msg: KafkaMessage) -> None:
        await ctx.handle_batch(STAGE, topics.GRAPH, msg, indexer.on_graph)
        # handled (written, or dead-lettered): the graph records how far it got, with its facts
        await indexer.graph.checkpoint(recovery.consumer, positions_after(as_list(raw_of(msg))))

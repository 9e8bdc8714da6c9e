"""Search over the index: vector hits (tenant-filtered) plus the graph entities the query names and
their neighbours. The chat retrieve step (fusion, reranking) builds on this."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from services.models.embedder import Embedder
from services.stores.ports import GraphStore, VectorIndex


@dataclass(slots=True)
class ChunkResult:
    score: float
    chunk_id: str
    doc_id: str
    title: str
    source_uri: str
    page: int | None
    section: str | None
    text: str


@dataclass(slots=True)
class SearchResult:
    query: str
    collection: str | None
    chunks: list[ChunkResult] = field(default_factory=list)
    entities: list[dict[str, str]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def search(
    query: str,
    tenant: str,
    embedder: Embedder,
    vectors: VectorIndex,
    graph: GraphStore,
    alias: str,
    limit: int = 5,
) -> SearchResult:
    collection = await vectors.resolve(alias)
    result = SearchResult(query=query, collection=collection)
    if collection is None:
        return result  # nothing indexed yet
    [vector] = await embedder.embed([query])
    hits = await vectors.search(collection, vector, limit, must={"tenant": tenant}, text=query)
    # Fused scores tie often (RRF ranks); break ties by chunk id so every executor sees one order.
    for hit in sorted(hits, key=lambda h: (-round(h.score, 6), h.chunk_id)):
        p = hit.payload
        result.chunks.append(
            ChunkResult(
                score=round(hit.score, 4),
                chunk_id=hit.chunk_id,
                doc_id=str(p.get("doc_id", "")),
                title=str(p.get("title", "")),
                source_uri=str(p.get("source_uri", "")),
                page=p.get("page"),
                section=p.get("section"),
                text=str(p.get("text", "")),
            )
        )
    entities = await graph.find_entities(tenant, query, limit=10)
    result.entities = [{"name": e.name, "label": e.label} for e in entities]
    if entities:
        facts = await graph.neighbours(tenant, [e.name for e in entities], limit=20)
        result.relations = [
            {"source": f.source.name, "type": f.type, "target": f.target.name, "doc_ids": list(f.doc_ids)}
            for f in facts
        ]
    return result

"""Search over the index: the chunks the vector index and the knowledge graph rank for a query, fused,
optionally reranked; plus the graph facts around the entities the query names.

Two rankings of chunks, both tenant-filtered:

* vector: the index's hybrid search (dense + BM25, already fused inside Qdrant), best first;
* graph: the chunks that mention the query's entities (found by exact name look-up), most of them
  first, then in the vector order; after them the chunks that mention only their neighbours one
  relation away, most neighbours first, then in the vector order (chunks the vector search did not
  return are scored together in one dense search filtered to their ids, and ordered by cosine among
  themselves). How many neighbours a chunk naming the entity also names does not count: that lifted
  overview pages, which name a product and everything around it, above the page about the product
  (four sets' 123 questions, one indexing: hit@1 96 → 99, hit@5 120 either way; bench/README.md).

They are fused by reciprocal rank fusion, the graph's ranks weighted ``GRAPH_WEIGHT``. Ties (in either
fusion: the index's own RRF of dense and BM25 ranks ties too) go by document order — source URI,
then chunk ordinal — not by chunk id, which depends on the tenant: one corpus ranks the same for every
tenant, and every executor sees one order. A chunk the graph alone finds (it names the entity the
question is about, or its employer, ...) thus enters the results, and one both rankings hold rises
above those only one holds. With a
:class:`~services.models.reranker.Reranker`, the fused top ``rerank_candidates`` are scored against
the query and the best ``limit`` kept, scored by the reranker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog

from services.models.embedder import Embedder
from services.models.http import ModelUnavailable
from services.models.reranker import Reranker
from services.retrieve.fusion import document_evidence, reciprocal_rank_fusion
from services.stores.hybrid import keywords
from services.stores.ports import Entity, Filter, GraphFact, GraphStore, VectorIndex

log = structlog.get_logger("ragstream.retrieve")

# Graph rows read per query (cheap: an index look-up and one or two hops); of these at most the
# fusion depth are fetched from the vector index.
GRAPH_ROWS = 50
FACTS_LIMIT = 20
# The graph ranking's weight in the fusion. At 1, the graph's first chunk (any chunk naming the
# question's entity: on a product's pages, most of them do) tied the vector search's first chunk
# exactly; ties then went by chunk id, which depends on the tenant, and the bundled golden set
# measured hit@1 0.86-0.88 in one tenant and 0.78 in another. With ties broken by content (TieBreak),
# weights 0.6-0.9 measured hit@1 0.88 (named 0.92, graph 0.89) in every tenant, and 1.0 measured 0.82.
GRAPH_WEIGHT = 0.8
# How much the other passages of a chunk's document (in the fused list) add to it. Questions in the
# user's own words found a single passage of an unrelated document first ("vacation days" -> another
# company's holiday rules) while two or three passages of the right one came next. Measured on the
# bundled golden set, one indexing, the fused list 10 deep (the same in three tenants):
#   weight   hit@1   named  paraphrased  graph   hit@5   answer fact  cites
#   0        0.86    0.88   0.81         0.89    1.0     0.90         0.92
#   0.02     0.92    0.92   1.00         0.78    1.0     0.90         0.95
#   0.05     0.90    0.83   1.00         0.89    1.0     0.88         0.93
#   0.1      0.90    0.83   1.00         0.89    1.0     0.86         0.93
#   0.2      0.86    0.83   1.00         0.67    0.96    0.85         0.90
# Paraphrased questions gain at every weight; more than a nudge gives documents with many passages
# (a directory, a changelog) the questions that name one fact in another document, and the answer
# loses the passages of other documents a chained question needs. The bundled set is a development
# set for this number: `ragstream eval` on another corpus is the honest check.
DOCUMENT_WEIGHT = 0.02


class TieBreak:
    """The order of chunks whose fused scores tie: the one holding more of the query's keywords, then
    document order (source URI, ordinal). Both are about the content, never the chunk id (which
    depends on the tenant), so one corpus ranks the same for every tenant. Keywords are read only
    for the chunks asked about, once each."""

    def __init__(self, query: str, payloads: Mapping[str, Mapping[str, Any]]) -> None:
        self.wanted = keywords(query)
        self.payloads = payloads
        self._keys: dict[str, tuple[int, str, int]] = {}

    def __call__(self, chunk_id: str) -> tuple[int, str, int]:
        key = self._keys.get(chunk_id)
        if key is None:
            payload = self.payloads.get(chunk_id, {})
            shared = len(self.wanted & keywords(str(payload.get("text", ""))))
            ordinal = payload.get("ordinal")
            key = (-shared, str(payload.get("source_uri", "")), ordinal if isinstance(ordinal, int) else 0)
            self._keys[chunk_id] = key
        return key


def in_order(scored: Sequence[tuple[str, float]], tie: TieBreak, digits: int) -> list[tuple[str, float]]:
    """Best first; scores equal to ``digits`` decimals tie, and only those chunks are read for ``tie``."""
    rounded = [round(score, digits) for _, score in scored]
    counts: dict[float, int] = {}
    for value in rounded:
        counts[value] = counts.get(value, 0) + 1
    return [
        pair
        for pair, _ in sorted(
            zip(scored, rounded, strict=True),
            key=lambda p: (-p[1], tie(p[0][0]) if counts[p[1]] > 1 else (), p[0][0]),
        )
    ]


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


def fusion_depth(limit: int) -> int:
    """How deep each ranking goes before fusion: twice the answer, at least 10."""
    return max(2 * limit, 10)


def _key(entity: Entity) -> str:
    return f"{entity.label}:{entity.name}"  # exact look-up: the label keeps "Jordan" the person apart


def _chunk(chunk_id: str, payload: Mapping[str, Any], score: float) -> ChunkResult:
    return ChunkResult(
        score=round(score, 4),
        chunk_id=chunk_id,
        doc_id=str(payload.get("doc_id", "")),
        title=str(payload.get("title", "")),
        source_uri=str(payload.get("source_uri", "")),
        page=payload.get("page"),
        section=payload.get("section"),
        text=str(payload.get("text", "")),
    )


async def graph_ranking(
    tenant: str,
    entities: Sequence[Entity],
    graph: GraphStore,
    vectors: VectorIndex,
    collection: str,
    vector: Sequence[float],
    vector_ranked: Sequence[str],
    payloads: dict[str, Mapping[str, Any]],
    depth: int,
    hops: int = 2,
) -> list[str]:
    """Chunk ids the graph links to ``entities``, best first (see the module docstring), at most
    ``depth``. The chunks the vector ranking lacks are scored in one filtered dense search (their
    payloads go into ``payloads``), so equal graph evidence is ordered by meaning before the cut, never
    by chunk id; a chunk the current collection does not hold (the graph can briefly be ahead of or
    behind an index version) is left out."""
    if not entities or hops < 1:
        return []
    linked = await graph.chunks_for_entities(tenant, [_key(e) for e in entities], GRAPH_ROWS, hops=hops)
    at = {chunk_id: rank for rank, chunk_id in enumerate(vector_ranked)}
    unseen = len(vector_ranked)
    missing = tuple(c.chunk_id for c in linked if c.chunk_id not in payloads)
    cosine: dict[str, float] = {}
    if missing:
        must: Filter = {"tenant": tenant, "chunk_id": missing}
        for hit in await vectors.search(collection, vector, len(missing), must=must):
            payloads[hit.chunk_id] = hit.payload
            cosine[hit.chunk_id] = hit.score
    held = [c for c in linked if c.chunk_id in at or c.chunk_id in cosine]
    held.sort(
        key=lambda c: (
            -c.direct,
            0 if c.direct else -c.indirect,
            at.get(c.chunk_id, unseen),
            -round(cosine.get(c.chunk_id, 0.0), 6),
            c.chunk_id,
        )
    )
    return [c.chunk_id for c in held[:depth]]


async def _no_facts() -> list[dict[str, Any]]:
    return []


async def graph_facts(
    tenant: str, entities: Sequence[Entity], graph: GraphStore, hops: int = 2
) -> list[dict[str, Any]]:
    """Relations around the query's entities; when fewer than FACTS_LIMIT, those around their
    neighbours fill the rest (two hops: "Greta works for Helios" and "Helios is in Graz")."""
    if not entities:
        return []
    seeds = {_key(e) for e in entities}
    first = await graph.neighbours(tenant, sorted(seeds), limit=FACTS_LIMIT)
    out: dict[tuple[str, str, str], tuple[GraphFact, int]] = {
        (_key(f.source), f.type, _key(f.target)): (f, 1) for f in first
    }
    if hops >= 2 and len(out) < FACTS_LIMIT:
        near = sorted({_key(e) for f in first for e in (f.source, f.target)} - seeds)
        for f in await graph.neighbours(tenant, near, limit=FACTS_LIMIT) if near else []:
            if len(out) >= FACTS_LIMIT:
                break
            out.setdefault((_key(f.source), f.type, _key(f.target)), (f, 2))
    return [
        {
            "source": f.source.name,
            "type": f.type,
            "target": f.target.name,
            "doc_ids": list(f.doc_ids),
            "hops": hops_away,
        }
        for f, hops_away in out.values()
    ]


async def search(
    query: str,
    tenant: str,
    embedder: Embedder,
    vectors: VectorIndex,
    graph: GraphStore,
    alias: str,
    limit: int = 5,
    *,
    reranker: Reranker | None = None,
    rerank_candidates: int = 20,
    graph_hops: int = 2,
    facts: bool = True,
) -> SearchResult:
    """The best ``limit`` chunks for ``query`` in ``tenant``'s documents, and the graph around it.

    ``graph_hops``: 0 ranks by the vector index alone, 1 adds chunks mentioning the query's
    entities, 2 (default) also chunks mentioning their neighbours; graph facts always go two hops
    (``facts=False`` skips them: one or two graph round trips a caller that reads no facts saves).
    """
    collection = await vectors.resolve(alias)
    result = SearchResult(query=query, collection=collection)
    if collection is None:
        return result  # nothing indexed yet
    depth = max(limit, rerank_candidates) if reranker is not None else fusion_depth(limit)
    [vector] = await embedder.embed([query], interactive=True)
    hits, entities = await asyncio.gather(
        vectors.search(collection, vector, depth, must={"tenant": tenant}, text=query),
        graph.find_entities(tenant, query, limit=10),
    )
    payloads: dict[str, Mapping[str, Any]] = {h.chunk_id: h.payload for h in hits}
    tie = TieBreak(query, payloads)
    # Fused scores tie often (RRF ranks): ties go by content (TieBreak), the same in every tenant.
    # (The index's scores are float32: six decimals.)
    vector_ranked = [cid for cid, _ in in_order([(h.chunk_id, h.score) for h in hits], tie, 6)]
    graph_ranked, result.relations = await asyncio.gather(
        graph_ranking(
            tenant, entities, graph, vectors, collection, vector, vector_ranked, payloads, depth, graph_hops
        ),
        graph_facts(tenant, entities, graph) if facts else _no_facts(),
    )
    result.entities = [{"name": e.name, "label": e.label} for e in entities]
    documents = {cid: str(p.get("doc_id", "")) for cid, p in payloads.items() if p.get("doc_id")}

    def fuse(vector_list: Sequence[str], graph_list: Sequence[str]) -> list[tuple[str, float]]:
        fused = reciprocal_rank_fusion([vector_list, graph_list], weights=[1.0, GRAPH_WEIGHT])
        return in_order(document_evidence(fused, documents, DOCUMENT_WEIGHT), tie, 12)

    # The plain search's order, from rankings as deep as a search without a reranker reads them: a
    # reranker widens the candidates, and one that is down must cost the reranking, not the order.
    plain_depth = fusion_depth(limit)
    plain = fuse(vector_ranked[:plain_depth], graph_ranked[:plain_depth])
    if reranker is None:
        result.chunks = [_chunk(cid, payloads[cid], score) for cid, score in plain[:limit]]
        return result
    candidates = fuse(vector_ranked, graph_ranked)[: max(limit, rerank_candidates)]
    texts = [str(payloads[cid].get("text", "")) for cid, _ in candidates]
    try:
        scores = await reranker.rerank(query, texts)
    except ModelUnavailable as exc:  # an answer from the fused order beats no answer
        log.warning("reranker unavailable: keeping the fused order", error=str(exc), model=reranker.model)
        result.chunks = [_chunk(cid, payloads[cid], score) for cid, score in plain[:limit]]
        return result
    if len(scores) != len(candidates):
        raise ValueError(f"reranker {reranker.model} returned {len(scores)} scores for {len(texts)} texts")
    reranked = sorted(
        zip((cid for cid, _ in candidates), scores, strict=True), key=lambda p: (-round(p[1], 6), p[0])
    )
    result.chunks = [_chunk(cid, payloads[cid], score) for cid, score in reranked[:limit]]
    return result

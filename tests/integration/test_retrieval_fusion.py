"""Retrieval over real stores holding the example documents (qdrant-edge, FalkorDB, MiniLM): the graph
ranking fused with the vector ranking finds a chunk vector search alone misses, two-hop facts,
deterministic fused order, tenant isolation, and reranking (in-process bi-encoder) with its
fallback when the rerank server is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.tansu import free_port
from services.models.reranker import HttpReranker, LocalReranker
from services.retrieve.search import graph_ranking, search
from services.stores.ports import ChunkFacts, Entity, Relation, VectorPoint
from tests.support import IndexedStores, examples_indexed_inprocess

pytestmark = pytest.mark.integration
TENANT = "acme"
# The question is about Greta Sorensen's employer; the answer ("Helios Labs is headquartered in
# Graz") never names her. The graph knows Greta Sorensen WORKS_FOR Helios Labs.
EMPLOYER_HQ = "Where does Greta Sorensen's employer have its headquarters?"
HQ_SENTENCE = "Helios Labs is headquartered in Graz"


@pytest.fixture(scope="module")
async def stores(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IndexedStores]:
    """examples/docs indexed in-process for tenant 'acme'."""
    async with examples_indexed_inprocess(tmp_path_factory.mktemp("fusion")) as indexed:
        yield indexed


async def _search(stores: IndexedStores, query: str, **options: Any) -> list[str]:
    found = await search(query, TENANT, stores.embedder, stores.vectors, stores.graph, "chunks", 5, **options)
    return [c.chunk_id for c in found.chunks]


async def test_two_hop_graph_ranking_finds_what_vector_search_misses(stores: IndexedStores) -> None:
    """Vector search alone (and the graph at one hop) returns chunks about Greta Sorensen but none
    saying where Helios Labs is; two hops (Greta → her employer → chunks mentioning it) bring one in."""
    args = (EMPLOYER_HQ, TENANT, stores.embedder, stores.vectors, stores.graph, "chunks", 5)
    vector_only = await search(*args, graph_hops=0)
    one_hop = await search(*args, graph_hops=1)
    fused = await search(*args)
    assert not any(HQ_SENTENCE in c.text for c in vector_only.chunks)
    assert not any(HQ_SENTENCE in c.text for c in one_hop.chunks)
    assert any(HQ_SENTENCE in c.text for c in fused.chunks)
    assert len(fused.chunks) == 5
    # The facts reach two hops as well: the employer's location, marked as such.
    facts = {(r["source"], r["type"], r["target"]): r["hops"] for r in fused.relations}
    assert facts[("Greta Sorensen", "WORKS_FOR", "Helios Labs")] == 1
    assert facts[("Helios Labs", "LOCATED_IN", "Graz")] == 2


async def test_chunks_both_rankings_hold_rise_and_order_is_stable(stores: IndexedStores) -> None:
    """A chunk the graph links to the query's entity outranks every chunk only the vector search
    found, scores are fused RRF sums, and the same query gives the same order every time."""
    query = "Who works for Helios Labs?"
    found = await search(query, TENANT, stores.embedder, stores.vectors, stores.graph, "chunks", 5)
    linked = {
        c.chunk_id
        for c in await stores.graph.chunks_for_entities(TENANT, ["Organization:Helios Labs"], 50, hops=1)
    }
    assert linked
    marks = [c.chunk_id in linked for c in found.chunks]
    assert any(marks)
    assert marks == sorted(marks, reverse=True)  # every linked chunk before any unlinked one
    assert all(c.score > 1 / 61 for c in found.chunks if c.chunk_id in linked)  # in both lists
    assert [c.score for c in found.chunks] == sorted((c.score for c in found.chunks), reverse=True)
    assert [await _search(stores, query) for _ in range(3)] == [[c.chunk_id for c in found.chunks]] * 3


async def test_other_tenant_gets_nothing_from_either_ranking(stores: IndexedStores) -> None:
    """The graph ranking is tenant-filtered like the vectors: another tenant gets no chunks."""
    found = await search(EMPLOYER_HQ, "intruder", stores.embedder, stores.vectors, stores.graph, "chunks")
    assert found.chunks == []
    assert found.relations == []
    assert await stores.graph.chunks_for_entities("intruder", ["Greta Sorensen"], 10) == []


async def test_graph_chunk_missing_from_the_index_is_left_out(stores: IndexedStores) -> None:
    """A chunk the graph knows but the current index version lacks (graph ahead of a reindex) is
    skipped, not returned empty or failing the search."""
    ghost = ChunkFacts(TENANT, "ghost-doc", "v1", "ghost-doc:v1:0", (Entity("Greta Sorensen", "Person"),))
    await stores.graph.write([ghost])
    try:
        linked = await stores.graph.chunks_for_entities(TENANT, ["Person:Greta Sorensen"], 50, hops=1)
        assert "ghost-doc:v1:0" in {c.chunk_id for c in linked}
        chunks = await _search(stores, EMPLOYER_HQ)
        assert "ghost-doc:v1:0" not in chunks
        assert len(chunks) == 5
    finally:
        await stores.graph.prune_document("ghost-doc", None)


async def test_graph_ranking_cuts_equal_evidence_by_meaning_not_by_chunk_id(stores: IndexedStores) -> None:
    """Six chunks name the entity once each (equal graph evidence) and the vector search returned
    none of them: the two kept are the two nearest the query, though their ids sort last (the cut
    went by chunk id before their payloads were read)."""
    tenant, collection, dim = "graph-cut", "graph_cut_v1", 8
    helios = Entity("Helios Labs", "Organization")
    ids = [f"g{i}" for i in range(6)]
    await stores.graph.write([ChunkFacts(tenant, f"doc-{c}", "v1", c, (helios,)) for c in ids])
    await stores.vectors.ensure_collection(collection, dim)
    query = [1.0] + [0.0] * (dim - 1)
    # cosine to the query grows with the id: g5 nearest, g0 farthest
    points = [
        VectorPoint(c, [0.2 + 0.15 * i, 1.0] + [0.0] * (dim - 2), {"tenant": tenant, "doc_id": f"doc-{c}"})
        for i, c in enumerate(ids)
    ]
    await stores.vectors.upsert(
        collection, [VectorPoint(p.chunk_id, p.vector, {**p.payload, "chunk_id": p.chunk_id}) for p in points]
    )
    try:
        payloads: dict[str, Any] = {}
        kept = await graph_ranking(
            tenant, [helios], stores.graph, stores.vectors, collection, query, [], payloads, depth=2
        )
        assert kept == ["g5", "g4"]
        assert set(payloads) == set(ids)  # all six scored, in one search
        linked_first = await graph_ranking(
            tenant, [helios], stores.graph, stores.vectors, collection, query, ["g0"], {}, depth=2
        )
        assert linked_first == ["g0", "g5"]  # one the vector search holds comes first, as before
    finally:
        for c in ids:
            await stores.graph.prune_document(f"doc-{c}", None)


async def test_a_page_naming_the_entity_and_all_around_it_does_not_outrank_the_page_about_it(
    stores: IndexedStores,
) -> None:
    """An overview chunk names the product and its three parts (each PART_OF it); the product's own
    page names only the product and is the vector search's first. Both name the asked-for entity
    once: the vector order decides between them, not how many neighbours the overview also names
    (that lifted overview pages first). A chunk naming only a neighbour comes after both."""
    tenant, collection, dim = "overview", "overview_v1", 8
    tessel = Entity("Tessel", "Product")
    parts = [Entity(name, "Product") for name in ("Thermo", "Vibe", "Gateway")]
    part_of = tuple(Relation(part, "PART_OF", tessel) for part in parts)
    facts = [
        ChunkFacts(tenant, "doc-overview", "v1", "overview", (tessel, *parts), part_of),
        ChunkFacts(tenant, "doc-page", "v1", "page", (tessel,)),
        ChunkFacts(tenant, "doc-vibe", "v1", "vibe", (parts[1],)),
    ]
    await stores.graph.write(facts)
    await stores.vectors.ensure_collection(collection, dim)
    vector = [1.0] + [0.0] * (dim - 1)
    await stores.vectors.upsert(
        collection,
        [
            VectorPoint(
                c, [1.0, 0.5 * i] + [0.0] * (dim - 2), {"tenant": tenant, "doc_id": f"doc-{c}", "chunk_id": c}
            )
            for i, c in enumerate(("page", "overview", "vibe"))
        ],
    )
    try:
        linked = await stores.graph.chunks_for_entities(tenant, ["Product:Tessel"], 50)
        assert {c.chunk_id: (c.direct, c.indirect) for c in linked}["overview"] == (1, 3)
        ranked = await graph_ranking(
            tenant,
            [tessel],
            stores.graph,
            stores.vectors,
            collection,
            vector,
            ["page", "overview"],
            {},
            depth=3,
        )
        assert ranked == ["page", "overview", "vibe"]
    finally:
        for c in ("overview", "page", "vibe"):
            await stores.graph.prune_document(f"doc-{c}", None)


async def test_reranker_orders_the_fused_candidates(stores: IndexedStores) -> None:
    """With a reranker, the fused candidates are scored and the best five kept, scored by the reranker."""
    reranker = LocalReranker(stores.embedder)
    query = "Where is Helios Labs headquartered?"
    found = await search(
        query, TENANT, stores.embedder, stores.vectors, stores.graph, "chunks", 5, reranker=reranker
    )
    assert len(found.chunks) == 5
    scores = await reranker.rerank(query, [c.text for c in found.chunks])
    assert [c.score for c in found.chunks] == pytest.approx([round(s, 4) for s in scores], abs=1e-4)
    assert [c.score for c in found.chunks] == sorted((c.score for c in found.chunks), reverse=True)
    assert HQ_SENTENCE in found.chunks[0].text


async def test_reranker_down_keeps_the_fused_order(stores: IndexedStores) -> None:
    """A rerank server that does not answer costs the reranking, not the answer: the fused order stays."""
    down = HttpReranker(f"http://127.0.0.1:{free_port()}", "bge-reranker-v2-m3", attempts=1)
    try:
        with_down = await _search(stores, EMPLOYER_HQ, reranker=down)
    finally:
        await down.close()
    assert with_down == await _search(stores, EMPLOYER_HQ)


async def test_graph_links_chunks_by_direct_then_neighbour_mentions(stores: IndexedStores) -> None:
    """chunks_for_entities counts the looked-up entities a chunk names, then their neighbours it
    names (one relation away), within the tenant only; one hop leaves the neighbours out."""
    greta, helios, graz = (
        Entity("Greta Sorensen", "Person"),
        Entity("Helios Labs", "Organization"),
        Entity("Graz", "Location"),
    )
    tenant = "graph-ranking"
    facts = [
        ChunkFacts(tenant, "d1", "v1", "c1", (greta, helios), (Relation(greta, "WORKS_FOR", helios),)),
        ChunkFacts(tenant, "d2", "v1", "c2", (helios, graz), (Relation(helios, "LOCATED_IN", graz),)),
        ChunkFacts(tenant, "d3", "v1", "c3", (graz,)),
    ]
    await stores.graph.write(facts)
    try:
        two = await stores.graph.chunks_for_entities(tenant, ["Person:Greta Sorensen"], 10)
        assert [(c.chunk_id, c.doc_id, c.direct, c.indirect) for c in two] == [
            ("c1", "d1", 1, 1),
            ("c2", "d2", 0, 1),
        ]
        one = await stores.graph.chunks_for_entities(tenant, ["Greta Sorensen"], 10, hops=1)
        assert [(c.chunk_id, c.direct, c.indirect) for c in one] == [("c1", 1, 0)]
        both = await stores.graph.chunks_for_entities(tenant, ["Helios Labs", "Greta Sorensen"], 2)
        assert [(c.chunk_id, c.direct, c.indirect) for c in both] == [("c1", 2, 0), ("c2", 1, 1)]
        assert await stores.graph.chunks_for_entities(TENANT, ["Nobody Atall"], 10) == []
    finally:
        for doc in ("d1", "d2", "d3"):
            await stores.graph.prune_document(doc, None)


async def test_facts_are_read_only_when_asked_for(stores: IndexedStores) -> None:
    """Without facts (the agent without an LLM reads none) the chunks are the same and no relation is
    read; with them, the employer's relations come back."""
    args = (EMPLOYER_HQ, TENANT, stores.embedder, stores.vectors, stores.graph, "chunks", 5)
    with_facts, without = await search(*args), await search(*args, facts=False)
    assert [c.chunk_id for c in without.chunks] == [c.chunk_id for c in with_facts.chunks]
    assert with_facts.relations
    assert without.relations == []

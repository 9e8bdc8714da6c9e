"""One behaviour suite for both ``VectorIndex`` adapters: qdrant-edge on disk and qdrant-client.

The ``index`` fixture runs every test against the edge adapter (in ``tmp_path``), qdrant-client's local
mode (``:memory:``) and, where a Docker engine answers, a real Qdrant server in a container.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, models

from services.stores.hybrid import NAMESPACE, RRF_K, CollectionNotFoundError, point_id
from services.stores.ports import VectorIndex, VectorPoint
from services.stores.vectors_edge import EdgeVectorIndex
from services.stores.vectors_server import ServerVectorIndex
from tests.support import docker_unavailable

pytestmark = pytest.mark.integration

DIM = 8


def vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def make_points(
    vecs: np.ndarray, *, tenant: str = "t1", doc_id: str = "d1", version: str = "v1", prefix: str = "c"
) -> list[VectorPoint]:
    return [
        VectorPoint(
            chunk_id=f"{prefix}{i}",
            vector=v.tolist(),
            payload={"tenant": tenant, "doc_id": doc_id, "version": version, "text": f"chunk {i}"},
        )
        for i, v in enumerate(vecs)
    ]


@pytest.fixture(scope="session")
def qdrant_url() -> Iterator[str]:
    """A real Qdrant server in a container, shared by the docker-marked runs."""
    reason = docker_unavailable()
    if reason is not None:
        pytest.skip(reason)
    from testcontainers.community.qdrant import QdrantContainer

    with QdrantContainer() as container:
        yield f"http://{container.get_container_host_ip()}:{container.exposed_rest_port}"


@pytest.fixture(
    params=["edge", "server-local", pytest.param("server-docker", marks=pytest.mark.docker)],
)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    """A fresh, empty index of the requested kind; closed (and, on the shared server, emptied) after."""
    kind: str = request.param
    if kind == "edge":
        idx: VectorIndex = EdgeVectorIndex(tmp_path / "vectors")
    elif kind == "server-local":
        idx = ServerVectorIndex(location=":memory:")
    else:
        url = request.getfixturevalue("qdrant_url")
        idx = ServerVectorIndex(url=url)
    yield idx
    await idx.close()
    if kind == "server-docker":
        admin = AsyncQdrantClient(url=url)
        for c in (await admin.get_collections()).collections:
            await admin.delete_collection(c.name)
        await admin.close()


async def test_point_id_is_uuid5_of_chunk_id() -> None:
    """Both adapters derive the point id as uuid5(NAMESPACE, chunk_id), so ids agree across stores."""
    assert point_id("doc-1#0") == str(uuid.uuid5(NAMESPACE, "doc-1#0"))
    assert point_id("doc-1#0") != point_id("doc-1#1")


async def test_upsert_same_chunk_twice_keeps_one_point(index: VectorIndex) -> None:
    """Re-upserting a chunk replaces its point (payload included) instead of adding a second one."""
    await index.ensure_collection("chunks_v1", DIM)
    vec = vectors(1, seed=1)
    await index.upsert("chunks_v1", make_points(vec))
    await index.upsert("chunks_v1", make_points(vec, version="v2"))
    assert await index.count("chunks_v1", {}) == 1
    hits = await index.search("chunks_v1", vec[0].tolist(), 5, {})
    assert [h.chunk_id for h in hits] == ["c0"]
    assert hits[0].payload["version"] == "v2"
    assert hits[0].payload["chunk_id"] == "c0"


async def test_search_ranks_by_cosine_and_isolates_tenants(index: VectorIndex) -> None:
    """Hits come best first with cosine similarity scores, and a tenant filter never leaks others' chunks."""
    await index.ensure_collection("chunks_v1", DIM)
    vec_a, vec_b = vectors(10, seed=2), vectors(10, seed=3)
    await index.upsert("chunks_v1", make_points(vec_a, tenant="a", prefix="a"))
    await index.upsert("chunks_v1", make_points(vec_b, tenant="b", prefix="b"))

    query = vec_a[4]
    hits = await index.search("chunks_v1", (query * 3.0).tolist(), 5, {"tenant": "a"})
    assert hits[0].chunk_id == "a4"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)  # cosine ignores the query's length
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    normed = vec_a / np.linalg.norm(vec_a, axis=1, keepdims=True)
    expected = normed @ (query / np.linalg.norm(query))
    assert [h.chunk_id for h in hits] == [f"a{i}" for i in np.argsort(-expected)[:5]]
    assert [h.score for h in hits] == pytest.approx(sorted(expected, reverse=True)[:5], abs=1e-4)

    # Tenant b's own vector, searched as tenant a, must return only tenant a's chunks.
    leaked = await index.search("chunks_v1", vec_b[0].tolist(), 20, {"tenant": "a"})
    assert len(leaked) == 10
    assert {h.payload["tenant"] for h in leaked} == {"a"}
    assert await index.count("chunks_v1", {"tenant": "b"}) == 10


async def test_a_tuple_in_a_filter_matches_any_of_its_members(index: VectorIndex) -> None:
    """``{"chunk_id": ("a1", "a7")}`` searches those chunks only, ranked by cosine (the graph ranking
    scores the chunks the vector search missed this way, in one search)."""
    await index.ensure_collection("chunks_v1", DIM)
    vec = vectors(10, seed=7)
    await index.upsert("chunks_v1", make_points(vec, tenant="a", prefix="a"))
    await index.upsert("chunks_v1", make_points(vectors(3, seed=8), tenant="b", prefix="b"))
    wanted = ("a1", "a7", "a9", "b1")
    hits = await index.search("chunks_v1", vec[7].tolist(), 10, {"tenant": "a", "chunk_id": wanted})
    assert hits[0].chunk_id == "a7"
    assert sorted(h.chunk_id for h in hits) == ["a1", "a7", "a9"]  # b1 is another tenant's
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert await index.count("chunks_v1", {}, must_not={"chunk_id": wanted}) == 9


async def test_count_and_delete_with_must_not_keep_the_current_version(index: VectorIndex) -> None:
    """delete(doc_id=D, version != V) prunes D's old versions and leaves V and other documents alone."""
    await index.ensure_collection("chunks_v1", DIM)
    await index.upsert("chunks_v1", make_points(vectors(3, 4), doc_id="D", version="v1", prefix="D1-"))
    await index.upsert("chunks_v1", make_points(vectors(2, 5), doc_id="D", version="v2", prefix="D2-"))
    await index.upsert("chunks_v1", make_points(vectors(4, 6), doc_id="E", version="v1", prefix="E1-"))

    assert await index.count("chunks_v1", {"doc_id": "D"}) == 5
    assert await index.count("chunks_v1", {"doc_id": "D"}, must_not={"version": "v2"}) == 3
    assert await index.count("chunks_v1", {}, must_not={"doc_id": "D"}) == 4

    await index.delete("chunks_v1", {"doc_id": "D"}, must_not={"version": "v2"})
    assert await index.count("chunks_v1", {"doc_id": "D"}) == 2
    assert await index.count("chunks_v1", {"doc_id": "D", "version": "v2"}) == 2
    assert await index.count("chunks_v1", {"doc_id": "E"}) == 4

    await index.delete("chunks_v1", {"doc_id": "E"})
    assert await index.count("chunks_v1", {}) == 2


async def test_delete_with_empty_filter_is_refused(index: VectorIndex) -> None:
    """An empty delete filter raises instead of silently wiping the whole collection."""
    await index.ensure_collection("chunks_v1", DIM)
    await index.upsert("chunks_v1", make_points(vectors(2, 7)))
    with pytest.raises(ValueError, match="empty filter"):
        await index.delete("chunks_v1", {})
    assert await index.count("chunks_v1", {}) == 2


async def test_alias_set_swap_resolve_and_search_through_it(index: VectorIndex) -> None:
    """An alias resolves to one collection, every call accepts it, and re-pointing it swaps what it serves."""
    await index.ensure_collection("chunks_v1", DIM)
    await index.ensure_collection("chunks_v2", DIM)
    vec = vectors(2, seed=8)
    await index.upsert("chunks_v1", make_points(vec[:1], version="old", prefix="old"))
    await index.upsert("chunks_v2", make_points(vec, version="new", prefix="new"))

    await index.set_alias("chunks", "chunks_v1")
    assert await index.resolve("chunks") == "chunks_v1"
    assert await index.resolve("chunks_v2") == "chunks_v2"
    assert await index.resolve("missing") is None
    assert [h.chunk_id for h in await index.search("chunks", vec[0].tolist(), 5, {})] == ["old0"]

    await index.set_alias("chunks", "chunks_v2")
    assert await index.resolve("chunks") == "chunks_v2"
    assert await index.count("chunks", {"version": "new"}) == 2
    assert (await index.search("chunks", vec[0].tolist(), 1, {}))[0].chunk_id == "new0"

    await index.upsert("chunks", make_points(vectors(1, 9), version="new", prefix="via-alias"))
    assert await index.count("chunks_v2", {}) == 3
    assert await index.collections() == ["chunks_v1", "chunks_v2"]


async def test_alias_needs_an_existing_collection_and_a_free_name(index: VectorIndex) -> None:
    """Aliasing to a missing collection, or over a collection's name, fails with a clear error."""
    await index.ensure_collection("chunks_v1", DIM)
    await index.ensure_collection("other", DIM)
    with pytest.raises(CollectionNotFoundError):
        await index.set_alias("chunks", "nope")
    with pytest.raises(ValueError, match="collection"):
        await index.set_alias("other", "chunks_v1")
    await index.set_alias("chunks", "chunks_v1")
    with pytest.raises(ValueError, match="alias"):
        await index.ensure_collection("chunks", DIM)


async def test_unknown_collection_raises_lookup_error(index: VectorIndex) -> None:
    """Reads and writes against a name that is neither collection nor alias raise CollectionNotFoundError."""
    with pytest.raises(CollectionNotFoundError):
        await index.count("nope", {})
    with pytest.raises(CollectionNotFoundError):
        await index.search("nope", [0.1] * DIM, 3, {})
    with pytest.raises(CollectionNotFoundError):
        await index.upsert("nope", make_points(vectors(1, 10)))


async def test_ensure_collection_is_idempotent_and_rejects_another_size(index: VectorIndex) -> None:
    """ensure_collection may be repeated with the same size, and raises ValueError for a different size."""
    await index.ensure_collection("chunks_v1", DIM)
    await index.upsert("chunks_v1", make_points(vectors(3, 11)))
    await index.ensure_collection("chunks_v1", DIM)
    assert await index.count("chunks_v1", {}) == 3
    with pytest.raises(ValueError, match="size"):
        await index.ensure_collection("chunks_v1", DIM * 2)
    assert await index.collections() == ["chunks_v1"]


async def test_an_index_version_records_its_embedding_model(index: VectorIndex) -> None:
    """The model given at creation is recorded: the same model (or none given) opens it again, another
    model is refused with a message that says to reindex."""
    await index.ensure_collection("chunks_v1", DIM, "all-MiniLM-L6-v2")
    await index.ensure_collection("chunks_v1", DIM, "all-MiniLM-L6-v2")
    await index.ensure_collection("chunks_v1", DIM)
    with pytest.raises(ValueError, match=r"model 'all-MiniLM-L6-v2', not 'bge-m3'.*reindex"):
        await index.ensure_collection("chunks_v1", DIM, "bge-m3")


async def test_concurrent_upserts_and_searches_all_land(index: VectorIndex) -> None:
    """Many overlapping upserts and searches on one collection complete and lose no point."""
    await index.ensure_collection("chunks_v1", DIM)
    batches = [make_points(vectors(20, 100 + b), prefix=f"b{b}-") for b in range(8)]
    probe = vectors(1, seed=99)[0].tolist()
    await asyncio.gather(
        *(index.upsert("chunks_v1", batch) for batch in batches),
        *(index.search("chunks_v1", probe, 3, {"tenant": "t1"}) for _ in range(8)),
    )
    assert await index.count("chunks_v1", {}) == 160


async def test_edge_data_and_aliases_survive_close_and_reopen(tmp_path: Path) -> None:
    """Points, sizes and aliases written by one EdgeVectorIndex are all there after close and reopen."""
    root = tmp_path / "vectors"
    first = EdgeVectorIndex(root)
    await first.ensure_collection("chunks_v1", DIM)
    vec = vectors(50, seed=12)
    await first.upsert("chunks_v1", make_points(vec, tenant="a"))
    await first.delete("chunks_v1", {"doc_id": "d1"}, must_not={"version": "v1"})  # a no-op, via WAL
    await first.optimize("chunks_v1")
    await first.upsert("chunks_v1", make_points(vectors(5, 13), tenant="b", prefix="late"))  # after optimize
    await first.set_alias("chunks", "chunks_v1")
    before = await first.search("chunks", vec[7].tolist(), 5, {"tenant": "a"})
    await first.close()

    second = EdgeVectorIndex(root)
    try:
        assert await second.collections() == ["chunks_v1"]
        assert await second.resolve("chunks") == "chunks_v1"
        assert await second.count("chunks", {}) == 55
        assert await second.count("chunks", {"tenant": "b"}) == 5
        after = await second.search("chunks", vec[7].tolist(), 5, {"tenant": "a"})
        assert [(h.chunk_id, round(h.score, 5)) for h in after] == [
            (h.chunk_id, round(h.score, 5)) for h in before
        ]
        with pytest.raises(ValueError, match="size"):
            await second.ensure_collection("chunks_v1", DIM + 1)
    finally:
        await second.close()


async def test_edge_rejects_vectors_of_the_wrong_dimension(tmp_path: Path) -> None:
    """The edge adapter checks each vector against the collection's size before touching the shard."""
    idx = EdgeVectorIndex(tmp_path / "vectors")
    try:
        await idx.ensure_collection("chunks_v1", DIM)
        with pytest.raises(ValueError, match="dimensions"):
            await idx.upsert("chunks_v1", [VectorPoint("c0", [0.1] * (DIM - 1), {})])
        with pytest.raises(ValueError, match="dimensions"):
            await idx.search("chunks_v1", [0.1] * (DIM + 1), 3, {})
    finally:
        await idx.close()


@pytest.mark.docker
async def test_server_creates_keyword_payload_indexes(qdrant_url: str) -> None:
    """On a real Qdrant server, ensure_collection adds keyword indexes for tenant, doc_id and version."""
    idx = ServerVectorIndex(url=qdrant_url)
    admin = AsyncQdrantClient(url=qdrant_url)
    try:
        await idx.ensure_collection("indexed_v1", DIM)
        schema = (await admin.get_collection("indexed_v1")).payload_schema
        assert {"tenant", "doc_id", "version"} <= set(schema)
        for key in ("tenant", "doc_id", "version"):
            assert schema[key].data_type == models.PayloadSchemaType.KEYWORD
    finally:
        await admin.delete_collection("indexed_v1")
        await admin.close()
        await idx.close()


# Twelve short, similar documents, each with one distinct reference code and codename.
CODED_TEXTS = [
    "Pump station upgrade: the reference code is RS-7003, codename Amber Heron, owned by facilities.",
    "Warehouse audit for the north site: reference code KT-2210, codename Blue Falcon.",
    "Quarterly revenue review, reference code MV-5518, codename Cedar Fox, finance team.",
    "Laptop onboarding guide for new hires, reference code PX-3047, codename Dusk Owl.",
    "Supplier contract for packaging, reference code QL-8891, codename Ember Lynx.",
    "Dashboard migration to the new cluster, reference code TB-1406, codename Frost Wren.",
    "Field safety training plan, reference code WD-6672, codename Granite Elk.",
    "Pricing change and churn analysis, reference code HC-4435, codename Harbor Seal.",
    "API gateway rate limits rollout, reference code NZ-9120, codename Iron Crane.",
    "Office relocation planning for spring, reference code GJ-2783, codename Jade Otter.",
    "Backup retention policy update, reference code YF-5064, codename Koi Lantern.",
    "Incident review of the March outage, reference code EV-3359, codename Lunar Moth.",
]


def coded_points(vecs: np.ndarray, tenant: str, prefix: str) -> list[VectorPoint]:
    return [
        VectorPoint(f"{prefix}{i}", v.tolist(), {"tenant": tenant, "doc_id": f"{prefix}{i}", "text": text})
        for i, (v, text) in enumerate(zip(vecs, CODED_TEXTS, strict=True))
    ]


def similar_vectors(n: int, seed: int) -> np.ndarray:
    """Vectors around one shared direction, like embeddings of near-identical template documents."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=DIM) + 0.4 * rng.normal(size=(n, DIM))).astype(np.float32)


async def test_hybrid_search_finds_exact_codes_dense_search_misses(index: VectorIndex) -> None:
    """With text=, BM25 fused by RRF ranks the chunk holding an exact code first, within the tenant only."""
    await index.ensure_collection("chunks_v1", DIM)
    vecs = similar_vectors(len(CODED_TEXTS), seed=21)
    await index.upsert("chunks_v1", coded_points(vecs, "a", "a"))
    # Tenant b holds the very same code with a dense vector equal to the query: it must never leak.
    await index.upsert("chunks_v1", coded_points(vecs, "b", "b"))

    normed = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    # A dense query that points at the document least like a0, as a weak embedding of "RS-7003" might.
    query = vecs[int(np.argmin(normed @ normed[0]))]
    dense_rank = int(np.argsort(-(normed @ (query / np.linalg.norm(query)))).tolist().index(0))
    assert dense_rank >= 3

    dense = await index.search("chunks_v1", query.tolist(), 3, {"tenant": "a"})
    assert "a0" not in [h.chunk_id for h in dense]

    hits = await index.search("chunks_v1", query.tolist(), 3, {"tenant": "a"}, text="RS-7003")
    assert hits[0].chunk_id == "a0"
    assert len(hits) == 3
    assert {h.payload["tenant"] for h in hits} == {"a"}
    # Fused scores: 1/(k + rank) summed over the dense and bm25 lists, ranks from 0, k = RRF_K.
    assert hits[0].score == pytest.approx(1 / RRF_K + 1 / (RRF_K + dense_rank), abs=1e-4)
    assert hits[1].score == pytest.approx(1 / RRF_K, abs=1e-4)  # dense first, no bm25 match

    by_codename = await index.search("chunks_v1", query.tolist(), 5, {"tenant": "a"}, text="Amber Heron")
    assert by_codename[0].chunk_id == "a0"
    other = await index.search("chunks_v1", query.tolist(), 5, {"tenant": "b"}, text="status of EV-3359?")
    assert other[0].chunk_id == "b11"
    assert {h.payload["tenant"] for h in other} == {"b"}


async def test_hybrid_search_without_usable_text_keeps_the_dense_order(index: VectorIndex) -> None:
    """A text of stopwords only, or points without a text payload, leave hybrid search in dense order."""
    await index.ensure_collection("chunks_v1", DIM)
    vec = vectors(6, seed=22)
    await index.upsert(
        "chunks_v1", [VectorPoint(f"n{i}", v.tolist(), {"tenant": "a"}) for i, v in enumerate(vec)]
    )
    dense = await index.search("chunks_v1", vec[2].tolist(), 4, {"tenant": "a"})
    for text in ("the of and", "RS-7003"):
        hybrid = await index.search("chunks_v1", vec[2].tolist(), 4, {"tenant": "a"}, text=text)
        assert [h.chunk_id for h in hybrid] == [h.chunk_id for h in dense]
        assert [h.score for h in hybrid] == pytest.approx([1 / (RRF_K + r) for r in range(4)], abs=1e-4)


async def test_collection_of_the_old_single_vector_layout_is_refused(
    index: VectorIndex, tmp_path: Path
) -> None:
    """A collection made by the pre-hybrid layout (one unnamed vector) fails with a clear error."""
    if isinstance(index, EdgeVectorIndex):
        await index.ensure_collection("old_v1", DIM)
        await index.close()
        (tmp_path / "vectors" / "old_v1" / "collection.json").write_text('{"size": 8, "distance": "cosine"}')
        with pytest.raises(ValueError, match="older ragstream layout"):
            await index.search("old_v1", [0.1] * DIM, 3, {})
    else:
        assert isinstance(index, ServerVectorIndex)
        await index._client.create_collection(
            "old_v1", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        )
    with pytest.raises(ValueError, match="older ragstream layout"):
        await index.ensure_collection("old_v1", DIM)


async def test_hybrid_search_ranks_equal_scores_the_same_whatever_the_insertion_order(
    index: VectorIndex,
) -> None:
    """Twelve chunks hold the query's words alike (equal BM25 scores) and equal vectors: two
    collections holding them inserted in opposite orders return the same hits, scores and order.
    The engine's own fusion ranked such ties in the order it met them (services/stores/hybrid.py)."""
    text = "The retention of raw logs is thirty days."
    vec = vectors(1, seed=31)[0].tolist()
    points = [
        VectorPoint(
            f"t{i:02d}",
            vec,
            {"tenant": "a", "text": text, "source_uri": f"golden://doc-{i:02d}.md", "ordinal": 0},
        )
        for i in range(12)
    ]
    results = []
    for name, ordered in (("ties_v1", points), ("ties_v2", points[::-1])):
        await index.ensure_collection(name, DIM)
        for point in ordered:  # one upsert each: the engine meets them in this order
            await index.upsert(name, [point])
        hits = await index.search(name, vec, 5, {"tenant": "a"}, text="raw logs retention")
        results.append([(h.chunk_id, round(h.score, 6)) for h in hits])
    assert results[0] == results[1]
    assert [c for c, _ in results[0]] == ["t00", "t01", "t02", "t03", "t04"]  # document order

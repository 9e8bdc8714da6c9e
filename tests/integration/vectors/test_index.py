"""One behaviour suite for both ``VectorIndex`` adapters (qdrant-edge on disk and qdrant-client):
points, filters, aliases, collections and their layout (the ``index`` fixture: conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, models

from services.stores.hybrid import NAMESPACE, CollectionNotFoundError, point_id
from services.stores.ports import VectorIndex, VectorPoint
from services.stores.vectors_edge import EdgeVectorIndex
from services.stores.vectors_server import ServerVectorIndex
from tests.integration.vectors.support import DIM, make_points, vectors

pytestmark = pytest.mark.integration


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

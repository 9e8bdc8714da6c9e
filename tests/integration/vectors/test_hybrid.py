"""Hybrid search (dense + BM25, fused by the adapters) in both ``VectorIndex`` adapters: exact codes
dense search misses, the dense order without usable text, and equal scores ranked the same whatever
the order the engine met them in."""

from __future__ import annotations

import numpy as np
import pytest

from services.stores.hybrid import RRF_K
from services.stores.ports import VectorIndex, VectorPoint
from tests.integration.vectors.support import DIM, vectors

pytestmark = pytest.mark.integration


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

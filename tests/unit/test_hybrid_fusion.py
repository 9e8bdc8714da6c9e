"""The vector adapters' fusion of dense and BM25 hits (``services.stores.hybrid.fuse``): the same
result whatever order an engine hands equal scores back in."""

from __future__ import annotations

import itertools

import pytest

from services.stores.hybrid import RRF_K, fuse, prefetch_limit, window
from services.stores.ports import VectorHit


def hit(chunk_id: str, score: float, source: str = "golden://doc.md", ordinal: int = 0) -> VectorHit:
    return VectorHit(chunk_id, score, {"source_uri": source, "ordinal": ordinal})


def test_scores_are_reciprocal_ranks_summed_over_the_two_lists() -> None:
    """Ranks from 0, k = RRF_K; a chunk both lists hold gains from each."""
    dense = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)]
    bm25 = [hit("c", 12.0), hit("d", 7.5)]
    fused = {h.chunk_id: h.score for h in fuse([dense, bm25], 5)}
    assert fused == pytest.approx({"a": 1 / RRF_K, "b": 1 / (RRF_K + 1), "c": 1 / (RRF_K + 2) + 1 / RRF_K,
                                   "d": 1 / (RRF_K + 1)})  # fmt: skip


def test_equal_scores_share_a_rank_whatever_order_they_came_in() -> None:
    """Three BM25 hits score alike: each gets the first one's rank, and every order the engine could
    return them in fuses to the same list, ties going by document order, not by chunk id."""
    dense = [hit("x", 0.9, "golden://z.md"), hit("y", 0.5, "golden://z.md", 1)]
    tied = [hit("p", 3.0, "golden://c.md"), hit("q", 3.0, "golden://a.md"), hit("r", 3.0, "golden://b.md")]
    results = {
        tuple((h.chunk_id, round(h.score, 9)) for h in fuse([dense, [hit("top", 4.0), *order]], 4))
        for order in itertools.permutations(tied)
    }
    assert len(results) == 1
    [result] = results
    assert [c for c, _ in result] == ["top", "x", "q", "r"]  # q (a.md) before r (b.md) before p (c.md)
    assert dict(result)["q"] == pytest.approx(1 / (RRF_K + 1))  # rank 1, as are r and p


def test_a_group_of_equal_scores_cut_by_the_read_is_left_out_whole() -> None:
    """When the read is full and its last score continues a group, which members came back is the
    engine's chance: none of them counts. A group that ends inside the read counts whole."""
    limit = 5
    depth, read = prefetch_limit(limit), window(limit)
    leading = [hit(f"h{i}", 100.0 - i) for i in range(depth - 2)]
    group = [hit(f"g{i}", 1.0) for i in range(read - len(leading))]  # fills the read: may go on
    dense = [hit("g0", 0.9)]  # g0 is first in the dense list: what the bm25 list adds shows
    cut = {h.chunk_id: h.score for h in fuse([dense, leading + group], limit)}
    assert cut["g0"] == pytest.approx(1 / RRF_K)  # nothing from its bm25 group
    ended = group[:5] + [hit(f"after{i}", 0.5) for i in range(read - len(leading) - 5)]
    whole = {h.chunk_id: h.score for h in fuse([dense, leading + ended], limit)}
    assert whole["g0"] == pytest.approx(1 / RRF_K + 1 / (RRF_K + depth - 2))


def test_ranks_past_the_prefetch_depth_do_not_count() -> None:
    """A chunk the dense list holds below the prefetch depth gains nothing from it."""
    limit = 5
    depth = prefetch_limit(limit)
    dense = [hit(f"d{i}", 1.0 - i / 100) for i in range(depth + 3)]
    late = f"d{depth + 1}"
    fused = {h.chunk_id: h.score for h in fuse([dense, [hit(late, 9.0)]], limit)}
    assert fused[late] == pytest.approx(1 / RRF_K)
    early = {h.chunk_id: h.score for h in fuse([dense, [hit("d1", 9.0)]], limit)}
    assert early["d1"] == pytest.approx(1 / RRF_K + 1 / (RRF_K + 1))

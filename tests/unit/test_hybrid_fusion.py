"""The vector adapters' fusion of dense and BM25 hits (``services.stores.hybrid.fuse`` and
``settle``): the same result whatever order an engine hands equal scores back in."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from services.stores.hybrid import RRF_K, fuse, prefetch_limit, settle, window


def place(source: str, ordinal: int = 0) -> dict[str, Any]:
    return {"source_uri": source, "ordinal": ordinal}


def test_scores_are_reciprocal_ranks_summed_over_the_two_lists() -> None:
    """Ranks from 0, k = RRF_K; a chunk both lists hold gains from each."""
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    bm25 = [("c", 12.0), ("d", 7.5)]
    assert dict(fuse([dense, bm25], 5)) == pytest.approx(
        {"a": 1 / RRF_K, "b": 1 / (RRF_K + 1), "c": 1 / (RRF_K + 2) + 1 / RRF_K, "d": 1 / (RRF_K + 1)}
    )


def test_equal_scores_share_a_rank_whatever_order_they_came_in() -> None:
    """Three BM25 hits score alike: each gets the first one's rank, and every order the engine could
    return them in settles to the same list, ties going by document order, not by chunk id."""
    dense = [("x", 0.9), ("y", 0.5)]
    tied = [("p", 3.0), ("q", 3.0), ("r", 3.0)]
    payloads = {
        "top": place("golden://m.md"),
        "x": place("golden://z.md"),
        "y": place("golden://z.md", 1),
        "p": place("golden://c.md"),
        "q": place("golden://a.md"),
        "r": place("golden://b.md"),
    }
    results = set()
    for order in itertools.permutations(tied):
        hits = settle(fuse([dense, [("top", 4.0), *order]], 4), payloads, 4)
        results.add(tuple((h.chunk_id, round(h.score, 9)) for h in hits))
    assert len(results) == 1
    [result] = results
    # x (rank 0) ties "top" (rank 0): a.md/b.md/c.md/m.md/z.md order; q, r, p tie at rank 1
    assert [c for c, _ in result] == ["top", "x", "q", "r"]
    assert dict(result)["q"] == pytest.approx(1 / (RRF_K + 1))


def test_the_cut_keeps_every_hit_that_ties_the_last_one() -> None:
    """``fuse`` hands on all hits tying the last kept one, so which of them ``settle`` keeps is decided
    by their payloads, not by the engine's order."""
    fused = fuse([[("a", 0.9), ("b", 0.8)], [("c", 5.0), ("d", 4.0)]], 1)
    assert sorted(p for p, _ in fused) == ["a", "c"]  # both rank 0
    kept = settle(fused, {"a": place("golden://b.md"), "c": place("golden://a.md")}, 1)
    assert [h.chunk_id for h in kept] == ["c"]


def test_a_group_of_equal_scores_cut_by_the_read_is_left_out_whole() -> None:
    """When the read is full and its last score continues a group, which members came back is the
    engine's chance: none of them counts. A group that ends inside the read counts whole."""
    limit = 5
    depth, read = prefetch_limit(limit), window(limit)
    leading = [(f"h{i}", 100.0 - i) for i in range(depth - 2)]
    group = [(f"g{i}", 1.0) for i in range(read - len(leading))]  # fills the read: may go on
    dense = [("g0", 0.9)]  # g0 is first in the dense list: what the bm25 list adds shows
    assert dict(fuse([dense, leading + group], limit))["g0"] == pytest.approx(1 / RRF_K)
    ended = group[:5] + [(f"after{i}", 0.5) for i in range(read - len(leading) - 5)]
    whole = dict(fuse([dense, leading + ended], limit))
    assert whole["g0"] == pytest.approx(1 / RRF_K + 1 / (RRF_K + depth - 2))


def test_ranks_past_the_prefetch_depth_do_not_count() -> None:
    """A chunk the dense list holds below the prefetch depth gains nothing from it."""
    limit = 5
    depth = prefetch_limit(limit)
    dense = [(f"d{i}", 1.0 - i / 100) for i in range(depth + 3)]
    late = f"d{depth + 1}"
    assert dict(fuse([dense, [(late, 9.0)]], limit))[late] == pytest.approx(1 / RRF_K)
    assert dict(fuse([dense, [("d1", 9.0)]], limit))["d1"] == pytest.approx(1 / RRF_K + 1 / (RRF_K + 1))


def test_settled_hits_carry_the_payloads_chunk_id() -> None:
    hits = settle([("uuid-1", 0.5)], {"uuid-1": {"chunk_id": "doc:v1:0", **place("golden://a.md")}}, 5)
    assert [(h.chunk_id, h.payload["source_uri"]) for h in hits] == [("doc:v1:0", "golden://a.md")]

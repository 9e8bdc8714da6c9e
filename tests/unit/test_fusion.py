"""Reciprocal rank fusion of the retrieval rankings: scores, agreement between lists, deterministic ties."""

from __future__ import annotations

import pytest

from services.retrieve.fusion import RRF_K, reciprocal_rank_fusion


def test_scores_are_sums_of_reciprocal_ranks() -> None:
    """Each id scores sum(1 / (k + rank)) over the lists that hold it, ranks counted from 1."""
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})


def test_agreement_beats_a_single_first_place() -> None:
    """An id both lists hold, even low in each, outranks ids only one list holds at the top."""
    vector = ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "both"]
    graph = ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "both"]
    assert reciprocal_rank_fusion([vector, graph])[0][0] == "both"


def test_equal_scores_are_ordered_by_id() -> None:
    """Ties (the same ranks in mirrored lists) come out in id order whatever the input order."""
    one = reciprocal_rank_fusion([["z", "a"], ["a", "z"]])
    two = reciprocal_rank_fusion([["a", "z"], ["z", "a"]])
    assert [i for i, _ in one] == [i for i, _ in two] == ["a", "z"]
    firsts = reciprocal_rank_fusion([["m"], ["b"], ["x"]])
    assert [i for i, _ in firsts] == ["b", "m", "x"]


def test_an_empty_list_changes_nothing() -> None:
    """Fusing with an empty ranking (no graph hits) keeps the other ranking's order."""
    ranking = ["c3", "c1", "c2"]
    assert [i for i, _ in reciprocal_rank_fusion([ranking, []])] == ranking
    assert reciprocal_rank_fusion([[], []]) == []


def test_duplicates_count_once_at_their_first_rank() -> None:
    """An id repeated in one list counts only at its best rank."""
    assert dict(reciprocal_rank_fusion([["a", "a", "b"]])) == pytest.approx({"a": 1 / 61, "b": 1 / 63})


def test_weights_scale_each_list() -> None:
    """A weight multiplies its list's contributions; a weight of zero leaves order to the others."""
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], weights=[1.0, 0.0])
    assert [i for i, _ in fused] == ["a", "b"]
    assert fused[0][1] == pytest.approx(1 / (RRF_K + 1))


def test_bad_arguments_are_refused() -> None:
    """A negative k, or a weight count that does not match the lists, is an error."""
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([["a"]], k=-1)
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])

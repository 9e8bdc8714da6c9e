"""Reciprocal rank fusion of the retrieval rankings: scores, agreement between lists, deterministic ties."""

from __future__ import annotations

import pytest

from services.retrieve.fusion import RRF_K, document_evidence, reciprocal_rank_fusion


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


def test_a_document_answering_in_several_passages_outranks_a_lone_lookalike() -> None:
    """A lone passage first by a little; two passages of another document next: the document's
    other passage lifts each of its own, and only by ``weight`` times it."""
    fused = [("lone", 1 / 61), ("a1", 1 / 62), ("a2", 1 / 63), ("x", 1 / 64)]
    documents = {"lone": "noise", "a1": "policy", "a2": "policy", "x": "other"}
    scored = dict(document_evidence(fused, documents, 0.05))
    assert scored["a1"] == pytest.approx(1 / 62 + 0.05 / 63)
    assert scored["a1"] > scored["lone"] == 1 / 61  # alone in its document: unchanged
    assert scored["x"] == 1 / 64
    assert dict(document_evidence(fused, documents, 0.0)) == dict(fused)  # no weight, no change
    # a chunk whose document is unknown keeps its score and lends none
    assert dict(document_evidence(fused, {"a1": "policy"}, 0.05)) == dict(fused)

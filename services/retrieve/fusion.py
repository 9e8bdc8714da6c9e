"""Rank fusion for retrieval: pure functions, no stores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# The usual constant (Cormack et al., 2009): damps the head so one list's first place cannot
# outvote agreement between lists.
RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked lists of ids: each id scores the sum of ``weight / (k + rank)`` (rank from 1)
    over the lists holding it. Best first; equal scores are ordered by id, so every process and
    every run sees one order. An id repeated within a list counts at its first rank."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[str, float] = {}
    for position, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[position]
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    # Rounded for the sort only: sums of the same terms in another order must not differ in the last bit.
    return sorted(scores.items(), key=lambda pair: (-round(pair[1], 12), pair[0]))


def document_evidence(
    fused: Sequence[tuple[str, float]], document_of: Mapping[str, str], weight: float
) -> list[tuple[str, float]]:
    """Each chunk's fused score plus ``weight`` times the fused scores of the other chunks of its document
    in ``fused``, in the input order (the caller sorts). A document that answers in several passages
    outranks a single passage of an unrelated one that happens to read alike; the passage's own score
    still counts most. Chunks without a known document keep their score."""
    totals: dict[str, float] = {}
    for chunk_id, score in fused:
        document = document_of.get(chunk_id)
        if document is not None:
            totals[document] = totals.get(document, 0.0) + score
    out = []
    for chunk_id, score in fused:
        document = document_of.get(chunk_id)
        others = totals[document] - score if document is not None else 0.0
        out.append((chunk_id, score + weight * others))
    return out

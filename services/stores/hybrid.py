"""What both vector adapters (``vectors_edge``, in-process, and ``vectors_server``, a Qdrant server)
share, so a chunk is stored, named and found the same way by either: point ids, vector names and
layout, the payload keys that are indexed, the hybrid fusion's constants, and the BM25 vectors (the
document and query sides must come from one config)."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import qdrant_edge as qe

from services.stores.ports import Filter, VectorHit

# Fixed namespace so every adapter (and every process) maps a chunk to the same point id.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ragstream:chunk")

# Payload keys the pipeline filters on; they get keyword indexes. ``tenant`` is flagged as the tenant
# key so Qdrant co-locates each tenant's points.
INDEXED_KEYS: tuple[str, ...] = ("tenant", "doc_id", "version")
TENANT_KEY = "tenant"

# Vector names and layout marker, shared with the server adapter.
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
LAYOUT = "hybrid-v1"
# RRF ranking constant: score = sum over the dense and bm25 lists of 1 / (RRF_K + rank), rank counted
# from 0. 2 is Qdrant's own default. A small k lets a first place in one list (an exact identifier hit
# in BM25) outweigh middling ranks elsewhere.
RRF_K = 2
# The engines' scores are float32: equal to six decimals is equal.
SCORE_DIGITS = 6


def prefetch_limit(limit: int) -> int:
    """How deep each hybrid list (dense, bm25) contributes to the fusion: ranks below this count."""
    return max(limit * 4, 20)


def window(limit: int) -> int:
    """How many hits each hybrid list is read to: past ``prefetch_limit``, so a group of equal scores
    that starts above the limit is read whole (``fuse``)."""
    return 2 * prefetch_limit(limit)


def fuse(lists: Sequence[Sequence[tuple[str, float]]], limit: int) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of the dense and bm25 hits (point id and score, each list best first and
    read to ``window(limit)``), the same whatever order an engine returns equal scores in: the best
    ``limit`` and any that tie with the last of them, for ``settle`` to order by their payloads.

    The engines' own fusion (a query with prefetches) ranked equal scores in the order they came, which
    changed from one process to the next: BM25 scores tie often (chunks holding the query's words
    alike), and a chunk's fused score, so the answer, could differ between two indexings of one
    corpus. Here equal scores share a rank (the first of theirs), and a group of equal scores cut by
    the read is left out whole (which of its members came back is the engine's chance). The lists
    are read without payloads: reading them for 80 hits tripled a search's CPU."""
    depth, read = prefetch_limit(limit), window(limit)
    fused: dict[str, float] = {}
    for hits in lists:
        for point, rank in _ranked(hits, depth, read):
            fused[point] = fused.get(point, 0.0) + 1.0 / (RRF_K + rank)
    order = sorted(fused.items(), key=lambda p: -round(p[1], 9))
    if len(order) > limit:
        last = round(order[limit - 1][1], 9)
        order = [p for p in order if round(p[1], 9) >= last]
    return order


def settle(
    fused: Sequence[tuple[str, float]], payloads: Mapping[str, Mapping[str, Any]], limit: int
) -> list[VectorHit]:
    """The fused hits with their payloads, best first, equal fused scores in document order (source
    URI, ordinal), then chunk id, cut at ``limit``."""
    hits = [hit(p, score, payloads.get(p)) for p, score in fused]
    hits.sort(key=lambda h: (-round(h.score, 9), _place(h.payload), h.chunk_id))
    return hits[:limit]


def hit(point: object, score: float, payload: Mapping[str, Any] | None) -> VectorHit:
    """A search hit, named by the chunk id its payload records (the point id when it has none)."""
    payload = payload or {}
    return VectorHit(str(payload.get("chunk_id", point)), score, payload)


def _ranked(hits: Sequence[tuple[str, float]], depth: int, read: int) -> list[tuple[str, int]]:
    """Each hit with its rank, equal scores sharing the first one's; only ranks below ``depth``, and
    none of a group that reaches the end of a full read (it may go on past it)."""
    scores = [round(score, SCORE_DIGITS) for _, score in hits]
    cut = scores[-1] if len(hits) >= read else None
    ranked: list[tuple[str, int]] = []
    rank = 0
    for i, ((point, _), score) in enumerate(zip(hits, scores, strict=True)):
        if i and score != scores[i - 1]:
            rank = i
        if rank >= depth or score == cut:
            break
        ranked.append((point, rank))
    return ranked


def _place(payload: Mapping[str, Any]) -> tuple[str, int]:
    ordinal = payload.get("ordinal")
    return str(payload.get("source_uri", "")), ordinal if isinstance(ordinal, int) else 0


# Defaults: k=1.2, b=0.75, avg_len=256, English word tokenizer, stopwords and stemmer. Document and
# query embeddings must come from the same config, so both adapters use these two functions only.
_BM25 = qe.Bm25(qe.Bm25Config())


def sparse_document(payload: Mapping[str, Any]) -> qe.SparseVector | None:
    """BM25 document vector of ``payload["text"]`` with its document title and section heading (the
    words a chunk is found by include where it sits); None when there is no text (or no token)."""
    text = payload.get("text")
    if not isinstance(text, str):
        return None
    head = [str(payload[k]) for k in ("title", "section") if isinstance(payload.get(k), str) and payload[k]]
    vector = _BM25.embed_document(" ".join([*head, text]))
    return vector if vector.indices else None


@functools.lru_cache(maxsize=16384)
def keywords(text: str) -> frozenset[int]:
    """The keyword ids BM25 indexes for ``text``: words tokenized, lower-cased, stopwords dropped and
    stemmed ("booked" and "book" share one), as the keyword index sees them. Remembered: the answerer
    asks for every sentence of the passages it reads, and the same passages come back for many
    questions."""
    return frozenset(_BM25.embed_query(text).indices)


def sparse_query(text: str) -> qe.SparseVector | None:
    """BM25 query vector (weight 1 per distinct token); None when ``text`` has no indexable token."""
    vector = _BM25.embed_query(text)
    return vector if vector.indices else None


# A name becomes a directory: keep it to one safe path component.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class CollectionNotFoundError(LookupError):
    """Raised (by both vector adapters) when a name is neither a collection nor an alias."""


def point_id(chunk_id: str) -> str:
    """The point id of a chunk: uuid5 of its stable id, so re-upserting a chunk replaces it."""
    return str(uuid.uuid5(NAMESPACE, chunk_id))


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a single safe path component (the edge adapter makes it a directory)."""
    return _NAME_RE.fullmatch(name) is not None


def check_name(name: str, what: str = "collection") -> str:
    """Reject names that are not a single safe path component (they become directories there)."""
    if not is_valid_name(name):
        raise ValueError(f"invalid {what} name {name!r}: use letters, digits, '_', '-', '.' (max 128)")
    return name


def require_filter(must: Filter, must_not: Filter | None) -> None:
    """Deleting with an empty filter would wipe the collection; that is never what a caller means."""
    if not must and not must_not:
        raise ValueError("refusing to delete with an empty filter; drop the collection instead")

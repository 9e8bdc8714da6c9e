"""Ports for the data stores: small protocols the services depend on.

Adapters live beside this module (``vectors_edge``, ``vectors_server``, ``graph_falkor``,
``graph_neo4j``, ``blobs``); ``services.common.bootstrap`` picks one per port at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EntityLabel = Literal["Person", "Organization", "Location", "Concept", "Product"]
RelationType = Literal["WORKS_FOR", "LOCATED_IN", "RELATES_TO", "PART_OF"]
ENTITY_LABELS: tuple[EntityLabel, ...] = ("Person", "Organization", "Location", "Concept", "Product")
RELATION_TYPES: tuple[RelationType, ...] = ("WORKS_FOR", "LOCATED_IN", "RELATES_TO", "PART_OF")

# Payload keys every vector point carries; filters use them. A value matches exactly; a tuple matches
# any of its members (``{"chunk_id": ("a", "b")}``).
Filter = Mapping[str, str | tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class VectorPoint:
    """One chunk's vector. ``chunk_id`` is stable; adapters derive the point id as uuid5(chunk_id)."""

    chunk_id: str
    vector: Sequence[float]
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: str
    score: float
    payload: Mapping[str, Any]


class VectorIndex(Protocol):
    """A set of named collections of vectors with payloads, plus aliases that point at one collection.

    ``must`` filters are exact matches on payload keys (all must hold); ``must_not`` excludes points
    whose payload key equals the value. Collection arguments may be an alias name.
    """

    async def ensure_collection(self, name: str, size: int, model: str | None = None) -> None:
        """Create, or open and check: an index version holds vectors of one size from one embedding
        model (recorded at creation when given; a different one later is refused)."""

    async def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None: ...
    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int,
        must: Filter,
        text: str | None = None,
    ) -> list[VectorHit]:
        """The best ``limit`` points matching ``must``, best first.

        Without ``text``: dense search, scores are cosine similarities of ``vector``. With ``text``
        (the query's words): hybrid search, the dense top ``max(limit*4, 20)`` and the BM25 top of
        ``text`` against each point's ``payload["text"]`` (same filter) fused by reciprocal rank
        fusion; scores are then fused RRF scores (sum of ``1 / (k + rank)``), comparable only within
        one result list. Use ``text`` to find exact identifiers, codes and names dense search misses.
        """
        ...

    async def count(self, collection: str, must: Filter, must_not: Filter | None = None) -> int: ...
    async def delete(self, collection: str, must: Filter, must_not: Filter | None = None) -> None: ...
    async def set_alias(self, alias: str, collection: str) -> None: ...
    async def resolve(self, name: str) -> str | None: ...
    async def collections(self) -> list[str]: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    label: EntityLabel


@dataclass(frozen=True, slots=True)
class Relation:
    source: Entity
    type: RelationType
    target: Entity


@dataclass(frozen=True, slots=True)
class ChunkFacts:
    """What one chunk says, with its provenance; the unit of an idempotent graph write."""

    tenant: str
    doc_id: str
    version: str
    chunk_id: str
    entities: Sequence[Entity] = ()
    relations: Sequence[Relation] = ()


@dataclass(frozen=True, slots=True)
class GraphFact:
    """A relation found around an entity, for search results."""

    source: Entity
    type: str
    target: Entity
    doc_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class GraphChunk:
    """A chunk the graph links to a query's entities: ``direct`` of them it mentions itself, and
    ``indirect`` entities one relation away from them (not themselves looked up) it mentions."""

    chunk_id: str
    doc_id: str
    direct: int = 0
    indirect: int = 0


class GraphStore(Protocol):
    async def write(self, facts: Sequence[ChunkFacts]) -> None:
        """MERGE chunks, entities, mentions and relations. Replaying the same facts changes nothing."""

    async def count_chunks(self, doc_id: str, version: str) -> int: ...

    async def prune_document(self, doc_id: str, keep_version: str | None) -> None:
        """Remove the document's chunks (and relations) of every version but ``keep_version``
        (all of them when None), then entities no chunk mentions any more."""

    async def neighbours(self, tenant: str, names: Sequence[str], limit: int) -> list[GraphFact]: ...
    async def find_entities(self, tenant: str, text: str, limit: int) -> list[Entity]: ...
    async def chunks_for_entities(
        self, tenant: str, names: Sequence[str], limit: int, hops: int = 2
    ) -> list[GraphChunk]:
        """Chunks mentioning the named entities (``hops`` 1), or also their neighbours (2), best
        first: most direct mentions, then most indirect ones, then chunk id."""
        ...

    async def stats(self, tenant: str | None = None) -> dict[str, int]: ...

    async def checkpoint(self, consumer: str, positions: Mapping[str, int]) -> None:
        """Record, in the graph itself, that every message before ``positions`` ("topic:partition" →
        offset) that ``consumer`` handled is in it. Kept with the facts, a checkpoint is as durable as
        they are: a store restored from an older snapshot also holds the older checkpoints, and the
        index stage replays from there (services/index/recovery.py)."""

    async def checkpoints(self, consumer: str) -> dict[str, int]: ...
    async def close(self) -> None: ...


class BlobStore(Protocol):
    """Content-addressed bytes: the claim check for documents too large for a Kafka message."""

    async def put_file(self, path: str) -> tuple[str, str, int]:
        """Store a file by streaming it; returns (uri, sha256 hex, size)."""

    async def put_bytes(self, data: bytes) -> tuple[str, str, int]: ...
    async def get_bytes(self, uri: str) -> bytes:
        """The blob's bytes; ``BlobNotFound`` (a ``FileNotFoundError``) when it is not stored."""

    def local_file(self, uri: str) -> AbstractAsyncContextManager[str]:
        """A path to the blob's bytes on this machine for as long as the context lasts (parsers read
        files: a 100 MB PDF is never held in memory); ``BlobNotFound`` when it is not stored."""
        ...

"""``VectorIndex`` on a Qdrant server through ``qdrant_client.AsyncQdrantClient``.

Production passes ``url``; ``location=":memory:"`` runs qdrant-client's local mode (pure Python, for
tests). Semantics match :mod:`services.stores.vectors_edge`: same point ids, cosine, exact keyword
filters, aliases in the server's own alias table (the server resolves them in every call), and
``CollectionNotFoundError`` for unknown names.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from services.stores.ports import Filter, VectorHit, VectorPoint
from services.stores.vectors_edge import (
    INDEXED_KEYS,
    TENANT_KEY,
    CollectionNotFoundError,
    check_name,
    point_id,
    require_filter,
)

# How local mode words a missing collection (it raises ValueError, the server answers 404).
_LOCAL_NOT_FOUND = re.compile(r"^Collection .+ not found$")


def _server_filter(must: Filter | None, must_not: Filter | None = None) -> models.Filter | None:
    """Exact keyword matches: all of ``must`` hold, none of ``must_not``."""
    if not must and not must_not:
        return None
    return models.Filter(
        must=[
            models.FieldCondition(key=key, match=models.MatchValue(value=value))
            for key, value in (must or {}).items()
        ],
        must_not=[
            models.FieldCondition(key=key, match=models.MatchValue(value=value))
            for key, value in (must_not or {}).items()
        ],
    )


@asynccontextmanager
async def _collection_errors(name: str) -> AsyncIterator[None]:
    """Turn both modes' 'no such collection' into ``CollectionNotFoundError``."""
    try:
        yield
    except UnexpectedResponse as exc:
        if exc.status_code == 404:
            raise CollectionNotFoundError(f"no vector collection or alias named {name!r}") from exc
        raise
    except ValueError as exc:
        if _LOCAL_NOT_FOUND.match(str(exc)):
            raise CollectionNotFoundError(f"no vector collection or alias named {name!r}") from exc
        raise


class ServerVectorIndex:
    """``VectorIndex`` on a Qdrant server (``url``) or qdrant-client local mode (``location=":memory:"``)."""

    def __init__(
        self, url: str | None = None, location: str | None = None, api_key: str | None = None
    ) -> None:
        if (url is None) == (location is None):
            raise ValueError('give exactly one of url="http://host:6333" or location=":memory:"')
        self._client = AsyncQdrantClient(url=url, location=location, api_key=api_key)
        # Local mode keeps no payload indexes (and warns if asked); the server needs them for fast filters.
        self._local = location == ":memory:"

    async def ensure_collection(self, name: str, size: int) -> None:
        """Create the collection (cosine, keyword indexes), or check an existing one holds ``size``."""
        check_name(name)
        if size <= 0:
            raise ValueError(f"vector size must be positive, got {size}")
        collections, aliases = await self._names()
        if name in aliases:
            raise ValueError(f"{name!r} is an alias; collections and aliases share one namespace")
        if name not in collections:
            try:
                await self._client.create_collection(
                    name, vectors_config=models.VectorParams(size=size, distance=models.Distance.COSINE)
                )
            except (UnexpectedResponse, ValueError):
                # Lost a creation race: fine if the winner made it; the checks below decide.
                if not await self._client.collection_exists(name):
                    raise
        info = await self._client.get_collection(name)
        vectors = info.config.params.vectors
        if not isinstance(vectors, models.VectorParams):
            raise ValueError(
                f"collection {name!r} uses named vectors; this adapter expects one unnamed vector"
            )
        if vectors.size != size or vectors.distance != models.Distance.COSINE:
            raise ValueError(
                f"collection {name!r} holds {vectors.distance} vectors of size {vectors.size}, "
                f"not cosine of size {size}; use a new collection (and swap its alias) to change models"
            )
        if not self._local:
            for key in INDEXED_KEYS:  # idempotent on the server
                await self._client.create_payload_index(
                    name,
                    key,
                    field_schema=models.KeywordIndexParams(
                        type=models.KeywordIndexType.KEYWORD, is_tenant=key == TENANT_KEY
                    ),
                    wait=True,
                )

    async def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        structs = [
            models.PointStruct(
                id=point_id(p.chunk_id),
                vector=[float(x) for x in p.vector],
                payload={**p.payload, "chunk_id": p.chunk_id},
            )
            for p in points
        ]
        async with _collection_errors(collection):
            await self._client.upsert(collection, points=structs, wait=True)

    async def search(
        self, collection: str, vector: Sequence[float], limit: int, must: Filter
    ) -> list[VectorHit]:
        async with _collection_errors(collection):
            response = await self._client.query_points(
                collection,
                query=[float(x) for x in vector],
                query_filter=_server_filter(must),
                limit=limit,
                with_payload=True,
            )
        return [
            VectorHit(
                chunk_id=str((p.payload or {}).get("chunk_id", p.id)), score=p.score, payload=p.payload or {}
            )
            for p in response.points
        ]

    async def count(self, collection: str, must: Filter, must_not: Filter | None = None) -> int:
        async with _collection_errors(collection):
            result = await self._client.count(
                collection, count_filter=_server_filter(must, must_not), exact=True
            )
        return result.count

    async def delete(self, collection: str, must: Filter, must_not: Filter | None = None) -> None:
        require_filter(must, must_not)
        selector = models.FilterSelector(filter=_server_filter(must, must_not))
        async with _collection_errors(collection):
            await self._client.delete(collection, points_selector=selector, wait=True)

    async def set_alias(self, alias: str, collection: str) -> None:
        """Point ``alias`` at ``collection`` in one atomic alias update (delete old + create new)."""
        check_name(alias, "alias")
        collections, aliases = await self._names()
        if collection not in collections:
            raise CollectionNotFoundError(f"cannot alias {alias!r} to {collection!r}: no such collection")
        if alias in collections:
            raise ValueError(f"{alias!r} is a collection; collections and aliases share one namespace")
        operations: list[models.AliasOperations] = []
        if alias in aliases:
            # Only delete an alias that exists: deleting an unknown one is an error on some servers.
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        operations.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
            )
        )
        await self._client.update_collection_aliases(change_aliases_operations=operations)

    async def resolve(self, name: str) -> str | None:
        """The collection behind an alias, ``name`` itself if it is a collection, else None."""
        collections, aliases = await self._names()
        if name in aliases:
            return aliases[name]
        return name if name in collections else None

    async def collections(self) -> list[str]:
        return sorted((await self._names())[0])

    async def optimize(self, collection: str) -> bool:
        """No-op: the server runs its optimizers in the background. Present so callers need no type check."""
        if await self.resolve(collection) is None:
            raise CollectionNotFoundError(f"no vector collection or alias named {collection!r}")
        return False

    async def close(self) -> None:
        await self._client.close()

    async def _names(self) -> tuple[set[str], dict[str, str]]:
        """Collection names and alias -> collection. (``collection_exists`` is true for aliases too.)"""
        collections = await self._client.get_collections()
        aliases = await self._client.get_aliases()
        return (
            {c.name for c in collections.collections},
            {a.alias_name: a.collection_name for a in aliases.aliases},
        )

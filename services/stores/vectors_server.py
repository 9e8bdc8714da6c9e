"""``VectorIndex`` on a Qdrant server through ``qdrant_client.AsyncQdrantClient``.

Production passes ``url``; ``location=":memory:"`` runs qdrant-client's local mode (pure Python, for
tests). Semantics match :mod:`services.stores.vectors_edge`: same point ids, the same named dense
vector (cosine) and BM25 sparse vector (IDF modifier, document/query vectors computed client-side by
the ``hybrid`` module's ``qdrant_edge.Bm25`` helpers), the same fusion for hybrid search, exact keyword
filters, aliases in the server's own alias table (the server resolves them in every call), and
``CollectionNotFoundError`` for unknown names.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import qdrant_edge as qe
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from services.stores.hybrid import (
    DENSE_VECTOR,
    INDEXED_KEYS,
    LAYOUT,
    SPARSE_VECTOR,
    TENANT_KEY,
    CollectionNotFoundError,
    check_name,
    fuse,
    hit,
    point_id,
    require_filter,
    settle,
    sparse_document,
    sparse_query,
    window,
)
from services.stores.ports import Filter, VectorHit, VectorPoint

# How local mode words a missing collection (it raises ValueError, the server answers 404).
_LOCAL_NOT_FOUND = re.compile(r"^Collection .+ not found$")


def _sparse(vector: qe.SparseVector | None) -> models.SparseVector | None:
    return None if vector is None else models.SparseVector(indices=vector.indices, values=vector.values)


def _server_filter(must: Filter | None, must_not: Filter | None = None) -> models.Filter | None:
    """Exact keyword matches (a tuple: any of its members): all of ``must`` hold, none of ``must_not``."""
    if not must and not must_not:
        return None

    def condition(key: str, value: str | tuple[str, ...]) -> models.Condition:
        match: models.MatchAny | models.MatchValue = (
            models.MatchAny(any=list(value)) if isinstance(value, tuple) else models.MatchValue(value=value)
        )
        return models.FieldCondition(key=key, match=match)

    return models.Filter(
        must=[condition(key, value) for key, value in (must or {}).items()],
        must_not=[condition(key, value) for key, value in (must_not or {}).items()],
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

    async def ensure_collection(self, name: str, size: int, model: str | None = None) -> None:
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
                    name,
                    vectors_config={
                        DENSE_VECTOR: models.VectorParams(size=size, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={
                        SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                    metadata={"embedding_model": model, "size": size} if model else None,
                )
            except (UnexpectedResponse, ValueError):
                # Lost a creation race: fine if the winner made it; the checks below decide.
                if not await self._client.collection_exists(name):
                    raise
        config = (await self._client.get_collection(name)).config
        params = config.params
        recorded = (getattr(config, "metadata", None) or {}).get("embedding_model")
        if model and recorded and recorded != model:
            raise ValueError(
                f"collection {name!r} holds vectors of model {recorded!r}, not {model!r}; "
                "reindex into a new collection (ragstream reindex) to change models"
            )
        dense = params.vectors.get(DENSE_VECTOR) if isinstance(params.vectors, dict) else None
        sparse = (params.sparse_vectors or {}).get(SPARSE_VECTOR)
        if dense is None or sparse is None or sparse.modifier != models.Modifier.IDF:
            raise ValueError(
                f"collection {name!r} was created by an older ragstream layout (it lacks the named "
                f"{DENSE_VECTOR!r} vector or the IDF {SPARSE_VECTOR!r} sparse vector); re-index into "
                f"a new collection (and swap its alias) to use layout {LAYOUT!r}"
            )
        if dense.size != size or dense.distance != models.Distance.COSINE:
            raise ValueError(
                f"collection {name!r} holds {dense.distance} vectors of size {dense.size}, "
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
        structs = []
        for p in points:
            vectors: dict[str, models.Vector] = {DENSE_VECTOR: [float(x) for x in p.vector]}
            sparse = _sparse(sparse_document(p.payload))
            if sparse is not None:
                vectors[SPARSE_VECTOR] = sparse
            structs.append(
                models.PointStruct(
                    id=point_id(p.chunk_id), vector=vectors, payload={**p.payload, "chunk_id": p.chunk_id}
                )
            )
        async with _collection_errors(collection):
            await self._client.upsert(collection, points=structs, wait=True)

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int,
        must: Filter,
        text: str | None = None,
    ) -> list[VectorHit]:
        """Dense cosine search; with ``text``, dense and BM25 hits fused (``hybrid.fuse``)."""
        dense = [float(x) for x in vector]
        query_filter = _server_filter(must)
        async with _collection_errors(collection):
            if text is None:
                response = await self._client.query_points(
                    collection,
                    query=dense,
                    using=DENSE_VECTOR,
                    query_filter=query_filter,
                    limit=limit,
                    with_payload=True,
                )
            else:
                read = window(limit)
                queries: list[tuple[list[float] | models.SparseVector, str]] = [(dense, DENSE_VECTOR)]
                sparse = _sparse(sparse_query(text))
                if sparse is not None:  # a text of stopwords only: RRF over the dense list alone
                    queries.append((sparse, SPARSE_VECTOR))
                requests = [
                    models.QueryRequest(
                        query=q, using=using, filter=query_filter, limit=read, with_payload=False
                    )
                    for q, using in queries
                ]
                # both lists in one round trip, fused here as the edge adapter fuses (hybrid.fuse),
                # then the winners' payloads in a second
                responses = await self._client.query_batch_points(collection, requests)
                fused = fuse([[(str(p.id), p.score) for p in r.points] for r in responses], limit)
                records = await self._client.retrieve(collection, [p for p, _ in fused], with_payload=True)
                return settle(fused, {str(r.id): r.payload or {} for r in records}, limit)
        return [hit(p.id, p.score, p.payload) for p in response.points]

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

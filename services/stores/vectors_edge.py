"""``VectorIndex`` on qdrant-edge: the Qdrant engine in-process, one shard directory per collection.

Layout under ``root``::

    root/aliases.json              {"alias": "collection", ...}, replaced atomically
    root/<collection>/             the edge shard (edge_config.json, wal/, segments/)
    root/<collection>/collection.json   {"size": N, "distance": "cosine", "layout": "hybrid-v1"}:
                                        marks a finished collection

Each point has a named dense vector ``"dense"`` (cosine) and a sparse vector ``"bm25"`` with the IDF
modifier: the sparse vector holds BM25 term-frequency weights of ``payload["text"]`` computed with
``qdrant_edge.Bm25`` (``hybrid``: the server adapter uses the same helpers), and the engine supplies
IDF at query time. ``search(..., text=...)`` runs both and fuses them with RRF (``hybrid.fuse``).

The edge API is synchronous, so every call runs in ``asyncio.to_thread``. A shard is opened once per
process (its WAL holds a file lock; a second open fails), and each shard has one ``threading.Lock``
taken *inside* the worker thread, so a cancelled awaiter can never let two calls overlap on a shard.
Writes go through the shard's WAL, so they survive ``close()`` and even a crash without ``optimize``;
``optimize`` only reorganises segments (and builds HNSW once a segment is past the indexing threshold).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe

from services.common.files import atomic_write
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
    is_valid_name,
    point_id,
    require_filter,
    settle,
    sparse_document,
    sparse_query,
    window,
)
from services.stores.ports import Filter, VectorHit, VectorPoint

_META_FILE = "collection.json"
_ALIASES_FILE = "aliases.json"

T = TypeVar("T")


def _edge_filter(must: Filter | None, must_not: Filter | None = None) -> qe.Filter | None:
    """Exact keyword matches (a tuple: any of its members): all of ``must`` hold, none of ``must_not``."""
    if not must and not must_not:
        return None

    def condition(key: str, value: str | tuple[str, ...]) -> qe.FieldCondition:
        match = qe.MatchAny(list(value)) if isinstance(value, tuple) else qe.MatchValue(value)
        return qe.FieldCondition(key, match=match)

    return qe.Filter(
        must=[condition(key, value) for key, value in (must or {}).items()],
        must_not=[condition(key, value) for key, value in (must_not or {}).items()],
    )


def _write_json_atomic(path: Path, data: Any) -> None:
    """Readers see the old file or the new one (services/common/files.py)."""
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True).encode(), tmp_prefix=f".{path.name}.")


def _read_size(meta: Path, name: str) -> int:
    """The dense size recorded in a collection marker; refuses collections of an older layout."""
    data = json.loads(meta.read_text(encoding="utf-8"))
    if data.get("layout") != LAYOUT:
        raise ValueError(
            f"collection {name!r} was created by an older ragstream layout (one unnamed dense vector, "
            f"no BM25); re-index into a new collection (and swap its alias) to use layout {LAYOUT!r}"
        )
    return int(data["size"])


@dataclass
class _Shard:
    shard: qe.EdgeShard
    size: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False


class EdgeVectorIndex:
    """``VectorIndex`` over qdrant-edge shards under ``root`` (cosine distance, keyword filters)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, _Shard] = {}
        # Guards ``_shards``, shard creation/opening and the alias file; taken in worker threads only.
        self._registry = threading.Lock()
        self._aliases: dict[str, str] = self._read_aliases()

    # ----------------------------------------------------------------- VectorIndex

    async def ensure_collection(self, name: str, size: int, model: str | None = None) -> None:
        """Create the collection's shard, or open it and check it holds vectors of ``size`` (and of
        ``model``, when both it and the collection record one)."""
        await asyncio.to_thread(self._ensure_collection, check_name(name), size, model)

    async def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None:
        if not points:
            return

        def upsert(shard: _Shard) -> None:
            edge_points = [self._edge_point(p, shard.size) for p in points]
            shard.shard.update(qe.UpdateOperation.upsert_points(edge_points))

        await self._run(collection, upsert)

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int,
        must: Filter,
        text: str | None = None,
    ) -> list[VectorHit]:
        """Dense cosine search; with ``text``, dense and BM25 hits fused (``hybrid.fuse``)."""
        edge_filter = _edge_filter(must)
        sparse = sparse_query(text) if text is not None else None

        def search(shard: _Shard) -> list[VectorHit]:
            dense = qe.Query.Nearest(self._vector(vector, shard.size), using=DENSE_VECTOR)
            if text is None:
                request = qe.QueryRequest(limit=limit, query=dense, filter=edge_filter, with_payload=True)
                return [hit(p.id, p.score, p.payload) for p in shard.shard.query(request)]
            queries = [dense]
            if sparse is not None:  # a text of stopwords only: RRF over the dense list alone
                queries.append(qe.Query.Nearest(sparse, using=SPARSE_VECTOR))
            # Both lists in one planned pass, without payloads; then the winners' payloads alone.
            batch = [qe.QueryRequest(limit=window(limit), query=q, filter=edge_filter, with_payload=False)
                     for q in queries]  # fmt: skip
            lists = shard.shard.query_batch(qe.QueryBatchRequest(batch))
            ids = {str(point.id): point.id for scored in lists for point in scored}
            fused = fuse([[(str(p.id), p.score) for p in scored] for scored in lists], limit)
            records = shard.shard.retrieve([ids[p] for p, _ in fused], with_payload=True, with_vector=False)
            return settle(fused, {str(r.id): r.payload or {} for r in records}, limit)

        return await self._run(collection, search)

    async def count(self, collection: str, must: Filter, must_not: Filter | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=_edge_filter(must, must_not))
        return await self._run(collection, lambda shard: shard.shard.count(request))

    async def delete(self, collection: str, must: Filter, must_not: Filter | None = None) -> None:
        require_filter(must, must_not)
        edge_filter = _edge_filter(must, must_not)
        assert edge_filter is not None
        operation = qe.UpdateOperation.delete_points_by_filter(edge_filter)
        await self._run(collection, lambda shard: shard.shard.update(operation))

    async def set_alias(self, alias: str, collection: str) -> None:
        """Point ``alias`` at an existing collection (not at an alias), replacing any old target."""
        await asyncio.to_thread(self._set_alias, check_name(alias, "alias"), collection)

    async def resolve(self, name: str) -> str | None:
        """The collection behind an alias, ``name`` itself if it is a collection, else None."""
        return await asyncio.to_thread(self._resolve, name)

    async def collections(self) -> list[str]:
        return await asyncio.to_thread(self._collections)

    async def close(self) -> None:
        """Flush and close every open shard; the index can be used again (shards reopen lazily)."""
        await asyncio.to_thread(self._close_all)

    # ----------------------------------------------------------------- edge-only

    async def optimize(self, collection: str) -> bool:
        """Merge segments and build HNSW after a bulk load (edge runs no background optimizer).

        Returns True if anything was rebuilt. Blocks the shard while it runs: seconds per 10k vectors.
        """
        return await self._run(collection, lambda shard: shard.shard.optimize())

    # ----------------------------------------------------------------- internals

    async def _run(self, name: str, call: Callable[[_Shard], T]) -> T:
        """Open the shard behind ``name`` and run ``call`` on it under its lock, in one worker thread."""

        def work() -> T:
            while True:
                shard = self._open(name)
                with shard.lock:
                    if not shard.closed:  # else close() won the race: loop and reopen
                        return call(shard)

        return await asyncio.to_thread(work)

    def _edge_point(self, point: VectorPoint, size: int) -> qe.Point:
        payload = {**point.payload, "chunk_id": point.chunk_id}
        vectors: dict[str, qe.NamedVector] = {DENSE_VECTOR: self._vector(point.vector, size)}
        sparse = sparse_document(point.payload)
        if sparse is not None:
            vectors[SPARSE_VECTOR] = sparse
        return qe.Point(point_id(point.chunk_id), vectors, payload)

    @staticmethod
    def _vector(vector: Sequence[float], size: int) -> list[float]:
        values = [float(x) for x in vector]
        if len(values) != size:
            raise ValueError(f"vector has {len(values)} dimensions, the collection holds {size}")
        return values

    def _path(self, collection: str) -> Path:
        return self.root / collection

    def _is_collection(self, name: str) -> bool:
        return is_valid_name(name) and (self._path(name) / _META_FILE).is_file()

    def _resolve(self, name: str) -> str | None:
        target = self._aliases.get(name)
        if target is not None:
            return target if self._is_collection(target) else None
        return name if self._is_collection(name) else None

    def _open(self, name: str) -> _Shard:
        """The open shard for a collection or alias, loading it from disk on first use."""
        with self._registry:
            collection = self._resolve(name)
            if collection is None:
                raise CollectionNotFoundError(f"no vector collection or alias named {name!r}")
            shard = self._shards.get(collection)
            if shard is None:
                size = _read_size(self._path(collection) / _META_FILE, collection)
                shard = _Shard(qe.EdgeShard.load(str(self._path(collection)), self._config(size)), size)
                self._shards[collection] = shard
            return shard

    @staticmethod
    def _config(size: int) -> qe.EdgeConfig:
        return qe.EdgeConfig(
            vectors={DENSE_VECTOR: qe.EdgeVectorParams(size=size, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )

    def _ensure_collection(self, name: str, size: int, model: str | None = None) -> None:
        if size <= 0:
            raise ValueError(f"vector size must be positive, got {size}")
        with self._registry:
            if name in self._aliases:
                raise ValueError(f"{name!r} is an alias; collections and aliases share one namespace")
            path = self._path(name)
            meta = path / _META_FILE
            if meta.is_file():
                existing = _read_size(meta, name)
                if existing != size:
                    raise ValueError(
                        f"collection {name!r} holds vectors of size {existing}, not {size}; "
                        "use a new collection (and swap its alias) to change models"
                    )
                recorded = json.loads(meta.read_text(encoding="utf-8")).get("model")
                if model and recorded and recorded != model:
                    raise ValueError(
                        f"collection {name!r} holds vectors of model {recorded!r}, not {model!r}; "
                        "reindex into a new collection (ragstream reindex) to change models"
                    )
                if name not in self._shards:
                    self._shards[name] = _Shard(qe.EdgeShard.load(str(path), self._config(size)), size)
                return
            # No marker: new, or a crash between creating the shard and writing the marker.
            if (path / "edge_config.json").is_file():
                try:  # load with the config: edge refuses it if the stored vector size differs
                    shard = qe.EdgeShard.load(str(path), self._config(size))
                except Exception as exc:
                    raise ValueError(f"collection {name!r} exists with another configuration: {exc}") from exc
            else:
                shard = qe.EdgeShard.create(str(path), self._config(size))
            try:
                for key in INDEXED_KEYS:
                    params = qe.KeywordIndexParams(is_tenant=key == TENANT_KEY)
                    shard.update(qe.UpdateOperation.create_field_index(key, params))
                shard.flush()
                marker = {"size": size, "distance": "cosine", "layout": LAYOUT, "model": model}
                _write_json_atomic(meta, marker)
            except BaseException:
                shard.close()
                raise
            self._shards[name] = _Shard(shard, size)

    def _set_alias(self, alias: str, collection: str) -> None:
        with self._registry:
            if not self._is_collection(collection):
                raise CollectionNotFoundError(f"cannot alias {alias!r} to {collection!r}: no such collection")
            if self._is_collection(alias):
                raise ValueError(f"{alias!r} is a collection; collections and aliases share one namespace")
            aliases = {**self._aliases, alias: collection}
            _write_json_atomic(self.root / _ALIASES_FILE, aliases)
            self._aliases = aliases

    def _read_aliases(self) -> dict[str, str]:
        path = self.root / _ALIASES_FILE
        if not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path} is not a JSON object of alias -> collection")
        return {str(k): str(v) for k, v in data.items()}

    def _collections(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._is_collection(p.name))

    def _close_all(self) -> None:
        with self._registry:
            shards, self._shards = self._shards, {}
        errors: list[BaseException] = []
        for shard in shards.values():
            with shard.lock:
                shard.closed = True
                try:
                    shard.shard.flush()
                    shard.shard.close()
                except Exception as exc:  # close the rest, then report
                    errors.append(exc)
        if errors:
            raise RuntimeError(f"failed to close {len(errors)} edge shard(s): {errors}") from errors[0]

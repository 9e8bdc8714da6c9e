"""A tenant-scoped semantic answer cache in Redis.

An entry is (query vector, answer, citations) under ``<prefix>sc:<tenant>:<version>``, where the
version names the index version (the collection behind the alias) plus the tenant's content epoch.
A reindex swaps the collection and every document indexed or deleted bumps the epoch (see
``CacheInvalidator``), so a cached answer never outlives the data it was built from: old entries
are simply never read again and expire with their TTL.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    question: str
    answer: str
    citations: list[dict[str, Any]]
    similarity: float


class SemanticCache:
    def __init__(
        self,
        redis: Redis,
        prefix: str = "ragstream:",
        threshold: float = 0.95,
        max_entries: int = 500,
        ttl_s: int = 24 * 3600,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.threshold = threshold
        self.max_entries = max_entries
        self.ttl_s = ttl_s

    def _epoch_key(self, tenant: str) -> str:
        return f"{self.prefix}sc-epoch:{tenant}"

    async def version(self, tenant: str, collection: str | None) -> str:
        epoch = await self.redis.get(self._epoch_key(tenant))
        return f"{collection or 'none'}@{int(epoch or 0)}"

    async def bump(self, tenant: str) -> int:
        """The tenant's content changed: every cached answer of it is stale from now on."""
        return int(await self.redis.incr(self._epoch_key(tenant)))

    def _key(self, tenant: str, version: str) -> str:
        return f"{self.prefix}sc:{tenant}:{version}"

    async def get(self, tenant: str, version: str, vector: list[float]) -> CachedAnswer | None:
        entries = await self.redis.hgetall(self._key(tenant, version))
        if not entries:
            return None
        query = np.asarray(vector, dtype=np.float32)
        best: tuple[float, dict[str, Any]] | None = None
        for raw in entries.values():
            entry = json.loads(raw)
            stored = np.frombuffer(base64.b64decode(entry["v"]), dtype=np.float32)
            similarity = float(stored @ query / ((np.linalg.norm(stored) * np.linalg.norm(query)) or 1.0))
            if best is None or similarity > best[0]:
                best = (similarity, entry)
        if best is None or best[0] < self.threshold:
            return None
        entry = best[1]
        return CachedAnswer(entry["q"], entry["a"], entry["c"], round(best[0], 4))

    async def put(
        self,
        tenant: str,
        version: str,
        vector: list[float],
        question: str,
        answer: str,
        citations: list[dict[str, Any]],
    ) -> None:
        key = self._key(tenant, version)
        field = hashlib.sha256(question.strip().lower().encode()).hexdigest()[:16]
        packed = base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()
        value = json.dumps({"q": question, "a": answer, "c": citations, "v": packed})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, field, value)
            pipe.expire(key, self.ttl_s)
            pipe.hlen(key)
            _, _, size = await pipe.execute()
        if size > self.max_entries:
            # Bounded: drop arbitrary surplus entries (the hash is small); a cache miss is always safe.
            surplus = int(size) - self.max_entries
            fields = [f for f in await self.redis.hkeys(key) if f != field.encode()][:surplus]
            if fields:
                await self.redis.hdel(key, *fields)

"""A tenant-scoped semantic answer cache in Redis that never answers a different question.

An entry is (question, its key terms, query vector, answer, citations) under
``<prefix>sc:<tenant>:<version>``. The prefix names the deployment (``Settings.deployment_id``),
so two stacks sharing one Redis never read each other's answers; the version names the index
version (the collection behind the alias) plus the tenant's content epoch. A reindex swaps the
collection and every document indexed or deleted bumps the epoch (see ``CacheInvalidator``), so
a cached answer never outlives the data it was built from: old entries are never read again and
expire with their TTL.

A lookup hits in two tiers, both of which must ask *the same thing*:
1. the same question after normalisation (case, Unicode form, spacing, trailing punctuation);
2. a question whose key terms (every content word: identifiers, numbers, names, negations) are
   exactly the stored question's, and whose embedding is within ``threshold`` cosine of it.
Cosine alone is not enough: "the price of item 011" and "the price of item 012" embed at ~0.98.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
from redis.asyncio import Redis

# Words that change how a question is phrased, never what it asks about. Negations, comparisons
# and quantities ("not", "before", "more", "first") are deliberately absent: they change the answer.
_PHRASING = """a an the of in on at to for from by with about into over under as and or but if then
    what which who whom whose when where why how is are was were be been being do does did done
    can could would should will shall may might must please tell me us show give explain describe
    i you we they he she it its it's this that these those there here my our your their his her
    any some s d ll re ve m"""
PHRASING_WORDS = frozenset(_PHRASING.split())
_TOKEN = re.compile(r"\w+(?:[._/:-]\w+)*")


def normalise(question: str) -> str:
    """The question as the exact tier compares it: NFKC, case-folded, single spaces, no end punctuation."""
    text = " ".join(unicodedata.normalize("NFKC", question).casefold().split())
    return text.rstrip(" ?!.;:")


def _stem(word: str) -> str:
    """A plural's singular, for plain words only: identifiers and numbers are compared as written."""
    if word.isalpha() and len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def key_terms(question: str) -> frozenset[str]:
    """Every content word of the question: two questions with different key terms ask different things."""
    words = _TOKEN.findall(normalise(question))  # "item 011's" → item, 011, s; "don't" → don, t
    return frozenset(_stem(w) for w in words if w not in PHRASING_WORDS)


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    question: str
    answer: str
    citations: list[dict[str, Any]]
    similarity: float
    index_version: str = ""  # the collection the cached answer belongs to (set by the agent's view)


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

    @staticmethod
    def _field(question: str) -> str:
        return hashlib.sha256(normalise(question).encode()).hexdigest()[:16]

    async def get(self, tenant: str, version: str, question: str, vector: list[float]) -> CachedAnswer | None:
        key = self._key(tenant, version)
        exact = await self.redis.hget(key, self._field(question))
        if exact is not None:
            entry = json.loads(exact)
            return CachedAnswer(entry["q"], entry["a"], entry["c"], 1.0)
        terms = key_terms(question)
        query = np.asarray(vector, dtype=np.float32)
        best: tuple[float, dict[str, Any]] | None = None
        for raw in (await self.redis.hgetall(key)).values():
            entry = json.loads(raw)
            if frozenset(entry.get("t", ())) != terms:
                continue  # another identifier, number, name or negation: another question
            stored = np.frombuffer(base64.b64decode(entry["v"]), dtype=np.float32)
            similarity = float(stored @ query / ((np.linalg.norm(stored) * np.linalg.norm(query)) or 1.0))
            if best is None or similarity > best[0]:
                best = (similarity, entry)
        if best is None or best[0] < self.threshold:
            return None
        entry = best[1]
        return CachedAnswer(entry["q"], entry["a"], entry["c"], round(best[0], 4))

    async def forget(self, tenant: str, version: str, question: str) -> None:
        """Drop one entry (its citations point at chunks that no longer exist)."""
        await self.redis.hdel(self._key(tenant, version), self._field(question))

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
        field = self._field(question)
        packed = base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()
        terms = sorted(key_terms(question))
        value = json.dumps({"q": question, "t": terms, "a": answer, "c": citations, "v": packed})
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

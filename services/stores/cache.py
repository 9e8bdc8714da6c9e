"""A tenant-scoped semantic answer cache in Redis that never answers a different question.

An entry is (question, its key terms, query vector, answer, citations, when it was stored) under
``<prefix>sc2:<tenant>:<version>``. The prefix names the deployment (``Settings.deployment_id``),
so two stacks sharing one Redis never read each other's answers; the version names the index
version (the collection behind the alias) plus the tenant's content epoch. A reindex swaps the
collection and every document indexed or deleted bumps the epoch (see ``CacheInvalidator``), so
a cached answer never outlives the data it was built from: old entries are never read again and
expire with their TTL. The agent stores an answer under the version it read *before* retrieving,
so an answer computed while a document was being indexed lands under the old epoch, unread.

A lookup hits in two tiers, both of which must ask *the same thing*:
1. the same question after normalisation (spacing, Unicode composition, the case of ordinary words,
   a closing question mark or full stop): "10 Mb" is not "10 MB", "ls -S" not "ls -s", "IT" not
   "it", "5!" not "5";
2. a question whose key terms are the stored question's, in the same order, and whose embedding is
   within ``threshold`` cosine of it. Key terms are every word but articles, politeness and the
   present tense's helpers ("What's the price of X?", "Tell me the price of X"): who/when/why,
   prepositions, negations, numbers, signs and units all stay, so "from Paris to Lyon" is not
   "from Lyon to Paris" and "over 40" not "under 40".
Cosine alone is not enough: "the price of item 011" and "the price of item 012" embed at ~0.98.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
from redis.asyncio import Redis

# Words that change how a question is phrased, never what it asks: articles, politeness, "what" and
# "which", and the present tense's helpers ("What's", "Does it ..."). Tense ("was", "did"), modals,
# prepositions, who/when/where/why/how, negations and pronouns all change the answer: they stay.
_PHRASING = "a an the please tell me show give explain describe what which is are do does"
PHRASING_WORDS = frozenset(_PHRASING.split())
# Words with their joins (identifiers), every sign that is not plain punctuation ($, €, %, °, -, ²),
# and a factorial's "!".
_TOKEN = re.compile(r"\w+(?:[._/:-]\w+)*|[^\w\s,;:!?.'\"’()\[\]{}]|(?<=\d)!")
_IS = re.compile(r"(?<=\w)['’]s\b")  # "What's", "item 011's": the phrasing's "is", or a possessive
_END = re.compile(r"(?:(?<!\d)[?!.]+|[?.]+)$")


def _fold(word: re.Match[str]) -> str:
    """A word's case where it carries no meaning: a sentence's capital ("What", so also "Mb"), a long
    word in capitals ("ITEM"). Kept where it may: short words in capitals or mixed case ("MB", "mA",
    "IT"), single capitals (flags "-S"), and words with digits ("10Mb")."""
    w = word.group(0)
    if any(ch.isdigit() for ch in w) and not w.isdigit():
        return w
    if len(w) >= 4 or w.islower() or (len(w) >= 2 and w[0].isupper() and w[1:].islower()):
        return w.casefold()
    return w


def normalise(question: str) -> str:
    """The question as the exact tier compares it: NFC, single spaces, ordinary words lower-cased, a
    closing question mark or full stop dropped (an exclamation after a number is a factorial)."""
    text = " ".join(unicodedata.normalize("NFC", question).split())
    return _END.sub("", re.sub(r"\w+", _fold, text)).rstrip()


def key_terms(question: str) -> tuple[str, ...]:
    """The question's words in order, phrasing words dropped: two questions whose key terms differ
    in any word, sign or order ask different things."""
    words = _TOKEN.findall(_IS.sub("", normalise(question)))  # "don't" → don, t
    return tuple(w for w in words if w not in PHRASING_WORDS)


def collection_in(version: str) -> str:
    """The collection a cache version names ("chunks_v2@7": "chunks_v2"; "" for none)."""
    collection = version.rsplit("@", 1)[0]
    return "" if collection == "none" else collection


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
        # "sc2": the entries' key terms are ordered since the second form (the first's were a set)
        return f"{self.prefix}sc2:{tenant}:{version}"

    @staticmethod
    def _field(question: str) -> str:
        return hashlib.sha256(normalise(question).encode()).hexdigest()[:16]

    async def get(self, tenant: str, version: str, question: str, vector: list[float]) -> CachedAnswer | None:
        key = self._key(tenant, version)
        oldest = time.time() - self.ttl_s  # the hash's TTL restarts with every put: each entry has its own
        exact = await self.redis.hget(key, self._field(question))
        if exact is not None:
            entry = json.loads(exact)
            if entry.get("at", 0) >= oldest:
                return CachedAnswer(entry["q"], entry["a"], entry["c"], 1.0)
        terms = list(key_terms(question))
        query = np.asarray(vector, dtype=np.float32)
        best: tuple[float, dict[str, Any]] | None = None
        for raw in (await self.redis.hgetall(key)).values():
            entry = json.loads(raw)
            if entry.get("t") != terms or entry.get("at", 0) < oldest:
                continue  # another word, number, sign or order: another question
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
        terms = list(key_terms(question))
        entry = {"q": question, "t": terms, "a": answer, "c": citations, "v": packed, "at": time.time()}
        value = json.dumps(entry)
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

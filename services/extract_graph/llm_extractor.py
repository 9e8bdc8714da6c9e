"""Graph extraction by an LLM with guided JSON, behind the same result type as the rules.

The model is asked for ``EXTRACTION_JSON_SCHEMA`` (bounded: at most 16 entities and 16 relations)
and the server constrains its output to it, so the answer always parses unless it was cut at
``max_tokens``. What comes back is then held to the text: an entity whose name does not occur in the
chunk is dropped (a model, small ones above all, invents names), and so is any relation that loses an
endpoint. A cut or invalid answer falls back to the rule extractor for that chunk, and the record
says which extractor produced it.

Results are cached by (model, prompt version, chunk text hash), so a replay or a reindex never pays
for the same chunk twice; the cache is Redis (shared by every extract-graph worker). An unreachable
model raises ``ModelUnavailable``: the stage waits for it (backpressure), it never dead-letters.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter
from redis.exceptions import RedisError

from services.extract_graph.extractor import EXTRACTION_JSON_SCHEMA, Extraction, RuleExtractor
from services.models.http import ModelRequestError, ModelUnavailable
from services.models.llm import ChatModel, ModelOutputError
from services.stores.ports import ENTITY_LABELS, RELATION_TYPES

log = structlog.get_logger("ragstream.extract")

PROMPT_VERSION = "v1"
MAX_ITEMS = 16
CACHE_OUTCOMES = Counter("ragstream_extract_cache_total", "LLM extraction cache lookups", ["outcome"])


def bounded_schema(max_items: int = MAX_ITEMS) -> dict[str, Any]:
    schema = copy.deepcopy(EXTRACTION_JSON_SCHEMA)
    for key in ("entities", "relations"):
        schema["properties"][key]["maxItems"] = max_items
    return schema


SYSTEM_PROMPT = (
    "Extract a knowledge graph from the text. Answer with JSON only.\n"
    f"entities: people, organizations, places, products and key concepts named in the text, each with a "
    f"label from {', '.join(ENTITY_LABELS)}. Copy names exactly as written.\n"
    f"relations: between those entities, with a type from {', '.join(RELATION_TYPES)}: WORKS_FOR "
    "(person → organization), LOCATED_IN (→ place), PART_OF (part → whole), RELATES_TO otherwise.\n"
    "List each entity once. Leave a list empty rather than guess."
)


def grounded(extraction: Extraction, text: str) -> Extraction:
    """Only what the text names: entities absent from it, and relations that lose an endpoint, go."""
    haystack = " ".join(text.split()).casefold()
    kept = [e for e in extraction.entities if " ".join(e.name.split()).casefold() in haystack]
    keys = {(e.name, e.label) for e in kept}
    relations = [
        r
        for r in extraction.relations
        if (r.source.name, r.source.label) in keys and (r.target.name, r.target.label) in keys
    ]
    return Extraction.build(kept, relations)


@dataclass(frozen=True)
class Extracted:
    extraction: Extraction
    extractor: str  # which extractor produced it: "llm:<model>" or "rules (llm fallback: ...)"


class LLMGraphExtractor:
    """Asks the model per chunk (bounded concurrency), grounded, cached, with a rules fallback."""

    def __init__(
        self,
        llm: ChatModel,
        redis: Any | None = None,
        prefix: str = "ragstream:",
        concurrency: int = 4,
        max_tokens: int = 512,
        fallback: RuleExtractor | None = None,
    ) -> None:
        self.llm = llm
        self.redis = redis
        self.prefix = prefix
        self.max_tokens = max_tokens
        self.fallback = fallback or RuleExtractor()
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._schema = bounded_schema()
        self.name = f"llm:{llm.model}"
        self.calls = 0  # model calls made (a cache hit makes none)

    def cache_key(self, text: str) -> str:
        digest = hashlib.sha256(f"{self.llm.model}\0{PROMPT_VERSION}\0{text}".encode()).hexdigest()
        return f"{self.prefix}extract:{digest}"

    async def _cached(self, key: str) -> Extracted | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(key)
        except RedisError as exc:  # a cache, not a dependency
            log.warning("extraction cache unavailable", error=str(exc))
            return None
        if raw is None:
            CACHE_OUTCOMES.labels("miss").inc()
            return None
        CACHE_OUTCOMES.labels("hit").inc()
        data = json.loads(raw)
        return Extracted(Extraction.from_dict(data["graph"]), data["extractor"])

    async def _store(self, key: str, found: Extracted) -> None:
        if self.redis is None:
            return
        value = json.dumps({"graph": found.extraction.to_dict(), "extractor": found.extractor})
        try:
            await self.redis.set(key, value)
        except RedisError as exc:
            log.warning("extraction cache unavailable", error=str(exc))

    async def _ask(self, text: str) -> Extracted:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
        self.calls += 1
        try:
            data = await self.llm.json(messages, self._schema, name="graph", max_tokens=self.max_tokens)
        except (ModelOutputError, ModelRequestError) as exc:
            # a refused request (a chunk over the model's context: the chunker counts MiniLM's tokens)
            # is this chunk's, not the server's: the rules extract it, so its document completes
            log.info("llm extraction unusable; rules instead", error=str(exc)[:200])
            return Extracted(self.fallback.extract(text), f"rules (llm fallback: {str(exc)[:80]})")
        return Extracted(grounded(Extraction.from_dict(data), text), self.name)

    async def extract_one(self, text: str) -> Extracted:
        if not text.strip():
            return Extracted(Extraction.build([]), self.name)
        key = self.cache_key(text)
        hit = await self._cached(key)
        if hit is not None:
            return hit
        async with self._slots:
            found = await self._ask(text)
        await self._store(key, found)
        return found

    async def extract_many(self, texts: Sequence[str]) -> list[Extracted]:
        """One result per text, in order; raises ModelUnavailable when the model cannot be reached."""
        return list(await asyncio.gather(*(self.extract_one(t) for t in texts)))


__all__ = ["Extracted", "LLMGraphExtractor", "ModelUnavailable", "bounded_schema", "grounded"]

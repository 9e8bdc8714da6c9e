"""The semantic answer cache on the machine's real Redis: similar questions hit, others miss, and a
new index version or a content change makes every cached answer unreachable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest
from redis.asyncio import Redis

from services.stores.cache import SemanticCache

pytestmark = pytest.mark.integration


@pytest.fixture
async def cache() -> AsyncIterator[SemanticCache]:
    """A cache under a unique key prefix in the local Redis (must be running); cleaned afterwards."""
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"test:sc:{uuid.uuid4().hex[:8]}:"
    yield SemanticCache(redis, prefix=prefix, threshold=0.95, max_entries=5)
    async for key in redis.scan_iter(f"{prefix}*"):
        await redis.delete(key)
    await redis.aclose()


def unit(seed: int, dim: int = 16) -> list[float]:
    v = np.random.default_rng(seed).normal(size=dim)
    return list(v / np.linalg.norm(v))


async def test_near_duplicate_question_hits_and_a_different_one_misses(cache: SemanticCache) -> None:
    """A vector within the threshold returns the stored answer; an unrelated one returns nothing."""
    version = await cache.version("t", "chunks_v1")
    await cache.put("t", version, unit(1), "Who works for Helios?", "Greta does. [1]", [{"n": 1}])
    near = list(np.asarray(unit(1)) + 0.01 * np.asarray(unit(2)))
    hit = await cache.get("t", version, near)
    assert hit is not None
    assert (hit.answer, hit.citations) == ("Greta does. [1]", [{"n": 1}])
    assert hit.similarity >= 0.95
    assert await cache.get("t", version, unit(3)) is None


async def test_tenants_do_not_share_answers(cache: SemanticCache) -> None:
    """Another tenant never sees a cached answer."""
    version = await cache.version("t", "chunks_v1")
    await cache.put("t", version, unit(1), "q", "a", [])
    assert await cache.get("other", await cache.version("other", "chunks_v1"), unit(1)) is None


async def test_new_index_version_and_content_change_invalidate(cache: SemanticCache) -> None:
    """A new collection or a bumped tenant epoch changes the version: old answers are unreachable."""
    v1 = await cache.version("t", "chunks_v1")
    await cache.put("t", v1, unit(1), "q", "a", [])
    assert await cache.get("t", await cache.version("t", "chunks_v2"), unit(1)) is None
    await cache.bump("t")
    after = await cache.version("t", "chunks_v1")
    assert after != v1
    assert await cache.get("t", after, unit(1)) is None


async def test_entries_are_bounded(cache: SemanticCache) -> None:
    """More questions than max_entries keep the cache at its bound."""
    version = await cache.version("t", "c")
    for i in range(12):
        await cache.put("t", version, unit(i), f"question {i}", "a", [])
    assert await cache.redis.hlen(cache._key("t", version)) == 5

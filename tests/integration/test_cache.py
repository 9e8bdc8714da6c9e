"""The semantic answer cache on the machine's real Redis: the same question hits, a question that
differs in one identifier, number or name never does, a new index version or a content change
makes every cached answer unreachable, and two deployments sharing one Redis never share answers."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from redis.asyncio import Redis

from services.agent.graph import build_graph
from services.agent.wiring import agent_deps, ask_inprocess, new_state
from services.common import ids
from services.common.messages import AgentState
from services.common.settings import Settings
from services.publisher import source_uri
from services.stores.cache import SemanticCache, key_terms
from tests.support import IndexedStores, examples_indexed_inprocess

pytestmark = pytest.mark.integration
TENANT = "acme"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url("redis://127.0.0.1:6379/0")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A unique key prefix in the local Redis (shared with other tests: only our keys are removed)."""
    prefix = f"test:sc:{uuid.uuid4().hex[:8]}:"
    yield prefix
    async for key in redis.scan_iter(f"{prefix}*"):
        await redis.delete(key)


@pytest.fixture
def cache(redis: Redis, prefix: str) -> SemanticCache:
    return SemanticCache(redis, prefix=prefix, threshold=0.95, max_entries=5)


def unit(seed: int, dim: int = 16) -> list[float]:
    v = np.random.default_rng(seed).normal(size=dim)
    return list(v / np.linalg.norm(v))


def near(seed: int) -> list[float]:
    return list(np.asarray(unit(seed)) + 0.01 * np.asarray(unit(seed + 100)))


async def test_near_duplicate_question_hits_and_a_different_one_misses(cache: SemanticCache) -> None:
    """Same key terms and a vector within the threshold return the stored answer; an unrelated
    vector with the same terms returns nothing."""
    version = await cache.version("t", "chunks_v1")
    await cache.put("t", version, unit(1), "Who works for Helios?", "Greta does. [1]", [{"n": 1}])
    hit = await cache.get("t", version, "who works for helios", near(1))
    assert hit is not None
    assert (hit.answer, hit.citations) == ("Greta does. [1]", [{"n": 1}])
    assert await cache.get("t", version, "Please, who works for Helios?", near(1)) is not None
    assert await cache.get("t", version, "Who works for HELIOS.", unit(3)) is not None  # exact tier
    assert await cache.get("t", version, "Who works at Helios?", unit(3)) is None
    assert await cache.get("t", version, "Helios: who works for it?", near(1)) is None  # other words


async def test_a_question_differing_in_one_identifier_number_or_name_misses(cache: SemanticCache) -> None:
    """However close the vectors, another identifier, number, name or a negation is another question."""
    version = await cache.version("t", "chunks_v1")
    await cache.put("t", version, unit(1), "What does item 011 cost?", "40 euros [1]", [])
    for other in (
        "What does item 012 cost?",
        "What does item 11 cost?",
        "What does item 011-b cost?",
        "What does item 011 cost in 2025?",
        "What does Item 011 not cost?",
        "What doesn't item 011 cost?",
    ):
        assert await cache.get("t", version, other, unit(1)) is None, other
    assert await cache.get("t", version, "what does ITEM 011 cost", near(1)) is not None


# Pairs a review found sharing one entry in the first form of the tiers (a set of key terms with
# who/when, prepositions and single letters dropped, an exact tier that folded every case and NFKC).
ANOTHER_QUESTION = [
    ("Did Acme acquire Helios?", "Did Helios acquire Acme?"),
    ("Flights from Paris to Lyon?", "Flights from Lyon to Paris?"),
    ("Which employees are over 40?", "Which employees are under 40?"),
    ("When did Priya join Acme?", "Why did Priya join Acme?"),
    ("Who founded Helios?", "When was Helios founded?"),
    ("Who is the CEO?", "Who was the CEO?"),
    ("How much vitamin A is in it?", "How much vitamin D is in it?"),
    ("What is the GDP of the US?", "What is the GDP?"),
    ("Is the fee $100?", "Is the fee €100?"),
    ("Does it work at -40 degrees?", "Does it work at 40 degrees?"),
    ("Is the discount 5%?", "Is the discount 5?"),
    ("Is the quota 10 Mb?", "Is the quota 10 MB?"),
    ("Is the limit 5 mA?", "Is the limit 5 MA?"),
    ("What does ls -S do?", "What does ls -s do?"),
    ("What is 10²?", "What is 102?"),
    ("What is 5!", "What is 5?"),
    ("Is IT open on Sunday?", "Is it open on Sunday?"),
    ("Who is Mr Roberts?", "Who is Mr Robert?"),
]


@pytest.mark.parametrize(("stored", "asked"), ANOTHER_QUESTION)
async def test_words_signs_case_and_order_that_change_the_question_miss(
    cache: SemanticCache, stored: str, asked: str
) -> None:
    """Neither tier serves another question, however close its embedding (here: the same vector)."""
    version = await cache.version("t", "chunks_v1")
    await cache.put("t", version, unit(1), stored, "an answer [1]", [{"n": 1}])
    assert await cache.get("t", version, asked, unit(1)) is None
    assert await cache.get("t", version, stored, unit(1)) is not None


def test_key_terms_keep_what_changes_the_answer() -> None:
    """Articles, politeness and the present tense's helpers fold away; every other word stays, in order."""
    assert key_terms("What's the price of item 011?") == key_terms("Tell me the price of item 011")
    assert key_terms("What are the prices of item 011?") != key_terms("price of item 011")
    assert key_terms("Who founded Helios Labs?") != key_terms("Who founded Orion Labs?")
    assert key_terms("pkg.checksum(data)") == ("pkg.checksum", "data")
    assert "not" in key_terms("Which option does not enable tracing?")


async def test_an_entry_older_than_the_ttl_is_not_served(cache: SemanticCache) -> None:
    """Every put restarts the hash's TTL, so each entry carries its own age."""
    version = await cache.version("t", "chunks_v1")
    await cache.put("t", version, unit(1), "Who works for Helios?", "Greta does. [1]", [{"n": 1}])
    key, field = cache._key("t", version), cache._field("Who works for Helios?")
    entry = json.loads(await cache.redis.hget(key, field))
    await cache.redis.hset(key, field, json.dumps({**entry, "at": entry["at"] - cache.ttl_s - 1}))
    assert await cache.get("t", version, "Who works for Helios?", unit(1)) is None
    assert await cache.get("t", version, "Please, who works for Helios?", unit(1)) is None


async def test_tenants_do_not_share_answers(cache: SemanticCache) -> None:
    """Another tenant never sees a cached answer."""
    version = await cache.version("t", "chunks_v1")
    await cache.put("t", version, unit(1), "q", "a", [])
    assert await cache.get("other", await cache.version("other", "chunks_v1"), "q", unit(1)) is None


async def test_new_index_version_and_content_change_invalidate(cache: SemanticCache) -> None:
    """A new collection or a bumped tenant epoch changes the version: old answers are unreachable."""
    v1 = await cache.version("t", "chunks_v1")
    await cache.put("t", v1, unit(1), "q", "a", [])
    assert await cache.get("t", await cache.version("t", "chunks_v2"), "q", unit(1)) is None
    await cache.bump("t")
    after = await cache.version("t", "chunks_v1")
    assert after != v1
    assert await cache.get("t", after, "q", unit(1)) is None


async def test_entries_are_bounded(cache: SemanticCache) -> None:
    """More questions than max_entries keep the cache at its bound."""
    version = await cache.version("t", "c")
    for i in range(12):
        await cache.put("t", version, unit(i), f"question {i}", "a", [])
    assert await cache.redis.hlen(cache._key("t", version)) == 5


async def test_two_deployments_on_one_redis_never_share_answers(
    redis: Redis, prefix: str, tmp_path: Path
) -> None:
    """Two stacks with default settings (same topic prefix, collection and tenant) are told apart by
    the deployment id each keeps in its home; a restart on the same home keeps its own id."""
    first, second = Settings(home=tmp_path / "a"), Settings(home=tmp_path / "b")
    assert first.deployment() != second.deployment()
    assert Settings(home=tmp_path / "a").deployment() == first.deployment()
    assert Settings(home=tmp_path / "c", deployment_id="prod-eu").deployment() == "prod-eu"
    a = SemanticCache(redis, prefix=f"{prefix}{first.deployment()}:")
    b = SemanticCache(redis, prefix=f"{prefix}{second.deployment()}:")
    await a.put("default", await a.version("default", "chunks_v1"), unit(1), "q", "a's answer", [])
    assert await a.get("default", await a.version("default", "chunks_v1"), "q", unit(1)) is not None
    assert await b.get("default", await b.version("default", "chunks_v1"), "q", unit(1)) is None


# ------------------------------------------------------------- through the agent, real embeddings
ITEMS = {
    "011": "Item 011 is the Aurora desk lamp. The price of item 011 is 40 euros; it ships from Lyon.",
    "012": "Item 012 is the Borealis floor lamp. The price of item 012 is 75 euros; it ships from Porto.",
}


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One short document per item, near-identical but for the item's number and facts."""
    docs = tmp_path_factory.mktemp("items")
    for item, text in ITEMS.items():
        (docs / f"item-{item}.md").write_text(f"# Item {item}\n\n{text}\n")
    return {item: docs / f"item-{item}.md" for item in ITEMS}


@pytest.fixture(scope="module")
async def stores(
    tmp_path_factory: pytest.TempPathFactory, items: dict[str, Path]
) -> AsyncIterator[IndexedStores]:
    root = tmp_path_factory.mktemp("stores")
    async with examples_indexed_inprocess(root, TENANT, files=list(items.values())) as indexed:
        yield indexed


async def ask(agent: Any, question: str) -> AgentState:
    events = [e async for e in ask_inprocess(agent, new_state(uuid.uuid4().hex, TENANT, question))]
    state: AgentState = events[-1]["state"]
    return state


async def test_the_agent_answers_item_012_with_its_own_fact_after_item_011_was_cached(
    stores: IndexedStores, items: dict[str, Path], redis: Redis, prefix: str
) -> None:
    """The reported defect: the two questions embed above the cosine threshold, yet the second is
    answered from its own document, and repeating the first is served from the cache."""
    cache = SemanticCache(redis, prefix=prefix)
    agent = build_graph(agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks", cache=cache))
    q011, q012 = "What is the price of item 011?", "What is the price of item 012?"
    a, b = await stores.embedder.embed([q011, q012])
    assert float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))) >= 0.95  # cosine alone would hit

    first = await ask(agent, q011)
    assert "40 euros" in first.answer
    assert not first.cached
    second = await ask(agent, q012)
    assert not second.cached
    assert second.answer.startswith("The price of item 012 is 75 euros")
    assert second.citations[0].doc_id == ids.doc_id(TENANT, source_uri(items["012"]))
    again = await ask(agent, "what is the price of item 011")
    assert again.cached
    assert again.answer == first.answer


async def test_a_cached_answer_whose_chunks_are_gone_is_not_served(
    stores: IndexedStores, redis: Redis, prefix: str
) -> None:
    """An entry citing a chunk the index no longer holds (deleted before the epoch bump landed) is
    dropped on lookup and the question is answered afresh."""
    cache = SemanticCache(redis, prefix=prefix)
    agent = build_graph(agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks", cache=cache))
    question = "Where does item 012 ship from?"
    fresh = await ask(agent, question)
    assert "Porto" in fresh.answer
    version = await cache.version(TENANT, await stores.vectors.resolve("chunks"))
    [vector] = await stores.embedder.embed([question])
    stale = [{**c.model_dump(), "chunk_id": "gone"} for c in fresh.citations]
    await cache.put(TENANT, version, vector, question, "A stale answer. [1]", stale)
    answered = await ask(agent, question)
    assert not answered.cached
    assert "Porto" in answered.answer
    recached = await cache.get(TENANT, version, question, vector)
    assert recached is not None
    assert recached.answer == fresh.answer  # the stale entry was replaced by the fresh answer


async def test_an_answer_computed_while_a_document_was_indexed_is_never_served(
    stores: IndexedStores, redis: Redis, prefix: str
) -> None:
    """The version is read before retrieving: an answer computed while the tenant's content changed
    (the epoch bumped during retrieval) is stored under the old version, and the next asking computes
    afresh. The first form stored under the version read after answering and served it."""
    cache = SemanticCache(redis, prefix=prefix)
    deps = agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks", cache=cache)
    retrieve = deps.retrieve

    async def indexed_meanwhile(query: str, tenant: str, k: int) -> Any:
        found = await retrieve(query, tenant, k)
        await cache.bump(tenant)  # a document was indexed while this question was answered
        return found

    racing = build_graph(dataclasses.replace(deps, retrieve=indexed_meanwhile))
    agent = build_graph(deps)
    question = "Where does item 011 ship from?"
    first = await ask(racing, question)
    assert "Lyon" in first.answer
    assert not (await ask(agent, question)).cached  # stored under the epoch before the bump: unread
    assert (await ask(agent, question)).cached


async def test_a_follow_up_whose_pronoun_stays_is_not_served_another_conversations_answer(
    stores: IndexedStores, redis: Redis, prefix: str
) -> None:
    """ "Where does that ship from?" after item 011 and after item 012 are two questions: a question
    still holding a pronoun after a conversation neither reads nor fills the cache."""
    cache = SemanticCache(redis, prefix=prefix)
    agent = build_graph(agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks", cache=cache))

    async def follow_up(item: str) -> AgentState:
        history = [("user", f"What is item {item}?"), ("assistant", ITEMS[item].split(". ")[0] + ".")]
        state = new_state(uuid.uuid4().hex, TENANT, "Where does that ship from?", history)
        events = [e async for e in ask_inprocess(agent, state)]
        final: AgentState = events[-1]["state"]
        return final

    first, second = await follow_up("011"), await follow_up("012")
    assert not first.cached
    assert not second.cached
    assert first.cache_version == second.cache_version == ""

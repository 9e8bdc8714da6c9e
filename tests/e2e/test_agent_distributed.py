"""The same agent graph run by Kafka workers (plan, retrieve, tool, respond as consumers) gives the
same retrieval and answer as the in-process executor, with ordered, numbered reply events; each node
runs several requests at once, and a worker restart loses none and shows none twice to a client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

import topics
from services.agent.graph import AgentDeps, RetrievedContext, build_graph
from services.agent.wiring import agent_deps, ask_inprocess, new_state
from services.agent.workers import run_agent_workers
from services.common.codec import SingleObjectCodec
from services.common.messages import AgentState, ReplyEvent
from services.common.settings import Settings
from tests.support import examples_indexed_inprocess
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
TENANT = "acme"
QUESTIONS = ["Who works for Helios Labs?", "What is 12 * 12?", "Hello!", "What is the capital of Atlantis?"]


@pytest.fixture(scope="module")
async def stores(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """Real stores holding examples/docs."""
    async with examples_indexed_inprocess(tmp_path_factory.mktemp("agent-dist")) as indexed:
        yield indexed


@pytest.fixture(scope="module")
def deps(stores: Any) -> Any:
    """Agent dependencies over those stores."""
    return agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks")


def collect(
    bootstrap: str, topic: str, request_ids: set[str], codec: SingleObjectCodec, timeout: float = 120
):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "collect", "enable.auto.commit": False})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    events: dict[str, list[ReplyEvent]] = {r: [] for r in request_ids}
    done: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while done != request_ids and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.2):
                if msg.error():
                    continue
                event = codec.decode(msg.value(), ReplyEvent, topic)
                events[event.request_id].append(event)
                if event.type in ("FINAL", "ERROR"):
                    done.add(event.request_id)
    finally:
        consumer.close()
    return events


async def test_distributed_executor_matches_in_process(
    kafka_bootstrap: str, deps: Any, tmp_path: Path
) -> None:
    """For each question the workers' FINAL answer, citations and token stream equal the in-process run."""
    names = TopicNames(prefix=f"ag-{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path / "home")
    reply_topic = names.replies("gw-test")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(reply_topic, 1, 1)]).values():
        future.result()
    codec = SingleObjectCodec()
    graph = build_graph(deps)
    expected: dict[str, AgentState] = {}
    states = {}
    for i, question in enumerate(QUESTIONS):
        state = new_state(f"req-{i}", TENANT, question).model_copy(update={"reply_to": reply_topic})
        states[state.request_id] = state
        events = [e async for e in ask_inprocess(graph, state)]
        expected[state.request_id] = events[-1]["state"]

    async with run_agent_workers(settings, kafka_bootstrap, names, deps):
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        for state in states.values():
            producer.produce(
                names(topics.CHAT_REQUESTS), codec.encode(state, "x"), key=state.request_id.encode()
            )
        assert producer.flush(10) == 0
        replies = await asyncio.to_thread(collect, kafka_bootstrap, reply_topic, set(states), codec, 30)

    for request_id, want in expected.items():
        got = replies[request_id]
        assert got, f"no reply for {request_id}"
        assert [e.seq for e in got] == list(range(len(got))), "events must be numbered 0..n-1 in order"
        final = got[-1]
        assert final.type == "FINAL"
        assert final.text == want.answer
        assert [c.chunk_id for c in final.citations] == [c.chunk_id for c in want.citations]
        assert "".join(e.text for e in got if e.type == "TOKEN") == want.answer
        assert [e.step for e in got if e.type == "STATUS"] == want.steps


# ------------------------------------------------------------------ concurrency and redelivery


class Replies:
    """Reads a reply topic from its start in a thread; every event in arrival order, per request."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.codec = SingleObjectCodec()
        self.raw: dict[str, list[ReplyEvent]] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": uuid.uuid4().hex,
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        parts = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, 0) for p in parts])

    def _read_until(self, request_ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(self.final(r) for r in request_ids):
            for msg in self.consumer.consume(100, 0.05):
                if not msg.error():
                    event = self.codec.decode(msg.value() or b"", ReplyEvent, self.topic)
                    self.raw.setdefault(event.request_id, []).append(event)

    async def until_final(self, request_ids: set[str], timeout: float = 30) -> None:
        await asyncio.to_thread(self._read_until, request_ids, timeout)
        missing = {r for r in request_ids if not self.final(r)}
        assert not missing, f"no FINAL for {missing}"

    def final(self, rid: str) -> bool:
        return any(e.type == "FINAL" for e in self.raw.get(rid, []))

    def as_client_sees(self, rid: str) -> list[ReplyEvent]:
        """The gateway's rule: an event with a seq at or below the last one kept is a redelivery."""
        kept: list[ReplyEvent] = []
        for event in self.raw.get(rid, []):
            if not kept or event.seq > kept[-1].seq:
                kept.append(event)
        return kept

    def close(self) -> None:
        self.consumer.close()


class SlowRetriever:
    """A retrieve dependency that takes ``delay_s`` for questions containing "slow" and waits for
    ``release`` on those containing "block"; it counts how many run at once."""

    def __init__(self, delay_s: float = 1.0) -> None:
        self.delay_s = delay_s
        self.release = asyncio.Event()
        self.running = 0
        self.peak = 0
        self.entered: list[str] = []

    async def __call__(self, query: str, tenant: str, limit: int) -> RetrievedContext:
        self.entered.append(query)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if "slow" in query:
                await asyncio.sleep(self.delay_s)
            if "block" in query:
                await self.release.wait()
        finally:
            self.running -= 1
        return RetrievedContext([], [])


def fake_deps(retrieve: SlowRetriever) -> AgentDeps:
    async def no_code(_code: str) -> Any:
        raise AssertionError("no code in these tests")

    return AgentDeps(
        retrieve=retrieve,
        calculate=lambda _expr: None,
        run_code=no_code,
        extract_expression=lambda _q: None,
        referents=lambda _text: [],
    )


async def ask_all(bootstrap: str, names: TopicNames, reply_topic: str, questions: list[str]) -> set[str]:
    codec = SingleObjectCodec()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    rids = set()
    for question in questions:
        state = new_state(uuid.uuid4().hex, TENANT, question).model_copy(update={"reply_to": reply_topic})
        producer.produce(names(topics.CHAT_REQUESTS), codec.encode(state, "x"), key=state.request_id.encode())
        rids.add(state.request_id)
    assert await asyncio.to_thread(producer.flush, 10) == 0
    return rids


@pytest.fixture
async def replies(kafka_bootstrap: str, names: TopicNames) -> AsyncIterator[Replies]:
    """A reply topic for this test, read from its start."""
    topic = names.replies("gw-test")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()
    reader = await asyncio.to_thread(Replies, kafka_bootstrap, topic)
    yield reader
    await asyncio.to_thread(reader.close)


async def test_a_slow_step_does_not_hold_up_the_requests_behind_it(
    kafka_bootstrap: str, settings: Settings, names: TopicNames, replies: Replies
) -> None:
    """Eight questions whose retrieval takes 1 s each are all answered in about 1 s, not 8: the
    retrieve worker runs them at once (up to KafkaSettings.agent_concurrency)."""
    retriever = SlowRetriever(delay_s=1.0)
    async with run_agent_workers(settings, kafka_bootstrap, names, fake_deps(retriever)):
        warm = await ask_all(kafka_bootstrap, names, replies.topic, ["warm up"])
        await replies.until_final(warm, timeout=60)  # every node's group has joined
        started = time.monotonic()
        rids = await ask_all(kafka_bootstrap, names, replies.topic, [f"slow {i}" for i in range(8)])
        await replies.until_final(rids, timeout=30)
        elapsed = time.monotonic() - started
    assert retriever.peak == 8
    assert elapsed < 3.0, f"8 slow requests took {elapsed:.1f}s"
    for rid in rids:
        events = replies.raw[rid]
        assert [e.seq for e in events] == list(range(len(events)))


async def test_a_worker_restart_loses_no_request_and_the_client_sees_each_answer_once(
    kafka_bootstrap: str, settings: Settings, names: TopicNames, replies: Replies
) -> None:
    """Workers stopped while four requests are stuck in retrieve (work cancelled, offsets not committed):
    new workers answer all four; requests answered before are not run again; after the gateway's
    seq rule every request reads 0..n-1 with one FINAL."""
    stuck = SlowRetriever()
    async with run_agent_workers(settings, kafka_bootstrap, names, fake_deps(stuck), drain_timeout_s=0.5):
        early = await ask_all(kafka_bootstrap, names, replies.topic, ["early 1", "early 2", "early 3"])
        await replies.until_final(early, timeout=60)
        blocked = await ask_all(kafka_bootstrap, names, replies.topic, [f"block {i}" for i in range(4)])
        later = await ask_all(kafka_bootstrap, names, replies.topic, ["later 1", "later 2"])
        await replies.until_final(later, timeout=30)  # answered although queued behind the blocked ones
        for _ in range(200):
            if stuck.running == 4:
                break
            await asyncio.sleep(0.05)
        assert stuck.running == 4
    assert not any(replies.final(r) for r in blocked)

    fresh = SlowRetriever()
    fresh.release.set()
    async with run_agent_workers(settings, kafka_bootstrap, names, fake_deps(fresh)):
        await replies.until_final(blocked, timeout=60)
    assert sorted(q for q in fresh.entered if q.startswith("block")) == [f"block {i}" for i in range(4)]
    assert not [q for q in fresh.entered if q.startswith("early")], "committed work ran again"
    for rid in early | blocked | later:
        seen = replies.as_client_sees(rid)
        assert [e.seq for e in seen] == list(range(len(seen)))
        assert [e.type for e in seen].count("FINAL") == 1
        assert seen[-1].type == "FINAL"
        assert "".join(e.text for e in seen if e.type == "TOKEN") == seen[-1].text
    for rid in early:
        assert [e.type for e in replies.raw[rid]].count("FINAL") == 1


async def test_a_model_outage_answers_unavailable_and_dead_letters_nothing(
    kafka_bootstrap: str, stores: Any, tmp_path: Path
) -> None:
    """The embeddings server is down: the client gets ERROR code `unavailable`, without the server's
    address (the first form sent it, and the transport error, to any user); no dead letter."""
    from services.common.tansu import free_port
    from services.models.embedder import HttpEmbedder
    from services.ops import dead_letters

    down = HttpEmbedder(f"http://127.0.0.1:{free_port()}", "minilm", dim=384, attempts=2, timeout_s=2)
    outage = agent_deps(down, stores.vectors, stores.graph, "chunks")
    names = TopicNames(prefix=f"ag-{uuid.uuid4().hex[:8]}.")
    reply_topic = names.replies("gw-test")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(reply_topic, 1, 1)]).values():
        future.result()
    codec = SingleObjectCodec()
    state = new_state("req-down", TENANT, "Who works for Helios Labs?").model_copy(
        update={"reply_to": reply_topic}
    )
    async with run_agent_workers(Settings(home=tmp_path / "home"), kafka_bootstrap, names, outage):
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(names(topics.CHAT_REQUESTS), codec.encode(state, "x"), key=state.request_id.encode())
        assert producer.flush(10) == 0
        replies = await asyncio.to_thread(
            collect, kafka_bootstrap, reply_topic, {state.request_id}, codec, 60
        )
    await down.close()
    last = replies[state.request_id][-1]
    assert (last.type, last.code) == ("ERROR", "unavailable"), last
    assert last.text == "a model server is unavailable; ask again shortly"
    assert await asyncio.to_thread(dead_letters, kafka_bootstrap, names) == []

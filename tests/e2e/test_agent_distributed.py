"""The same agent graph run by Kafka workers (plan, retrieve, tool, respond as consumers) gives the
same retrieval and answer as the in-process executor, with ordered, numbered reply events."""

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
from services.agent.graph import build_graph
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
async def deps(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """Agent dependencies over real stores holding examples/docs."""
    async with examples_indexed_inprocess(tmp_path_factory.mktemp("agent-dist")) as stores:
        yield agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks")


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

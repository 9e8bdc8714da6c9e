"""Commits of concurrent handling (agent nodes, parse) on the real broker: a burst of messages handled
out of order is committed a few times, not once per message (each commit is a broker request: under
500 chats a commit per step was a tenth of the chat path's work), and what the group holds at the end
is exactly past the last message, so nothing is skipped or handled again by the next owner."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from services.common.inflight import InFlight

pytestmark = pytest.mark.integration

MESSAGES = 120


class CountingConsumer(Consumer):  # type: ignore[misc]
    """A real consumer that counts the commits asked of it."""

    commits = 0

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        type(self).commits += 1
        return super().commit(*args, **kwargs)


def fill(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": bootstrap})
    for k in range(MESSAGES):
        producer.produce(topic, key=f"request-{k}".encode(), value=b"x")
    assert producer.flush(15) == 0


def read_all(consumer: Consumer, topic: str) -> list[Message]:
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages: list[Message] = []
    deadline = time.monotonic() + 30
    while len(messages) < MESSAGES and time.monotonic() < deadline:
        messages += [m for m in consumer.consume(MESSAGES, 1.0) if not m.error()]
    assert len(messages) == MESSAGES
    return messages


async def test_a_burst_is_committed_a_few_times_and_ends_past_its_last_message(kafka_bootstrap: str) -> None:
    topic = f"inflight-{uuid.uuid4().hex[:8]}"
    group = f"inflight-{uuid.uuid4().hex[:8]}"
    fill(kafka_bootstrap, topic)
    consumer = CountingConsumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    rng = random.Random(7)

    async def handle(_raw: Message) -> None:
        await asyncio.sleep(rng.uniform(0, 0.004))  # finishing out of order

    inflight = InFlight("test", 16, handle, commit_interval_s=0.1)
    try:
        started = time.monotonic()
        for raw in read_all(consumer, topic):
            await inflight.submit(
                SimpleNamespace(raw_message=raw, consumer=SimpleNamespace(consumer=consumer))
            )  # type: ignore[arg-type]
        while inflight._tasks:  # noqa: ASYNC110  (the runner's own tasks; no event to wait on)
            await asyncio.sleep(0.01)
        handled_s = time.monotonic() - started
        await asyncio.sleep(0.3)  # the throttled commit of the last offsets
        during = CountingConsumer.commits
        # one commit per interval at most (plus the first), never one per message
        assert 1 <= during <= 2 + handled_s / 0.1 + 3, (during, handled_s)
        assert during < MESSAGES / 4
        [position] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        assert position.offset == MESSAGES  # everything handled is committed, nothing past it
        await inflight.drain(5)
        [position] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        assert position.offset == MESSAGES
    finally:
        consumer.close()

"""The shared stage runtime on a real broker: poison goes to the DLQ with the original bytes and the
reason, transient errors retry (bounded), and replay sends dead letters back exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage

import topics
from services import ops
from services.common.codec import SingleObjectCodec
from services.common.messages import DocumentSubmitted
from services.common.settings import Settings
from services.common.stage import PoisonMessage, StageContext
from services.models.http import ModelUnavailable
from topics import TopicNames
from topics.admin import ensure_topics

pytestmark = pytest.mark.integration

Handler = Callable[[DocumentSubmitted], Awaitable[None]]


def submitted(n: int) -> DocumentSubmitted:
    return DocumentSubmitted(
        tenant="t",
        doc_id=f"doc-{n}",
        source_uri=f"file:///d{n}.txt",
        filename=f"d{n}.txt",
        submitted_at=datetime.now(UTC),
    )


class Harness:
    def __init__(self, bootstrap: str, names: TopicNames, settings: Settings) -> None:
        self.bootstrap = bootstrap
        self.names = names
        self.codec = SingleObjectCodec()
        self.broker = KafkaBroker(bootstrap, logger=None)
        self.ctx = StageContext(self.broker, self.codec, names, settings.pipeline, settings.kafka)
        self.handled: list[str] = []

    def run(self, handler: Handler, batch: bool = False) -> None:
        options = self.ctx.subscriber_options(self.names.prefix + "g", batch=batch)

        @self.broker.subscriber(self.names(topics.INGEST), **options)
        async def consume(msg: KafkaMessage) -> None:
            if batch:

                async def many(records: list[DocumentSubmitted]) -> None:
                    for r in records:
                        await handler(r)

                await self.ctx.handle_batch("test", topics.INGEST, msg.raw_message, many)
            else:
                await self.ctx.handle_one("test", topics.INGEST, msg.raw_message, handler)

    async def send(self, value: bytes, key: str) -> None:
        await self.broker.publish(value, self.names(topics.INGEST), key=key.encode())

    async def send_record(self, record: DocumentSubmitted) -> None:
        await self.send(self.codec.encode(record, self.names(topics.INGEST)), record.doc_id)

    async def until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.05)


@pytest.fixture
async def harness(kafka_bootstrap: str, names: TopicNames, settings: Settings) -> AsyncIterator[Harness]:
    """A broker with the registry's topics for this test and a stage context bound to them."""
    ensure_topics(kafka_bootstrap, names, partitions=1)
    h = Harness(kafka_bootstrap, names, settings)
    yield h
    await h.broker.stop()


async def dead_letters(h: Harness, count: int) -> list[ops.DeadLetter]:
    letters: list[ops.DeadLetter] = []
    for _ in range(100):
        letters = await asyncio.to_thread(ops.dead_letters, h.bootstrap, h.names, topics.INGEST)
        if len(letters) >= count:
            return letters
        await asyncio.sleep(0.2)
    raise AssertionError(f"expected {count} dead letters, found {len(letters)}")


async def test_undecodable_message_is_dead_lettered_and_the_stream_continues(harness: Harness) -> None:
    """Garbage bytes reach docs.ingest.dlq byte for byte, reason undecodable; the next record is handled."""

    async def handle(record: DocumentSubmitted) -> None:
        harness.handled.append(record.doc_id)

    harness.run(handle)
    await harness.broker.start()
    await harness.send(b"\x00not avro at all", "poison")
    await harness.send_record(submitted(1))
    await harness.until(lambda: harness.handled == ["doc-1"])
    [letter] = await dead_letters(harness, 1)
    assert letter.value == b"\x00not avro at all"
    assert letter.key == "poison"
    assert letter.reason == "undecodable"
    assert letter.stage == "test"
    assert letter.source_topic == harness.names(topics.INGEST)


async def test_poison_from_handler_is_not_retried(harness: Harness) -> None:
    """A PoisonMessage is dead-lettered after exactly one attempt, with its reason code."""
    attempts: list[str] = []

    async def handle(record: DocumentSubmitted) -> None:
        attempts.append(record.doc_id)
        raise PoisonMessage("corrupt", "cannot read this")

    harness.run(handle)
    await harness.broker.start()
    await harness.send_record(submitted(2))
    [letter] = await dead_letters(harness, 1)
    assert attempts == ["doc-2"]
    assert letter.reason == "corrupt"
    assert "cannot read this" in letter.error
    assert letter.headers["x-dlq-attempts"] == "1"


async def test_transient_error_is_retried_then_succeeds(harness: Harness) -> None:
    """A failure that clears on the second attempt is handled once and leaves no dead letter."""
    calls: list[int] = []

    async def handle(record: DocumentSubmitted) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("store briefly down")
        harness.handled.append(record.doc_id)

    harness.run(handle)
    await harness.broker.start()
    await harness.send_record(submitted(3))
    await harness.until(lambda: harness.handled == ["doc-3"])
    assert len(calls) == 2
    assert await asyncio.to_thread(ops.dead_letters, harness.bootstrap, harness.names, topics.INGEST) == []


async def test_unavailable_model_on_a_raw_delivery_is_retried_not_dead_lettered(harness: Harness) -> None:
    """A delivery that cannot be rewound and paused (raw messages, as the agent workers hand over)
    treats ModelUnavailable as transient: retried, handled once, no dead letter."""
    calls: list[int] = []

    async def handle(record: DocumentSubmitted) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ModelUnavailable("embeddings server: HTTP 503")
        harness.handled.append(record.doc_id)

    harness.run(handle)
    await harness.broker.start()
    await harness.send_record(submitted(4))
    await harness.until(lambda: harness.handled == ["doc-4"])
    assert len(calls) == 2
    assert await asyncio.to_thread(ops.dead_letters, harness.bootstrap, harness.names, topics.INGEST) == []


async def test_persistent_error_is_dead_lettered_after_bounded_retries_and_replayed_once(
    harness: Harness,
) -> None:
    """After retry_attempts the message is dead-lettered (never dropped); replay sends it back once."""
    broken = True

    async def handle(record: DocumentSubmitted) -> None:
        if broken:
            raise ConnectionError("store down")
        harness.handled.append(record.doc_id)

    harness.run(handle)
    await harness.broker.start()
    await harness.send_record(submitted(4))
    [letter] = await dead_letters(harness, 1)
    assert letter.reason == "ConnectionError"
    assert letter.headers["x-dlq-attempts"] == "2"
    assert not letter.replayed

    broken = False  # the operator fixed the cause
    sent = await asyncio.to_thread(ops.replay, harness.bootstrap, harness.names, topics.INGEST)
    assert [s.key for s in sent] == ["doc-4"]
    await harness.until(lambda: harness.handled == ["doc-4"])
    assert await asyncio.to_thread(ops.replay, harness.bootstrap, harness.names, topics.INGEST) == []
    [after] = await asyncio.to_thread(ops.dead_letters, harness.bootstrap, harness.names, topics.INGEST)
    assert after.replayed


async def test_one_poison_record_does_not_sink_its_batch(harness: Harness) -> None:
    """In a batch, the failing record alone is dead-lettered; its neighbours are handled."""

    async def handle(record: DocumentSubmitted) -> None:
        if record.doc_id == "doc-bad":
            raise PoisonMessage("corrupt", "bad one")
        harness.handled.append(record.doc_id)

    harness.run(handle, batch=True)
    await harness.broker.start()
    for n in (5, 6):
        await harness.send_record(submitted(n))
    bad = submitted(0).model_copy(update={"doc_id": "doc-bad"})
    await harness.send_record(bad)
    await harness.send_record(submitted(7))
    [letter] = await dead_letters(harness, 1)
    await harness.until(lambda: {"doc-5", "doc-6", "doc-7"} <= set(harness.handled))
    assert letter.key == "doc-bad"

"""A producer the broker fenced is replaced, and nothing is lost or stuck.

The failure is the real one, reproduced: on the durable embedded broker one connection reset between
Tansu and its object store, during the conditional PUT of ``meta.json`` that an idempotent produce
makes, has Tansu answer that producer's every later send with PRODUCER_FENCED. Before the renewal,
ingestion retried the same messages forever."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from faststream.confluent import KafkaBroker
from prometheus_client import REGISTRY

import topics
from services.common import kafka_conf
from services.common.codec import SingleObjectCodec
from services.common.messages import AgentState
from services.common.settings import Settings
from services.common.stage import StageContext
from services.common.tansu import ObjectServer, TansuBroker
from services.gateway.config import GatewayConfig
from services.gateway.kafka import ReplyChannel
from services.publisher import DocumentPublisher
from services.stores.blobs import LocalBlobStore
from tests.faults import ResettingProxy
from topics import TopicNames
from topics.admin import ensure_topics

pytestmark = pytest.mark.integration


class Durable:
    def __init__(self, bootstrap: str, proxy: ResettingProxy) -> None:
        self.bootstrap = bootstrap
        self.proxy = proxy


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[Durable]:
    """Tansu on s3:// whose object store sits behind a proxy that can reset a ``meta.json`` PUT."""
    server = ObjectServer(tmp_path / "broker").start()
    proxy = ResettingProxy(server.port, marker=b"meta.json")
    env = server.tansu_env() | {"AWS_ENDPOINT": f"http://127.0.0.1:{proxy.port}"}
    broker = TansuBroker(storage=f"s3://{ObjectServer.BUCKET}/", env=env).start()
    yield Durable(broker.bootstrap, proxy)
    broker.stop()
    proxy.close()
    server.stop()


def renewals(role: str) -> float:
    return REGISTRY.get_sample_value("ragstream_producer_renewals_total", {"role": role}) or 0.0


def keys_on(bootstrap: str, topic: str, expected: int) -> set[str]:
    """The keys on ``topic`` (read without a group; short fetch waits: one batch per produce here)."""
    consumer = Consumer(kafka_conf.client(bootstrap, **{"group.id": "unused", "fetch.wait.max.ms": 10}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    seen: set[str] = set()
    try:
        for _ in range(300):
            for msg in consumer.consume(500, timeout=0.2):
                if not msg.error():
                    seen.add((msg.key() or b"").decode())
            if len(seen) >= expected:
                break
    finally:
        consumer.close()
    return seen


async def test_a_stage_replaces_its_fenced_producer_and_delivers_everything(durable: Durable) -> None:
    settings = Settings()
    names = TopicNames(prefix=f"renew-{uuid.uuid4().hex[:6]}.")
    ensure_topics(durable.bootstrap, names, 2, 1, (topics.CHAT_REQUESTS,))
    broker = KafkaBroker(durable.bootstrap, logger=None, enable_idempotence=True, acks="all")
    ctx = StageContext(
        broker, SingleObjectCodec(), names, settings.pipeline, settings.kafka, role="renew-test"
    )
    await broker.connect()
    try:

        async def deliver(i: int) -> None:
            record = AgentState(request_id=f"r{i}", tenant="t", question=f"question {i}")
            for attempt in range(3):  # the stage's bounded retry
                try:
                    await ctx.publish(topics.CHAT_REQUESTS, record, key=record.request_id)
                    return
                except KafkaException:
                    if attempt == 2:
                        raise
                    await asyncio.sleep(0.2)

        before = renewals("renew-test")
        for i in range(5):
            await deliver(i)
        durable.proxy.armed = 1
        for i in range(5, 40):
            await deliver(i)
    finally:
        await broker.stop()
    assert durable.proxy.resets == 1, "the fault was not injected: the test proves nothing"
    assert renewals("renew-test") == before + 1  # one renewal, however many sends failed on the old one
    assert keys_on(durable.bootstrap, names(topics.CHAT_REQUESTS), 40) == {f"r{i}" for i in range(40)}


async def test_the_gateway_replaces_its_fenced_producer_without_failing_the_question(
    durable: Durable,
) -> None:
    names = TopicNames(prefix=f"renew-{uuid.uuid4().hex[:6]}.")
    channel = ReplyChannel(
        durable.bootstrap,
        names,
        GatewayConfig(producer_idempotence=True),
        SingleObjectCodec(),
        lambda _: None,
    )
    await channel.start()
    try:
        before = renewals("gateway")
        await channel.publish(AgentState(request_id="q0", tenant="t", question="first"))
        durable.proxy.armed = 1
        for i in range(1, 6):
            await channel.publish(AgentState(request_id=f"q{i}", tenant="t", question=f"question {i}"))
    finally:
        await channel.stop()
    assert durable.proxy.resets == 1
    assert renewals("gateway") == before + 1
    assert keys_on(durable.bootstrap, names(topics.CHAT_REQUESTS), 6) == {f"q{i}" for i in range(6)}


async def test_the_publisher_reports_what_failed_and_sends_the_rest_on_a_new_producer(
    durable: Durable, tmp_path: Path
) -> None:
    """The API's publisher lives as long as the stack: a fenced producer fails the documents sent on it
    (reported, never silent) and the next ones go out on a new producer."""
    names = TopicNames(prefix=f"renew-{uuid.uuid4().hex[:6]}.")
    ensure_topics(durable.bootstrap, names, 2, 1, (topics.INGEST,))
    publisher = DocumentPublisher(
        durable.bootstrap, names, SingleObjectCodec(), LocalBlobStore(tmp_path / "blobs")
    )
    before = renewals("publisher")
    docs = []
    for i in range(8):
        doc = tmp_path / f"doc{i}.md"
        doc.write_text(f"# Document {i}\n\nThe archive opens at {i} o'clock.\n")
        docs.append(doc)
    sent = [await publisher.upsert(docs[0], "t")]
    publisher.flush()
    durable.proxy.armed = 1
    failed = 0
    for doc in docs[1:]:  # one document per flush, as the API publishes an upload
        sent.append(await publisher.upsert(doc, "t"))
        try:
            publisher.flush()
        except RuntimeError:
            failed += 1
            sent.pop()  # reported as undelivered: the caller publishes it again
    assert durable.proxy.resets == 1
    assert renewals("publisher") == before + 1
    assert 1 <= failed <= 2  # the send that met the reset, and one already queued behind it at most
    on_topic = keys_on(durable.bootstrap, names(topics.INGEST), len(sent))
    assert {s.doc_id for s in sent} <= on_topic  # every document reported sent is there
    assert len(sent) >= 6

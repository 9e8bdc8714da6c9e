"""The gateway's Kafka side: questions out on ``chat.requests`` (an idempotent producer, acks=all,
polled by one thread for delivery reports), answer events in from this instance's own reply topic
``chat.replies.<gateway_id>`` (a consumer assigned every partition at its end when the gateway
starts, read by another thread and handed to the event loop in batches)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

import topics
from services.common import kafka_conf
from services.common.codec import Codec, CodecError
from services.common.messages import AgentState, AnswerFeedback, AvroRecord, ReplyEvent
from services.common.renewal import RENEWALS, needs_new_producer
from services.gateway.config import GatewayConfig
from topics import CHAT_REQUESTS, FEEDBACK, TopicNames
from topics.admin import ensure_topics

log = structlog.get_logger("gateway")


class ReplyChannel:
    def __init__(
        self,
        bootstrap: str,
        names: TopicNames,
        config: GatewayConfig,
        codec: Codec,
        on_events: Callable[[list[ReplyEvent]], None],
    ) -> None:
        self.bootstrap = bootstrap
        self.names = names
        self.config = config
        self.codec = codec
        self.on_events = on_events
        self.request_topic = names(CHAT_REQUESTS)
        self.feedback_topic = names(FEEDBACK)
        self.reply_topic = names.replies(config.gateway_id)
        self.stopping = threading.Event()
        self._producer: Producer | None = None
        self._consumer: Consumer | None = None
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.stopping.clear()
        await asyncio.to_thread(self._setup)
        gid = self.config.gateway_id
        self._threads = [
            threading.Thread(target=self._poll_producer, name=f"gw-{gid}-producer", daemon=True),
            threading.Thread(target=self._consume, name=f"gw-{gid}-replies", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    async def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 10)
        self._threads = []
        self._producer = self._consumer = None

    def _setup(self) -> None:
        cfg = self.config
        ensure_topics(
            self.bootstrap,
            self.names,
            cfg.request_partitions,
            cfg.replication_factor,
            (CHAT_REQUESTS, FEEDBACK),
        )
        admin = AdminClient(kafka_conf.client(self.bootstrap))
        if self.reply_topic not in admin.list_topics(timeout=15).topics:
            futures = admin.create_topics(
                [
                    NewTopic(
                        self.reply_topic,
                        cfg.reply_partitions,
                        cfg.replication_factor,
                        config=dict(topics.CHAT_REPLIES.config),
                    )
                ],
                operation_timeout=15,
            )
            for future in futures.values():
                try:
                    future.result()
                except KafkaException as exc:
                    if "TOPIC_ALREADY_EXISTS" not in str(exc):
                        raise
        topic = admin.list_topics(self.reply_topic, timeout=15).topics.get(self.reply_topic)
        if topic is None or not topic.partitions:
            raise RuntimeError(f"reply topic {self.reply_topic} has no partitions")
        self._producer = self._new_producer()
        consumer = Consumer(
            kafka_conf.client(self.bootstrap)
            | {
                # never joined (assigned), so never a rebalance
                "group.id": f"gateway-{self.config.gateway_id}-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "client.id": f"gateway-{self.config.gateway_id}",
                # Tansu answers an empty fetch only when fetch.wait.max.ms expires (it does not wake on
                # new data), so the default 500 ms was the reply hop's floor; Apache Kafka wakes anyway.
                "fetch.wait.max.ms": self.config.fetch_max_wait_ms,
                "socket.nagle.disable": True,
            }
        )
        # Start at each partition's current end: replies published from now on are ours.
        assignment = []
        for partition in sorted(topic.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(self.reply_topic, partition), timeout=15
            )
            assignment.append(TopicPartition(self.reply_topic, partition, high))
        consumer.assign(assignment)
        self._consumer = consumer

    def _new_producer(self) -> Producer:
        return Producer(
            kafka_conf.client(self.bootstrap)
            | kafka_conf.delivery(self.config.producer_idempotence)
            | {
                "linger.ms": self.config.producer_linger_ms,
                "client.id": f"gateway-{self.config.gateway_id}",
                # the client library gives a question up when the gateway does, not five minutes later
                # (by then the user has been told "unavailable" and asked again)
                "message.timeout.ms": int(self.config.publish_timeout_s * 1000),
            }
        )

    def _renew(self, failed: Producer, exc: KafkaException) -> None:
        """The broker no longer accepts ``failed`` (fenced): questions go out on a new producer from now
        on (services/common/renewal.py); the old one is flushed aside."""
        if self._producer is not failed:
            return  # already replaced
        self._producer = self._new_producer()
        threading.Thread(target=failed.flush, args=(5,), name="gw-retired-producer", daemon=True).start()
        RENEWALS.labels("gateway").inc()
        log.error("producer replaced: the broker no longer accepts it", error=str(exc)[:300])

    def _poll_producer(self) -> None:
        while not self.stopping.is_set():
            producer = self._producer  # the current one: a renewal swaps it
            if producer is None:
                return
            producer.poll(0.1)
        if self._producer is not None:
            self._producer.flush(5)

    def _consume(self) -> None:
        consumer, loop = self._consumer, self._loop
        assert consumer is not None
        assert loop is not None
        try:
            while not self.stopping.is_set():
                batch: list[ReplyEvent] = []
                # consume(n, timeout) waits for n messages or the whole timeout: wait for the first
                # one only, then take whatever else is already here without waiting.
                first = consumer.poll(0.1)
                ready = [first, *consumer.consume(num_messages=499, timeout=0)] if first is not None else []
                for msg in ready:
                    if msg.error():
                        log.warning("reply consumer error", error=str(msg.error()))
                        continue
                    try:
                        batch.append(self.codec.decode(msg.value() or b"", ReplyEvent, self.reply_topic))
                    except CodecError as exc:
                        log.warning("undecodable reply event dropped", error=str(exc), key=msg.key())
                if batch:
                    loop.call_soon_threadsafe(self.on_events, batch)
        finally:
            consumer.close()

    async def publish(self, state: AgentState, attempts: int = 3) -> None:
        """Put the question on chat.requests; returns once the broker has it (raises otherwise). A
        failed delivery is sent again (a repeat is harmless: the agent's events carry the same seqs
        and this gateway drops repeats), on a new producer when the broker fenced the old one."""
        await self._send(self.request_topic, state.request_id, state, attempts)

    async def publish_feedback(self, record: AnswerFeedback, attempts: int = 3) -> None:
        """Put a rating on chat.feedback (a repeat carries the same feedback_id: readers drop it)."""
        await self._send(self.feedback_topic, record.request_id, record, attempts)

    async def _send(self, topic: str, key: str, record: AvroRecord, attempts: int) -> None:
        for attempt in range(1, attempts + 1):
            producer = self._producer
            if producer is None:
                raise RuntimeError("the gateway is not started")
            try:
                await self._produce(producer, topic, key, record)
                return
            except KafkaException as exc:
                if needs_new_producer(exc):
                    self._renew(producer, exc)
                if attempt == attempts:
                    raise
                log.warning("publishing failed; sending it again", topic=topic, error=str(exc)[:300])

    async def _produce(self, producer: Producer, topic: str, key: str, record: AvroRecord) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(err: Any, _msg: Any) -> None:
            def apply() -> None:
                if done.done():
                    return
                if err is None:
                    done.set_result(None)
                else:
                    done.set_exception(KafkaException(err))

            loop.call_soon_threadsafe(apply)

        producer.produce(topic, key=key.encode(), value=self.codec.encode(record, topic), on_delivery=settle)
        # the delivery report decides (message.timeout.ms); this bound only guards against none coming
        await asyncio.wait_for(done, self.config.publish_timeout_s + 5)

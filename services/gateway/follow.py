"""Resume on any gateway instance.

Each instance records, for every question it publishes, where its answer goes (the reply topic) and
whose it is, in Redis for the retention period. A client that reconnects to another instance (a
load balancer's choice, or the first instance died) resumes there: that instance looks the request
up and follows the origin reply topic from the time of the ask with a consumer of its own, feeding
the same dispatch path as its own replies, so replay, de-duplication by seq and live delivery behave
exactly as for a local request. Nothing is copied into Redis but the small record.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from confluent_kafka import Consumer, TopicPartition
from redis.asyncio import Redis

from services.common import kafka_conf
from services.common.codec import Codec, CodecError
from services.common.messages import ReplyEvent
from services.gateway.auth import Principal

log = structlog.get_logger("gateway")
SKEW_MS = 5000  # broker and gateway clocks may differ; start reading a little before the ask
# How long a request may run: its registry entry lives this much beyond retention from the ask, so a
# request whose gateway died (nobody left to touch it at its end) stays resumable while it runs.
RUNNING_MS = 3600 * 1000


@dataclass(frozen=True, slots=True)
class Origin:
    request_id: str
    reply_topic: str
    principal: Principal
    asked_ms: int
    question: str = ""
    session_id: str = ""


class RequestRegistry:
    def __init__(self, redis: Redis, prefix: str, retention_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = max(1, int(retention_s * 1000))  # resumable anywhere exactly as long as locally

    def _key(self, rid: str) -> str:
        return f"{self.prefix}req:{rid}"

    async def record(
        self, rid: str, reply_topic: str, principal: Principal, question: str = "", session_id: str = ""
    ) -> None:
        """Best effort: without it only cross-instance resume is lost, never the answer. The question
        travels along so that an instance that adopts the request can have its answer rated."""
        value = {"reply": reply_topic, "tenant": principal.tenant, "user": principal.user,
                 "asked_ms": int(time.time() * 1000), "question": question,
                 "session_id": session_id}  # fmt: skip
        try:
            await self.redis.set(self._key(rid), json.dumps(value), px=self.ttl_ms + RUNNING_MS)
        except Exception as exc:
            log.warning("request registry unavailable", error=repr(exc), request_id=rid)

    async def touch(self, rid: str) -> None:
        """The request ended: resumable anywhere for the retention period from now, as locally."""
        try:
            await self.redis.pexpire(self._key(rid), self.ttl_ms)
        except Exception as exc:
            log.warning("request registry unavailable", error=repr(exc), request_id=rid)

    async def lookup(self, rid: str) -> Origin | None:
        raw = await self.redis.get(self._key(rid))
        if raw is None:
            return None
        value = json.loads(raw)
        principal = Principal(tenant=value["tenant"], user=value["user"])
        return Origin(
            rid,
            value["reply"],
            principal,
            int(value["asked_ms"]),
            str(value.get("question", "")),
            str(value.get("session_id", "")),
        )


class Follower:
    """One thread reading a request's events from its origin reply topic until its last event."""

    def __init__(
        self,
        bootstrap: str,
        codec: Codec,
        origin: Origin,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[..., None],
        stopping: threading.Event,
    ) -> None:
        self.bootstrap = bootstrap
        self.codec = codec
        self.origin = origin
        self.loop = loop
        self.deliver = deliver
        self.stopping = stopping

    def start(self, max_s: float) -> None:
        threading.Thread(target=self._run, args=(max_s,), name="gateway-follow", daemon=True).start()

    def _consumer(self) -> Consumer:
        topic = self.origin.reply_topic
        consumer = Consumer(
            kafka_conf.client(self.bootstrap)
            | {
                "group.id": f"gateway-follow-{uuid.uuid4().hex[:8]}",  # never joined: assign
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 5,
            }
        )
        partitions = sorted(consumer.list_topics(topic, timeout=15).topics[topic].partitions)
        # The ends before the time lookup: a record written after it is at or past them. (The logical
        # end, -1, is resolved at the first fetch: a record written in between was skipped.)
        ends = {}
        for p in partitions:
            ends[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1]
        since = max(self.origin.asked_ms - SKEW_MS, 0)
        found = consumer.offsets_for_times([TopicPartition(topic, p, since) for p in partitions], timeout=15)
        # No message at or after the time: start at that end (nothing of this request was written yet).
        start = {t.partition: t.offset if t.offset >= 0 else ends[t.partition] for t in found}
        consumer.assign([TopicPartition(topic, p, at) for p, at in start.items()])
        return consumer

    def _run(self, max_s: float) -> None:
        rid, deadline = self.origin.request_id, time.monotonic() + max_s
        try:
            consumer = self._consumer()
        except Exception as exc:
            log.warning("cannot follow a request's reply topic", error=repr(exc), request_id=rid)
            return
        try:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                for msg in consumer.consume(200, 0.1):
                    if msg.error() or (msg.key() or b"").decode() != rid:
                        continue
                    try:
                        event = self.codec.decode(msg.value() or b"", ReplyEvent, self.origin.reply_topic)
                    except CodecError as exc:
                        log.warning("undecodable reply event dropped", error=str(exc), request_id=rid)
                        continue
                    self.loop.call_soon_threadsafe(self.deliver, [event], True)
                    if event.type in ("FINAL", "ERROR"):
                        return
        finally:
            consumer.close()

"""What every pipeline stage shares: decode → handle → publish, with bounded retries for transient
errors and a dead-letter topic for poison, then (only then) the offset is committed.

A dead letter keeps the original key, value and headers byte for byte, plus ``x-dlq-*`` headers that
say what failed, where and why; ``ragstream dlq replay`` sends it back to its source topic unchanged.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import structlog
from confluent_kafka import KafkaException, Message
from faststream.confluent import KafkaBroker
from prometheus_client import Counter, Histogram

from services.common.backpressure import Backpressure
from services.common.codec import Codec, CodecError
from services.common.messages import AvroRecord
from services.common.renewal import ProducerRenewal
from services.common.settings import KafkaSettings, PipelineSettings
from services.models.http import ModelUnavailable
from topics import TopicNames, TopicSpec

log = structlog.get_logger("ragstream.stage")

R = TypeVar("R", bound=AvroRecord)

MESSAGES = Counter("ragstream_messages_total", "Messages handled per stage and outcome", ["stage", "outcome"])
HANDLE_SECONDS = Histogram("ragstream_handle_seconds", "Handler time per message or batch", ["stage"])
DLQ_HEADER_PREFIX = "x-dlq-"


class PoisonMessage(Exception):
    """Input that can never succeed (corrupt file, unsupported type, ...): dead-letter it, never retry."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Incoming(Generic[R]):
    raw: Message
    record: R


RawMessages = Message | tuple[Message, ...]
Delivery = Any
"""What a stage hands ``handle_one``/``handle_batch``: FastStream's ``KafkaMessage`` (which can be
rewound and whose consumer can be paused: backpressure) or its raw message(s)."""
GroupOf = Callable[[TopicSpec], str]
"""The consumer group of a stage's handler for one input topic: one group per handler, so each
handler rebalances and scales on its own (two topics in one group confused Tansu's assignor)."""


def consumer_group(names: TopicNames, stage: str, spec: TopicSpec, suffix: str = "") -> str:
    return f"{names.prefix}ragstream.{stage}.{spec.name}{suffix}"


def _headers(raw: Message) -> list[tuple[str, bytes]]:
    headers: Any = raw.headers() or []
    pairs: list[tuple[str, Any]] = list(headers.items() if isinstance(headers, dict) else headers)
    return [(k, v if isinstance(v, bytes) else str(v or "").encode()) for k, v in pairs]


def header_map(raw: Message) -> dict[str, str]:
    """A message's headers as text (the last value wins for repeated keys)."""
    return {k: v.decode("utf-8", "replace") for k, v in _headers(raw)}


def raw_of(delivery: Delivery) -> RawMessages:
    """The raw message(s) of a FastStream KafkaMessage, or the raw message(s) themselves."""
    return cast(RawMessages, getattr(delivery, "raw_message", delivery))


def as_list(raw: RawMessages) -> list[Message]:
    """FastStream hands a batch subscriber a tuple and a single one a message: one shape for both."""
    return list(raw) if isinstance(raw, tuple) else [raw]


class StageContext:
    """The shared runtime one stage needs: codec, topic names, broker for publishing, retry policy."""

    def __init__(
        self,
        broker: KafkaBroker,
        codec: Codec,
        names: TopicNames,
        policy: PipelineSettings,
        kafka: KafkaSettings,
        role: str = "pipeline",
        group_instance: str | None = None,
    ) -> None:
        self.broker = broker
        self.group_instance = group_instance  # static membership (Settings.group_instance)
        self.renewal = ProducerRenewal(broker, role)
        self.codec = codec
        self.names = names
        self.policy = policy
        self.kafka = kafka
        self._backpressure: dict[str, Backpressure] = {}

    def backpressure(self, stage: str) -> Backpressure:
        if stage not in self._backpressure:
            self._backpressure[stage] = Backpressure(
                stage, self.policy.backpressure_base_delay_s, self.policy.backpressure_max_delay_s
            )
        return self._backpressure[stage]

    @staticmethod
    def holdable(delivery: Delivery) -> bool:
        """A FastStream message can be rewound and its consumer paused; raw messages cannot."""
        return hasattr(delivery, "raw_message")

    async def _hold(self, stage: str, delivery: Delivery, error: BaseException | None) -> bool:
        """Hold the delivery (rewind + pause) when a model is unavailable and it can be held; True
        when it was. Otherwise the caller dead-letters, after the usual bounded retries."""
        if not isinstance(error, ModelUnavailable) or not self.holdable(delivery):
            return False
        await self.backpressure(stage).hold(delivery, error)
        return True

    def subscriber_options(
        self, group: str, batch: bool = False, interactive: bool = False
    ) -> dict[str, Any]:
        """Options every stage subscriber shares: a named group (this process a static member of it
        when it has an instance id), earliest reset, commit only after handling (at least once), nack
        (seek back) if the handler itself crashes."""
        from faststream import AckPolicy

        options: dict[str, Any] = {
            "group_id": group,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": self.kafka.session_timeout_ms,
            "heartbeat_interval_ms": self.kafka.heartbeat_interval_ms,
            "ack_policy": AckPolicy.NACK_ON_ERROR,
            "partition_assignment_strategy": ("range",),
            "fetch_max_wait_ms": self.kafka.interactive_wait_ms()
            if interactive
            else self.kafka.fetch_max_wait_ms,
        }
        if batch:
            options |= {"batch": True, "max_records": self.kafka.max_poll_records}
        if self.group_instance:
            options["group_instance_id"] = self.group_instance
        return options

    # -- publishing ---------------------------------------------------------------------------
    async def send(self, value: bytes, topic: str, **options: Any) -> Any:
        """The broker's publish; a producer the broker no longer accepts is replaced before the error
        goes up to the caller's retry (services/common/renewal.py)."""
        generation = self.renewal.generation
        try:
            return await self.broker.publish(value, topic, **options)
        except KafkaException as exc:
            await self.renewal.after(exc, generation)
            raise

    async def publish(self, spec: TopicSpec, record: AvroRecord, key: str) -> None:
        topic = self.names(spec)
        await self.send(self.codec.encode(record, topic), topic, key=key.encode())

    async def publish_many(
        self, spec: TopicSpec, records: Iterable[tuple[str, AvroRecord]], window: int = 100
    ) -> None:
        """Publish and wait for every delivery report; ``window`` bounds what is in flight, and what
        one turn of the event loop does: a 180,000-chunk document must not hold up a question (the
        stages, the agent and the gateway share the loop in `ragstream up`)."""
        pending: list[Awaitable[Any]] = []
        for key, record in records:
            pending.append(self.publish(spec, record, key))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                pending.clear()
                await asyncio.sleep(0)  # let other handlers in between windows
        if pending:
            await asyncio.gather(*pending)

    async def dead_letter(
        self, stage: str, spec: TopicSpec, raw: Message, exc: BaseException, attempts: int
    ) -> None:
        reason = exc.reason if isinstance(exc, PoisonMessage) else type(exc).__name__
        extra = {
            "reason": reason,
            "error": f"{type(exc).__name__}: {exc}"[:4000],
            "stage": stage,
            "topic": str(raw.topic()),
            "partition": str(raw.partition()),
            "offset": str(raw.offset()),
            "attempts": str(attempts),
            "failed-at": datetime.now(UTC).isoformat(),
        }
        headers = [h for h in _headers(raw) if not h[0].startswith(DLQ_HEADER_PREFIX)]
        headers += [(DLQ_HEADER_PREFIX + k, v.encode()) for k, v in extra.items()]
        topic = self.names.dlq(spec)
        # FastStream's publish takes str headers; go to the producer for raw bytes headers.
        await self.send(
            raw.value() or b"",
            topic,
            key=raw.key(),
            headers={k: v.decode("utf-8", "replace") for k, v in headers},
        )
        MESSAGES.labels(stage, "dead_letter").inc()
        log.warning(
            "dead-lettered",
            stage=stage,
            dlq=topic,
            reason=reason,
            error=extra["error"][:300],
            partition=raw.partition(),
            offset=raw.offset(),
        )

    # -- consuming ----------------------------------------------------------------------------
    def decode(self, spec: TopicSpec, raw: Message) -> AvroRecord:
        value = raw.value()
        if value is None:
            raise CodecError("empty message value")
        return self.codec.decode(value, spec.value, str(raw.topic()))

    async def _with_retries(
        self, stage: str, work: Callable[[], Awaitable[None]], holdable: bool
    ) -> tuple[BaseException | None, int]:
        """Run ``work`` with bounded retries. Poison returns at once; so does an unavailable model
        when the delivery can be held (its client already retried; backpressure takes over),
        otherwise it is retried like any transient error."""
        delay = self.policy.retry_base_delay_s
        for attempt in range(1, self.policy.retry_attempts + 1):
            try:
                await work()
                return None, attempt
            except PoisonMessage as exc:
                return exc, attempt
            except ModelUnavailable as exc:
                if holdable or attempt == self.policy.retry_attempts:
                    return exc, attempt
                delay = await self._retry_pause(stage, attempt, exc, delay)
            except Exception as exc:  # transient until proven otherwise: retry, bounded
                if attempt == self.policy.retry_attempts:
                    return exc, attempt
                delay = await self._retry_pause(stage, attempt, exc, delay)
        raise AssertionError("unreachable")

    async def _retry_pause(self, stage: str, attempt: int, exc: BaseException, delay: float) -> float:
        MESSAGES.labels(stage, "retry").inc()
        log.warning("retrying", stage=stage, attempt=attempt, error=f"{type(exc).__name__}: {exc}"[:300])
        await asyncio.sleep(delay * (0.5 + random.random()))
        return min(delay * 2, self.policy.retry_max_delay_s)

    async def handle_one(
        self, stage: str, spec: TopicSpec, delivery: Delivery, handler: Callable[[Any], Awaitable[None]]
    ) -> None:
        started = time.perf_counter()
        [raw] = as_list(raw_of(delivery))
        try:
            record: AvroRecord = self.decode(spec, raw)
        except CodecError as exc:
            await self.dead_letter(stage, spec, raw, PoisonMessage("undecodable", str(exc)), 1)
            return

        async def attempt() -> None:
            await handler(record)

        error, attempts = await self._with_retries(stage, attempt, self.holdable(delivery))
        if await self._hold(stage, delivery, error):
            MESSAGES.labels(stage, "held").inc()
        elif error is not None:
            await self.dead_letter(stage, spec, raw, error, attempts)
        else:
            self.backpressure(stage).ok()
            MESSAGES.labels(stage, "ok").inc()
        HANDLE_SECONDS.labels(stage).observe(time.perf_counter() - started)

    async def handle_batch(
        self,
        stage: str,
        spec: TopicSpec,
        delivery: Delivery,
        handler: Callable[[list[Any]], Awaitable[None]],
    ) -> None:
        """Decode all (poison ones dead-lettered alone), handle the rest as one batch; if the batch
        keeps failing, retry message by message so one bad record cannot sink its neighbours."""
        started = time.perf_counter()
        good: list[tuple[Message, Any]] = []
        for raw in as_list(raw_of(delivery)):
            try:
                good.append((raw, self.decode(spec, raw)))
            except CodecError as exc:
                await self.dead_letter(stage, spec, raw, PoisonMessage("undecodable", str(exc)), 1)
        if good:

            async def whole() -> None:
                await handler([rec for _, rec in good])

            holdable = self.holdable(delivery)
            error, _ = await self._with_retries(stage, whole, holdable)
            if error is None:
                self.backpressure(stage).ok()
                MESSAGES.labels(stage, "ok").inc(len(good))
            elif await self._hold(stage, delivery, error):
                # the whole batch waits for the model; an undecodable record in it was dead-lettered
                # above and will be again on redelivery (a duplicate dead letter, never a loss)
                MESSAGES.labels(stage, "held").inc(len(good))
            elif len(good) == 1:
                await self.dead_letter(stage, spec, good[0][0], error, self.policy.retry_attempts)
            else:
                log.warning("batch failed; isolating", stage=stage, size=len(good), error=str(error)[:300])
                for raw, rec in good:

                    async def alone(rec: Any = rec) -> None:
                        await handler([rec])

                    one_error, attempts = await self._with_retries(stage, alone, holdable)
                    if await self._hold(stage, delivery, one_error):
                        # the model went away mid-isolation: the whole delivery waits (what was
                        # already handled is handled again on redelivery; writes are idempotent)
                        MESSAGES.labels(stage, "held").inc(len(good))
                        break
                    if one_error is not None:
                        await self.dead_letter(stage, spec, raw, one_error, attempts)
                    else:
                        MESSAGES.labels(stage, "ok").inc()
        HANDLE_SECONDS.labels(stage).observe(time.perf_counter() - started)

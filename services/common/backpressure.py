"""Backpressure: when a model server is down or saturated, a stage stops taking work instead of
failing it.

The model client has already retried with jittered backoff before it raises ``ModelUnavailable``.
The stage then rewinds the message (or batch) it holds to its first offset (FastStream's nack seeks
back per partition), pauses every partition the consumer is assigned, and resumes them after a delay
that doubles while the server stays unavailable (1 s → 30 s). While paused the consumer keeps polling,
so it stays in its group (no ``max.poll.interval.ms`` eviction, no rebalance storm) but fetches
nothing; when it resumes, the same messages come back and are handled as if nothing happened. Nothing
is dead-lettered and nothing is committed past an unprocessed message, so nothing is lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import Counter, Gauge

log = structlog.get_logger("ragstream.backpressure")

PAUSES = Counter(
    "ragstream_backpressure_pauses_total", "Partition pauses for an unavailable model", ["stage"]
)
PAUSED = Gauge("ragstream_backpressure_paused", "1 while the stage's partitions are paused", ["stage"])


class Backpressure:
    """The pause/resume policy of one stage's consumer(s)."""

    def __init__(self, stage: str, base_delay_s: float = 1.0, max_delay_s: float = 30.0) -> None:
        self.stage = stage
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.streak = 0  # consecutive holds without a success in between
        self.pauses = 0
        self.partitions_paused = 0  # partitions paused on live consumers, summed over pauses
        self._resume: dict[int, asyncio.TimerHandle] = {}

    def delay(self) -> float:
        return float(min(self.base_delay_s * 2.0 ** max(self.streak - 1, 0), self.max_delay_s))

    def ok(self) -> None:
        """A message went through: the next outage starts again from the shortest pause."""
        self.streak = 0

    async def hold(self, message: Any, error: BaseException) -> float:
        """Rewind ``message`` (a FastStream KafkaMessage), pause the consumer's partitions and
        schedule their resumption; returns the pause length in seconds."""
        self.streak += 1
        self.pauses += 1
        delay = self.delay()
        await message.nack()  # seek every partition of the message/batch back to its first offset
        consumer = getattr(getattr(message, "consumer", None), "consumer", None)
        PAUSES.labels(self.stage).inc()
        log.warning(
            "model unavailable: pausing partitions",
            stage=self.stage,
            pause_s=round(delay, 2),
            streak=self.streak,
            error=str(error)[:300],
        )
        if consumer is None:  # not a live Kafka consumer (e.g. a test broker): wait in place instead
            await asyncio.sleep(delay)
            return delay
        partitions: list[TopicPartition] = consumer.assignment()
        consumer.pause(partitions)
        self.partitions_paused += len(partitions)
        PAUSED.labels(self.stage).set(1)
        previous = self._resume.pop(id(consumer), None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._resume[id(consumer)] = loop.call_later(delay, self._resume_now, consumer, partitions)
        return delay

    def _resume_now(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._resume.pop(id(consumer), None)
        try:
            consumer.resume(partitions)
        except KafkaException:
            # a rebalance took some of them away while paused: resume what is still ours
            owned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
            consumer.resume([tp for tp in partitions if (tp.topic, tp.partition) in owned])
        PAUSED.labels(self.stage).set(0)
        log.info("resuming partitions", stage=self.stage, partitions=len(partitions))

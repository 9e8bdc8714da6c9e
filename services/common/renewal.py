"""A producer the broker has fenced is replaced, never retried forever.

An idempotent producer that the broker answers with ``PRODUCER_FENCED`` (or that librdkafka marks
fatal) fails every later send: retries cannot help, only a new producer (a new producer id) can.
Measured on the durable embedded broker: one connection reset between Tansu and its object store
during a conditional PUT of ``meta.json`` made Tansu fence the stack's producer, and ingestion then
stalled for good, with every message retried and never committed (nothing lost, nothing done). On
Apache Kafka the same happens to a producer whose epoch the broker no longer accepts.

``ProducerRenewal`` watches the failures of one FastStream broker's publishes; on the first such error
it reconnects the broker's producer through FastStream's own connect path and counts it
(``ragstream_producer_renewals_total``). The failed send is still raised: the caller's usual retry
sends it again on the new producer (at least once: a record the old producer did write may be written
twice, and every consumer is idempotent). Sends that failed on the same producer do not renew again.
"""

from __future__ import annotations

import asyncio

import structlog
from confluent_kafka import KafkaError, KafkaException
from faststream.confluent import KafkaBroker
from prometheus_client import Counter

log = structlog.get_logger("ragstream.renewal")

RENEWALS = Counter(
    "ragstream_producer_renewals_total",
    "Producers replaced because the broker fenced them or librdkafka marked them fatal",
    ["role"],
)
RENEW_ON = frozenset({KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH, KafkaError._FATAL})


def needs_new_producer(exc: BaseException) -> bool:
    """True for an error no retry on the same producer can get past."""
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return isinstance(err, KafkaError) and (err.fatal() or err.code() in RENEW_ON)


class ProducerRenewal:
    """Replaces ``broker``'s producer after an error that needs a new one (once per producer)."""

    def __init__(self, broker: KafkaBroker, role: str, flush_timeout_s: float = 2.0) -> None:
        self.broker = broker
        self.role = role
        self.flush_timeout_s = flush_timeout_s
        self.generation = 0  # which producer a send went out on; a renewal moves it on
        self._lock = asyncio.Lock()

    async def after(self, exc: BaseException, generation: int) -> bool:
        """Called with a send's failure and the generation it was sent on; True when it renewed."""
        if not needs_new_producer(exc):
            return False
        async with self._lock:
            if generation != self.generation:
                return False  # a send on the same producer already renewed it
            config = self.broker.config.broker_config
            # the old producer's queue fails at once (fenced); the bound is for anything else
            try:
                await asyncio.wait_for(config.producer.disconnect(), self.flush_timeout_s)
            except TimeoutError:
                log.warning("the replaced producer did not flush in time", role=self.role)
            await config.connect()  # FastStream's own: a new producer (the admin client is kept)
            self.generation += 1
        RENEWALS.labels(self.role).inc()
        log.error("producer replaced: the broker no longer accepts it", role=self.role, error=str(exc)[:300])
        return True

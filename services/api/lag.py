"""Consumer lag on ``/metrics``, read from the broker at scrape time, that never takes the other
metrics down with it.

The read asks the broker for every stage's end and committed offsets. A broker that is slow or
does not answer (a restart, a stall, a machine under load) used to fail the whole scrape with a
500, so Prometheus lost the gateway's, the stages' and the freshness metrics along with the lag.
Now a scrape waits at most ``timeout_s`` for the read; past that, or when it fails, the gauges
keep their last values, the failure is counted by reason and logged, and
``ragstream_consumer_lag_read_timestamp_seconds`` stays where the last good read left it, so an
alert can tell stale lag from low lag. A read still running when the next scrape comes is joined,
not started again: a stalled broker costs one thread, not one per scrape.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import Counter, Gauge

from services.ops import Backlog

log = structlog.get_logger("ragstream.api.lag")

CONSUMER_LAG = Gauge(
    "ragstream_consumer_lag",
    "Messages not yet committed by a stage's consumer group, per input topic (read at scrape time "
    "from fetch-response watermarks, so right on Tansu and Apache Kafka alike)",
    ["stage", "topic"],
)
CONSUMER_END = Gauge("ragstream_topic_end_offset", "End offset summed over partitions", ["stage", "topic"])
LAG_READ_AT = Gauge(
    "ragstream_consumer_lag_read_timestamp_seconds",
    "When the consumer lag was last read from the broker (Unix time); the lag gauges hold that read",
)
LAG_READ_FAILURES = Counter(
    "ragstream_consumer_lag_read_failures_total",
    "Scrapes whose consumer-lag read failed or outlasted its budget (the lag kept its last values)",
    ["reason"],
)


class ScrapedLag:
    """Sets the lag gauges from ``read`` once per scrape, within ``timeout_s``."""

    def __init__(
        self,
        read: Callable[[], Awaitable[list[Backlog]]],
        prefix: str,
        timeout_s: float,
        min_interval_s: float = 5.0,
    ) -> None:
        self._read, self._prefix, self.timeout_s = read, prefix, timeout_s
        # /metrics takes no token: a client looping on it would read the broker (a consumer and an
        # admin client each time) as fast as it can. Within this interval the last read stands.
        self.min_interval_s = min_interval_s
        self._inflight: asyncio.Future[list[Backlog]] | None = None
        self._read_at = -math.inf
        self._applied: list[Backlog] | None = None  # the read whose values the gauges hold

    async def refresh(self) -> bool:
        """Read the lag and set the gauges; False (gauges untouched) when the broker failed to answer
        in time. Never raises for the broker's sake. Within ``min_interval_s`` of the last read
        started, nothing is read again (True: the gauges hold that read)."""
        now = time.monotonic()
        if self._inflight is not None and self._inflight.done() and now - self._read_at < self.min_interval_s:
            if self._inflight.cancelled() or self._inflight.exception() is not None:
                return False
            self._apply(self._inflight.result())  # a read that outlasted its scrape lands here
            return True
        if self._inflight is None or self._inflight.done():
            self._read_at = now
            self._inflight = asyncio.ensure_future(self._read())
        try:
            rows = await asyncio.wait_for(asyncio.shield(self._inflight), self.timeout_s)
        except TimeoutError:
            self._failed("timeout", f"no answer within {self.timeout_s:g} s")
            return False
        except Exception as exc:  # the broker's error, whatever the client raised
            self._failed(type(exc).__name__, str(exc))
            return False
        self._apply(rows)
        return True

    def _apply(self, rows: list[Backlog]) -> None:
        if rows is self._applied:
            return
        for row in rows:
            topic = row.topic.removeprefix(self._prefix)
            CONSUMER_LAG.labels(row.stage, topic).set(row.lag)
            CONSUMER_END.labels(row.stage, topic).set(row.end)
        LAG_READ_AT.set(time.time())
        self._applied = rows

    def _failed(self, reason: str, detail: str) -> None:
        LAG_READ_FAILURES.labels(reason).inc()
        log.warning("consumer lag not read; /metrics keeps its last values", reason=reason, error=detail)

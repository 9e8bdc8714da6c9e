"""The reads behind the ops page, shared by everyone looking at it.

One sample at a time, whoever asks: a request gets the latest complete snapshot at once and, when it
is older than ``interval_s``, starts the next sample in the background (only the very first request
waits for one). So any number of open pages cost one backlog read every few seconds, and nothing
reads the broker while nobody looks. Dead letters are counted at most every ``dlq_ttl_s``: listing
them drains every DLQ topic. A sample that fails keeps the previous snapshot, with the error.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry

from services.api import snapshot
from services.ops import Backlog, DeadLetter

log = structlog.get_logger("ragstream.api.ops")


class SnapshotUnavailable(RuntimeError):
    """The first sample could not be read (the broker does not answer)."""


class OpsSampler:
    def __init__(
        self,
        read_backlog: Callable[[], Awaitable[list[Backlog]]],
        read_letters: Callable[[], Awaitable[list[DeadLetter]]],
        read_index: Callable[[], Awaitable[dict[str, Any]]] | None,
        prefix: str,
        *,
        interval_s: float = 2.0,
        dlq_ttl_s: float = 5.0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._read_backlog, self._read_letters, self._read_index = read_backlog, read_letters, read_index
        self._prefix, self._registry = prefix, registry
        self.interval_s, self._dlq_ttl_s = interval_s, dlq_ttl_s
        self._history: deque[snapshot.Sample] = deque(maxlen=snapshot.HISTORY)
        self._letters: dict[str, Any] = snapshot.dead_letters([]) | {"counted_at": None}
        self._letters_at = -float("inf")
        self._latest: dict[str, Any] | None = None
        self._sampled_at = -float("inf")  # monotonic, when the latest read began (rates, pacing)
        self._read_at = -float("inf")  # monotonic, when it ended (the age shown)
        self._error: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def snapshot(self) -> dict[str, Any]:
        """The latest snapshot, with its age and the last sample's error (None when it succeeded)."""
        task = self._task
        if time.monotonic() - self._sampled_at >= self.interval_s and (task is None or task.done()):
            task = self._task = asyncio.create_task(self._sample())
        if self._latest is None and task is not None:
            await asyncio.shield(task)  # a viewer that goes away does not cancel everyone's sample
        if self._latest is None:
            raise SnapshotUnavailable(self._error or "no sample yet")
        age = time.monotonic() - self._read_at
        return self._latest | {"age_s": round(age, 1), "interval_s": self.interval_s, "error": self._error}

    async def _sample(self) -> None:
        began, wall = time.monotonic(), time.time()  # wall: when dead letters were counted
        try:
            count_letters = began - self._letters_at >= self._dlq_ttl_s
            rows, letters = await asyncio.gather(
                self._read_backlog(), self._read_letters() if count_letters else _nothing()
            )
            if letters is not None:
                self._letters = snapshot.dead_letters(letters) | {"counted_at": wall}
                self._letters_at = began
            index = await self._read_index() if self._read_index is not None else None
        except Exception as exc:  # the page shows it; the previous snapshot stays
            self._error = f"{type(exc).__name__}: {exc}"
            log.warning("ops snapshot failed", error=self._error)
            return
        committed = {(r.stage, r.topic): r.committed for r in rows}
        self._history.append(snapshot.Sample(began, committed))
        buckets = snapshot.freshness_buckets(self._registry)
        body = snapshot.snapshot(rows, self._history, self._prefix, self._letters, buckets, index)
        self._latest = body | {"sampled_at": time.time()}
        self._sampled_at, self._read_at, self._error = began, time.monotonic(), None


async def _nothing() -> None:
    return None

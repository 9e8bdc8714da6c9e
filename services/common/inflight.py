"""Concurrent handling of one subscriber's messages with commits in offset order (at least once).

A role whose messages take very different times — an agent node waiting on a model, a parse of a
hostile document running into its time limit — must not hold up the messages behind a slow one.
FastStream's own ``max_workers`` only works with ``AckPolicy.ACK_FIRST`` (offsets auto-committed on
poll: a crash would lose what was in flight), so the subscriber acks manually (``AckPolicy.MANUAL``)
and ``InFlight`` runs up to ``limit`` messages at once and commits an offset only once every earlier
offset of that partition is done: never past a message still being handled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from confluent_kafka import KafkaException, Message, TopicPartition
from faststream.confluent.annotations import KafkaMessage
from prometheus_client import Gauge

log = structlog.get_logger("ragstream.inflight")
IN_FLIGHT = Gauge("ragstream_in_flight", "Messages a role is handling right now", ["role"])


class PartitionOffsets:
    """One partition's offsets in flight, and how far the group may commit: up to (not including) the
    lowest offset still being handled, or past the highest one seen when none is."""

    def __init__(self) -> None:
        self.in_flight: set[int] = set()
        self.highest = -1
        self.committed = -1  # the next offset to read, as last committed (-1: no message yet)

    def started(self, offset: int) -> None:
        if self.committed < 0:
            self.committed = offset  # the group's position: nothing below it to commit
        self.in_flight.add(offset)
        self.highest = max(self.highest, offset)

    def finished(self, offset: int) -> int | None:
        """Mark ``offset`` handled; the offset to commit now, or None when the commit point did not move."""
        self.in_flight.discard(offset)
        upto = min(self.in_flight) if self.in_flight else self.highest + 1
        if upto <= self.committed:
            return None
        self.committed = upto
        return upto


class InFlight:
    """Runs one role's messages concurrently, at most ``limit`` at a time, and commits in offset order.

    * The subscriber's handler calls ``submit``: it waits for a free slot (so polling stops while the
      role is full), records the offset and starts a task; the subscriber polls the next message.
    * Messages with the same key (a request_id, a doc_id) run one after another, in arrival order.
    * A message whose handling raises (``StageContext.handle_one`` dead-letters poison itself, so this
      is e.g. the broker being unreachable) is retried with backoff; it is never skipped.
    * Commits go to a thread of their own, latest offsets only: confluent-kafka serialises calls on a
      consumer, so a commit from the event loop would wait out the subscriber's poll (up to 100 ms).
      At most one commit per ``commit_interval_s``: under 500 chats a commit per handled message
      was a tenth of the chat path's work (broker and client); a crash re-handles at most that
      interval's messages more, which at-least-once handling allows anyway.
    * ``drain`` at shutdown: no new work, wait for what runs (cancelled after the timeout: those
      offsets stay uncommitted and are redelivered), then commit synchronously.

    After a rebalance a partition's new owner starts at the last commit, so a message may be handled
    twice (at least once): handlers are idempotent (the agent's events carry the same seqs and the
    gateway drops repeats; a parse stores the same content-addressed sections again).
    """

    def __init__(
        self,
        role: str,
        limit: int,
        handle: Callable[[Message], Awaitable[None]],
        commit_interval_s: float = 0.1,
    ) -> None:
        self.role = role
        self.commit_interval_s = commit_interval_s
        self.limit = limit
        self.handle = handle
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_of_key: dict[bytes | str | None, asyncio.Task[None]] = {}
        self._offsets: dict[tuple[str, int], PartitionOffsets] = {}
        self._consumer: Any = None  # confluent_kafka.Consumer of the subscriber (for commits)
        self._committer = ThreadPoolExecutor(1, thread_name_prefix=f"{role}-commit")
        self._to_commit: dict[tuple[str, int], int] = {}
        self._committing = False
        self.stopping = False

    async def submit(self, msg: KafkaMessage) -> None:
        if self.stopping:
            return  # neither handled nor committed: the next owner of the partition reads it
        await self._slots.acquire()
        if self.stopping:
            self._slots.release()
            return
        raw: Message = msg.raw_message  # type: ignore[assignment]  # a single subscriber: one message
        self._consumer = getattr(msg.consumer, "consumer", None)
        where = (str(raw.topic()), int(raw.partition() or 0))
        offset = int(raw.offset() or 0)
        self._offsets.setdefault(where, PartitionOffsets()).started(offset)
        key = raw.key()
        task = asyncio.create_task(self._run(raw, where, offset, self._last_of_key.get(key)))
        self._last_of_key[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, key))

    def _done(self, task: asyncio.Task[None], key: bytes | str | None) -> None:
        self._tasks.discard(task)
        if self._last_of_key.get(key) is task:
            del self._last_of_key[key]
        self._slots.release()

    async def _run(
        self, raw: Message, where: tuple[str, int], offset: int, before: asyncio.Task[None] | None
    ) -> None:
        if before is not None:
            await asyncio.wait([before])  # same request: keep arrival order
        IN_FLIGHT.labels(self.role).inc()
        try:
            delay = 0.2
            while True:
                try:
                    await self.handle(raw)
                    break
                except Exception as exc:
                    if self.stopping:
                        log.warning("left for redelivery", role=self.role, offset=offset, error=repr(exc))
                        return
                    log.exception("handling failed; retrying", role=self.role, offset=offset)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            IN_FLIGHT.labels(self.role).dec()
        upto = self._offsets[where].finished(offset)
        if upto is not None:
            self._to_commit[where] = upto
            self._schedule_commit()

    def _schedule_commit(self) -> None:
        if self._committing or not self._to_commit or self._consumer is None or self.stopping:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._to_commit.items()]
        self._to_commit = {}
        self._committing = True
        done = asyncio.get_running_loop().run_in_executor(self._committer, self._commit, offsets, True)
        done.add_done_callback(self._committed)

    def _committed(self, _: asyncio.Future[None]) -> None:
        asyncio.get_running_loop().call_later(self.commit_interval_s, self._commit_again)

    def _commit_again(self) -> None:
        self._committing = False
        self._schedule_commit()  # offsets that advanced meanwhile

    def _commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        if self._consumer is None:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except (KafkaException, RuntimeError) as exc:  # partition revoked, consumer closed: redelivered
            log.warning("commit failed", role=self.role, error=str(exc))

    async def drain(self, timeout_s: float) -> None:
        self.stopping = True
        tasks = list(self._tasks)
        if tasks:
            _done, running = await asyncio.wait(tasks, timeout=timeout_s)
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)
                log.warning("stopped with work in flight; it will be redelivered", role=self.role)
        positions = {where: o.committed for where, o in self._offsets.items() if o.committed >= 0}
        if positions:  # queued behind any asynchronous commit still running
            await asyncio.get_running_loop().run_in_executor(self._committer, self._commit_final, positions)
        self._committer.shutdown(wait=False)

    def _commit_final(self, positions: dict[tuple[str, int], int]) -> None:
        """Commit synchronously what is done, for the partitions still ours (another member may have
        committed further on one that moved)."""
        if self._consumer is None:
            return
        try:
            owned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        except (KafkaException, RuntimeError):
            return
        final = [TopicPartition(t, p, o) for (t, p), o in positions.items() if (t, p) in owned]
        if final:
            self._commit(final, asynchronous=False)

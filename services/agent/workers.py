"""The distributed executor of the agent graph: one Kafka worker per node.

Each worker consumes ``AgentState`` from its node's topic (``topics.NODE_TOPICS``), runs the SAME node
function the in-process graph runs, turns the node's events into ``ReplyEvent``s on the asking
gateway's reply topic (``state.reply_to``), and publishes the updated state to the topic of the node
its ``Command`` names — or, at the end, a FINAL event. A failing step sends the client an ERROR event
and dead-letters the state: an interactive answer is better failed fast than retried for seconds. A
model server that stays unavailable (after the client's own retries) is not the request's fault: the
client gets ERROR with code ``unavailable`` (ask again) and nothing is dead-lettered.

Each node handles up to ``KafkaSettings.agent_concurrency`` states at once (``InFlight``): a slow
retrieval does not hold up the questions behind it. FastStream's own ``max_workers`` only works with
``AckPolicy.ACK_FIRST`` (offsets auto-committed on poll: a crash would lose what was in flight), so the
subscriber acks manually and ``InFlight`` commits an offset only once every earlier offset of that
partition is done — at least once, never past a message still being handled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import KafkaException, Message, TopicPartition
from faststream import AckPolicy
from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage
from langgraph.graph import END
from prometheus_client import Gauge

import topics
from services.agent.graph import NODES, AgentDeps, NodeFn, make_nodes
from services.common import kafka_conf
from services.common.codec import make_codec
from services.common.messages import AgentState, Citation, DocumentIndexed, ReplyEvent
from services.common.settings import Settings
from services.common.stage import PoisonMessage, StageContext, consumer_group
from services.models.http import ModelUnavailable
from services.stores.cache import SemanticCache
from topics import TopicNames
from topics.admin import ensure_topics

log = structlog.get_logger("ragstream.agent")
IN_FLIGHT = Gauge("ragstream_agent_in_flight", "Messages an agent node is handling right now", ["node"])
_TYPES = {"status": "STATUS", "token": "TOKEN", "citations": "CITATIONS"}


class ReplyEmitter:
    """Publishes a node's events to the gateway's reply topic, numbering them from ``state.seq``.

    ``send`` does not wait for the broker: events go out back to back (one producer, one partition per
    request: their order is kept) and ``flush`` waits for all of them. A step flushes before it hands
    the state on, so the next node — possibly another process with its own producer — can only add
    events after this node's are on the topic: the gateway sees every request's events in seq order.
    """

    def __init__(self, ctx: StageContext, state: AgentState) -> None:
        self.ctx = ctx
        self.state = state
        self.seq = state.seq
        self._pending: list[asyncio.Future[Any]] = []

    async def send(
        self,
        kind: str,
        text: str = "",
        step: str | None = None,
        citations: list[Citation] | None = None,
        code: str | None = None,
    ) -> None:
        if not self.state.reply_to:
            return  # nobody listens (e.g. a replayed request without a gateway)
        event = ReplyEvent(
            request_id=self.state.request_id,
            seq=self.seq,
            type=kind,
            step=step,
            text=text,
            citations=citations or [],
            emitted_at=datetime.now(UTC),
            code=code,
        )
        self.seq += 1
        data = self.ctx.codec.encode(event, self.state.reply_to)
        delivered = await self.ctx.broker.publish(
            data, self.state.reply_to, key=self.state.request_id.encode(), no_confirm=True
        )
        self._pending.append(delivered)

    async def flush(self) -> None:
        """Wait until every event sent so far is acknowledged; raise the first failure (the step is then
        retried, re-emitting the same seqs, which the gateway drops as redeliveries)."""
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def abandon(self) -> None:
        """A failed or cancelled step: stop caring about deliveries still pending (without waiting: a
        delivery report that never comes must not hang a shutdown) and keep their errors out of the log."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.add_done_callback(lambda f: None if f.cancelled() else f.exception())

    async def __call__(self, event: dict[str, Any]) -> None:
        kind = _TYPES[event["type"]]
        citations = [Citation.model_validate(c) for c in event.get("citations", [])]
        await self.send(kind, text=event.get("text", ""), step=event.get("step"), citations=citations)


async def step(ctx: StageContext, node: str, fn: NodeFn, state: AgentState) -> None:
    emitter = ReplyEmitter(ctx, state)
    try:
        try:
            command = await fn(state, {"configurable": {"emit": emitter}})
        except ModelUnavailable as exc:
            # An outage, not a bad request: the user hears "try again", nothing is dead-lettered
            # (replaying a question minutes later would answer nobody).
            await emitter.send("ERROR", text=f"a model server is unavailable ({exc}); ask again shortly",
                               step=node, code="unavailable")  # fmt: skip
            await emitter.flush()
            log.warning("model unavailable; told the client", node=node, request_id=state.request_id)
            return
        except Exception as exc:
            await emitter.send(
                "ERROR", text=f"the {node} step failed: {type(exc).__name__}: {exc}", step=node
            )
            await emitter.flush()
            raise PoisonMessage("agent_step_failed", f"{node}: {exc!r}") from exc
        update = dict(command.update or {})
        new_state = state.model_copy(update={**update, "seq": emitter.seq})
        if command.goto == END or not command.goto:
            await emitter.send("FINAL", text=new_state.answer, step=node, citations=list(new_state.citations))
            await emitter.flush()
            log.info(
                "answered",
                request_id=state.request_id,
                steps=new_state.steps,
                citations=len(new_state.citations),
            )
            return
        await emitter.flush()  # before the next node can emit later seqs (see ReplyEmitter)
        await ctx.publish(topics.NODE_TOPICS[str(command.goto)], new_state, key=state.request_id)
    finally:
        emitter.abandon()  # after a failure; empty after a success


# ----------------------------------------------------------------------------------- concurrency


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
    """Runs one node's messages concurrently, at most ``limit`` at a time, and commits in offset order.

    * The subscriber's handler calls ``submit``: it waits for a free slot (so polling stops while the
      node is full), records the offset and starts a task; the subscriber polls the next message.
    * Messages with the same key (request_id) run one after another, in arrival order.
    * A message whose handling raises (``StageContext.handle_one`` dead-letters poison itself, so this
      is e.g. the broker being unreachable) is retried with backoff; it is never skipped.
    * Commits go to a thread of their own, latest offsets only: confluent-kafka serialises calls on a
      consumer, so a commit from the event loop would wait out the subscriber's poll (up to 100 ms).
    * ``drain`` at shutdown: no new work, wait for what runs (cancelled after the timeout: those
      offsets stay uncommitted and are redelivered), then commit synchronously.

    After a rebalance a partition's new owner starts at the last commit, so a message may be handled
    twice (at least once); the agent's events carry the same seqs then and the gateway drops repeats.
    """

    def __init__(self, node: str, limit: int, handle: Callable[[Message], Awaitable[None]]) -> None:
        self.node = node
        self.limit = limit
        self.handle = handle
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_of_key: dict[bytes | str | None, asyncio.Task[None]] = {}
        self._offsets: dict[tuple[str, int], PartitionOffsets] = {}
        self._consumer: Any = None  # confluent_kafka.Consumer of the subscriber (for commits)
        self._committer = ThreadPoolExecutor(1, thread_name_prefix=f"agent-{node}-commit")
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
        IN_FLIGHT.labels(self.node).inc()
        try:
            delay = 0.2
            while True:
                try:
                    await self.handle(raw)
                    break
                except Exception as exc:
                    if self.stopping:
                        log.warning("left for redelivery", node=self.node, offset=offset, error=repr(exc))
                        return
                    log.exception("handling failed; retrying", node=self.node, offset=offset)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            IN_FLIGHT.labels(self.node).dec()
        upto = self._offsets[where].finished(offset)
        if upto is not None:
            self._to_commit[where] = upto
            self._schedule_commit()

    def _schedule_commit(self) -> None:
        if self._committing or not self._to_commit or self._consumer is None:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._to_commit.items()]
        self._to_commit = {}
        self._committing = True
        done = asyncio.get_running_loop().run_in_executor(self._committer, self._commit, offsets, True)
        done.add_done_callback(self._committed)

    def _committed(self, _: asyncio.Future[None]) -> None:
        self._committing = False
        self._schedule_commit()  # offsets that advanced meanwhile

    def _commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        if self._consumer is None:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except (KafkaException, RuntimeError) as exc:  # partition revoked, consumer closed: redelivered
            log.warning("commit failed", node=self.node, error=str(exc))

    async def drain(self, timeout_s: float) -> None:
        self.stopping = True
        tasks = list(self._tasks)
        if tasks:
            _done, running = await asyncio.wait(tasks, timeout=timeout_s)
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)
                log.warning("stopped with work in flight; it will be redelivered", node=self.node)
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


def register(
    broker: KafkaBroker,
    ctx: StageContext,
    nodes: dict[str, NodeFn],
    which: Collection[str],
    group_suffix: str = "",
) -> list[InFlight]:
    return [_register_one(broker, ctx, node, nodes[node], group_suffix) for node in which]


def _register_one(
    broker: KafkaBroker, ctx: StageContext, node: str, fn: NodeFn, group_suffix: str
) -> InFlight:
    spec = topics.NODE_TOPICS[node]
    group = consumer_group(ctx.names, node, spec, group_suffix)

    async def handle(raw: Message) -> None:
        async def run(state: AgentState) -> None:
            await step(ctx, node, fn, state)

        await ctx.handle_one(node, spec, raw, run)

    inflight = InFlight(node, ctx.kafka.agent_concurrency, handle)
    options = ctx.subscriber_options(group, interactive=True) | {"ack_policy": AckPolicy.MANUAL}

    @broker.subscriber(ctx.names(spec), **options)
    async def on_state(msg: KafkaMessage) -> None:
        await inflight.submit(msg)

    return inflight


def register_cache_invalidator(broker: KafkaBroker, ctx: StageContext, cache: SemanticCache) -> None:
    """Every DocumentIndexed (an update, a new document, a delete) makes the tenant's cached answers stale."""
    spec = topics.INDEXED
    group = consumer_group(ctx.names, "cache-invalidator", spec)

    @broker.subscriber(ctx.names(spec), **ctx.subscriber_options(group))
    async def on_indexed(msg: KafkaMessage) -> None:
        async def handle(event: DocumentIndexed) -> None:
            await cache.bump(event.tenant)

        await ctx.handle_one("cache-invalidator", spec, msg.raw_message, handle)


@contextlib.asynccontextmanager
async def run_agent_workers(
    settings: Settings,
    bootstrap: str,
    names: TopicNames,
    deps: AgentDeps,
    which: Collection[str] = NODES,
    cache: SemanticCache | None = None,
    drain_timeout_s: float = 10.0,
) -> AsyncIterator[KafkaBroker]:
    """Host the given agent nodes as Kafka workers in this process until exit (and, with a cache,
    the invalidator that keeps it honest). At exit, work in flight gets ``drain_timeout_s`` to finish."""
    kafka_conf.use(settings.kafka)
    ensure_topics(bootstrap, names, settings.kafka.partitions, settings.kafka.replication_factor, topics.CHAT)
    broker = KafkaBroker(
        bootstrap,
        client_id=f"{settings.kafka.client_id}-agent",
        graceful_timeout=10.0,
        logger=None,
        enable_idempotence=True,
        acks="all",
        # Small requests (one reply event, one state) back to back: Nagle would hold each behind the
        # previous one's ACK.
        config={"socket.nagle.disable": True, **kafka_conf.security()},  # type: ignore[arg-type]
    )
    ctx = StageContext(
        broker, make_codec(settings.kafka.schema_registry_url), names, settings.pipeline, settings.kafka
    )
    runners = register(broker, ctx, make_nodes(deps), which)
    if cache is not None:
        register_cache_invalidator(broker, ctx, cache)
    await broker.start()
    try:
        log.info("agent workers running", nodes=list(which), concurrency=settings.kafka.agent_concurrency)
        yield broker
    finally:
        await asyncio.gather(*(r.drain(drain_timeout_s) for r in runners))
        await broker.stop()

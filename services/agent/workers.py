"""The distributed executor of the agent graph: one Kafka worker per node.

Each worker consumes ``AgentState`` from its node's topic (``topics.NODE_TOPICS``), runs the SAME node
function the in-process graph runs, turns the node's events into ``ReplyEvent``s on the asking
gateway's reply topic (``state.reply_to``), and publishes the updated state to the topic of the node
its ``Command`` names — or, at the end, a FINAL event. A failing step sends the client an ERROR event
and dead-letters the state: an interactive answer is better failed fast than retried for seconds. A
model server that stays unavailable (after the client's own retries) is not the request's fault: the
client gets ERROR with code ``unavailable`` (ask again) and nothing is dead-lettered.

Each node handles up to ``KafkaSettings.agent_concurrency`` states at once
(``services/common/inflight.py``): a slow retrieval does not hold up the questions behind it, and an
offset is committed only once every earlier offset of its partition is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import Message
from faststream import AckPolicy
from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage
from faststream.confluent.message import KafkaMessage as Delivered
from langgraph.graph import END

import topics
from services.agent.graph import NODES, AgentDeps, NodeFn, make_nodes
from services.common import kafka_conf
from services.common.codec import make_codec
from services.common.ids import CorrelationIds
from services.common.inflight import InFlight
from services.common.messages import AgentState, Citation, DocumentIndexed, ReplyEvent
from services.common.settings import Settings
from services.common.stage import PoisonMessage, StageContext, consumer_group
from services.models.http import ModelUnavailable
from services.stores.cache import SemanticCache
from topics import TopicNames
from topics.admin import ensure_topics

log = structlog.get_logger("ragstream.agent")
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
        self._generation = ctx.renewal.generation  # the producer these events go out on

    async def send(
        self,
        kind: str,
        text: str = "",
        step: str | None = None,
        citations: list[Citation] | None = None,
        code: str | None = None,
        index_version: str | None = None,
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
            index_version=index_version,
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
                await self.ctx.renewal.after(result, self._generation)  # a fenced producer: a new one
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
            # The user hears what happened, not where: the server's address and the transport error
            # are for the log (any user of any tenant reads the error frame).
            await emitter.send("ERROR", text="a model server is unavailable; ask again shortly",
                               step=node, code="unavailable")  # fmt: skip
            await emitter.flush()
            log.warning("model unavailable; told the client", node=node, request_id=state.request_id,
                        error=str(exc)[:300])  # fmt: skip
            return
        except Exception as exc:
            failed = f"the {node} step failed (request {state.request_id}: see the dead letters)"
            await emitter.send("ERROR", text=failed, step=node)
            await emitter.flush()
            raise PoisonMessage("agent_step_failed", f"{node}: {exc!r}") from exc
        update = dict(command.update or {})
        new_state = state.model_copy(update={**update, "seq": emitter.seq})
        if command.goto == END or not command.goto:
            await emitter.send(
                "FINAL",
                text=new_state.answer,
                step=node,
                citations=list(new_state.citations),
                index_version=new_state.index_version or None,
            )
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

    @broker.subscriber(ctx.names(spec), decoder=_itself, **options)
    async def on_state(msg: Any) -> None:  # the message itself (_itself); FastStream refuses its class here
        await inflight.submit(msg)

    return inflight


async def _itself(msg: Delivered) -> Delivered:
    """An agent node's decoder: its handler takes the message itself. FastStream's ``KafkaMessage``
    annotation (a ``Context`` field) is resolved on a worker thread, a thread hop per chat step."""
    return msg


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
        id_generator=CorrelationIds(),
        logger=None,
        enable_idempotence=settings.kafka.chat_idempotence,
        acks="all",
        # Small requests (one reply event, one state) back to back: Nagle would hold each behind the
        # previous one's ACK. Without idempotence, one request in flight keeps each partition's order.
        config={  # type: ignore[arg-type]
            "socket.nagle.disable": True,
            **kafka_conf.security(),
            **({} if settings.kafka.chat_idempotence else {"max.in.flight.requests.per.connection": 1}),
        },
    )
    ctx = StageContext(
        broker,
        make_codec(settings.kafka.schema_registry_url),
        names,
        settings.pipeline,
        settings.kafka,
        role="agent",
        group_instance=settings.group_instance(),
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

"""The distributed executor of the agent graph: one Kafka worker per node.

Each worker consumes ``AgentState`` from its node's topic (``topics.NODE_TOPICS``), runs the SAME node
function the in-process graph runs, turns the node's events into ``ReplyEvent``s on the asking
gateway's reply topic (``state.reply_to``), and publishes the updated state to the topic of the node
its ``Command`` names — or, at the end, a FINAL event. A failing step sends the client an ERROR event
and dead-letters the state: an interactive answer is better failed fast than retried for seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from typing import Any

import structlog
from faststream.confluent import KafkaBroker
from faststream.confluent.annotations import KafkaMessage
from langgraph.graph import END

import topics
from services.agent.graph import NODES, AgentDeps, NodeFn, make_nodes
from services.common.codec import make_codec
from services.common.messages import AgentState, Citation, DocumentIndexed, ReplyEvent
from services.common.settings import Settings
from services.common.stage import PoisonMessage, StageContext, consumer_group
from services.stores.cache import SemanticCache
from topics import TopicNames
from topics.admin import ensure_topics

log = structlog.get_logger("ragstream.agent")
_TYPES = {"status": "STATUS", "token": "TOKEN", "citations": "CITATIONS"}


class ReplyEmitter:
    """Publishes a node's events to the gateway's reply topic, numbering them from ``state.seq``."""

    def __init__(self, ctx: StageContext, state: AgentState) -> None:
        self.ctx = ctx
        self.state = state
        self.seq = state.seq

    async def send(
        self, kind: str, text: str = "", step: str | None = None, citations: list[Citation] | None = None
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
        )
        self.seq += 1
        data = self.ctx.codec.encode(event, self.state.reply_to)
        await self.ctx.broker.publish(data, self.state.reply_to, key=self.state.request_id.encode())

    async def __call__(self, event: dict[str, Any]) -> None:
        kind = _TYPES[event["type"]]
        citations = [Citation.model_validate(c) for c in event.get("citations", [])]
        await self.send(kind, text=event.get("text", ""), step=event.get("step"), citations=citations)


async def step(ctx: StageContext, node: str, fn: NodeFn, state: AgentState) -> None:
    emitter = ReplyEmitter(ctx, state)
    try:
        command = await fn(state, {"configurable": {"emit": emitter}})
    except Exception as exc:
        await emitter.send("ERROR", text=f"the {node} step failed: {type(exc).__name__}: {exc}", step=node)
        raise PoisonMessage("agent_step_failed", f"{node}: {exc!r}") from exc
    update = dict(command.update or {})
    new_state = state.model_copy(update={**update, "seq": emitter.seq})
    if command.goto == END or not command.goto:
        await emitter.send("FINAL", text=new_state.answer, step=node, citations=list(new_state.citations))
        log.info(
            "answered", request_id=state.request_id, steps=new_state.steps, citations=len(new_state.citations)
        )
        return
    target = topics.NODE_TOPICS[str(command.goto)]
    await ctx.publish(target, new_state, key=state.request_id)


def register(
    broker: KafkaBroker,
    ctx: StageContext,
    nodes: dict[str, NodeFn],
    which: Collection[str],
    group_suffix: str = "",
) -> None:
    for node in which:
        _register_one(broker, ctx, node, nodes[node], group_suffix)


def _register_one(broker: KafkaBroker, ctx: StageContext, node: str, fn: NodeFn, group_suffix: str) -> None:
    spec = topics.NODE_TOPICS[node]
    group = consumer_group(ctx.names, node, spec, group_suffix)

    @broker.subscriber(ctx.names(spec), **ctx.subscriber_options(group, interactive=True))
    async def on_state(msg: KafkaMessage) -> None:
        async def handle(state: AgentState) -> None:
            await step(ctx, node, fn, state)

        await ctx.handle_one(node, spec, msg.raw_message, handle)


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
) -> AsyncIterator[KafkaBroker]:
    """Host the given agent nodes as Kafka workers in this process until exit (and, with a cache,
    the invalidator that keeps it honest)."""
    ensure_topics(bootstrap, names, settings.kafka.partitions, settings.kafka.replication_factor, topics.CHAT)
    broker = KafkaBroker(
        bootstrap,
        client_id=f"{settings.kafka.client_id}-agent",
        graceful_timeout=10.0,
        logger=None,
        enable_idempotence=True,
        acks="all",
    )
    ctx = StageContext(
        broker, make_codec(settings.kafka.schema_registry_url), names, settings.pipeline, settings.kafka
    )
    register(broker, ctx, make_nodes(deps), which)
    if cache is not None:
        register_cache_invalidator(broker, ctx, cache)
    await broker.start()
    try:
        log.info("agent workers running", nodes=list(which))
        yield broker
    finally:
        await broker.stop()

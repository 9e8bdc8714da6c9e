"""When the stores and the broker disagree, say so; `ragstream repair` re-derives the live index
from the chunk topic, in place.

Crashes do not need this (every stage resumes from its committed offsets, and the graph replays from
its own checkpoint: ``services/index/recovery.py``). It is for what no process can see by itself: a
store restored from an older backup, a store or a broker wiped by hand. ``diagnose`` compares what
the live collection, the graph and the chunk topic hold once nothing is in flight; ``repair``
replays all of ``docs.chunks`` through embed, extract-graph and index into the *live* collection
under fresh consumer groups and private topics. Every write is idempotent (point ids and graph
MERGE keys come from content) and the live ledger is shared, so replayed records of replaced or
deleted versions are skipped: the result is what a clean run of the chunk topic gives, with nothing
duplicated, while searches keep answering from the same collection.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from confluent_kafka.admin import AdminClient

from services.catchup import collection_of, generation_names, group_suffix
from services.common import kafka_conf
from services.ops import backlog
from services.roles import GENERATION_STAGES
from topics import TopicNames

if TYPE_CHECKING:
    from services.generations import Stack

log = structlog.get_logger("ragstream.repair")


def diagnose(vector_chunks: int, graph_chunks: int, replayable: int, lag: int) -> list[str]:
    """What is wrong between the stores and the broker, in words an operator can act on (empty: all
    agree). Only meaningful once nothing is in flight (``lag`` 0): until then the stores trail."""
    problems = []
    if vector_chunks and not replayable:
        problems.append(
            f"the broker has lost its topics: docs.chunks is empty while the index holds {vector_chunks} "
            "chunks (a wiped broker, or RAGSTREAM_KAFKA__STORAGE=memory restarted); publish the documents "
            "again to make them replayable"
        )
    if lag == 0 and replayable and vector_chunks != graph_chunks:
        problems.append(
            f"the stores disagree: the live collection holds {vector_chunks} chunks, the graph "
            f"{graph_chunks} (a store restored from an older backup?); run `ragstream repair`"
        )
    return problems


@dataclass
class RepairProgress:
    state: str = "idle"  # idle | replaying | done | failed
    collection: str = ""
    lag: int = 0
    replayable: int = 0
    before: dict[str, int] | None = None
    after: dict[str, int] | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def counts(stack: Stack) -> dict[str, int]:
    collection = await stack.vectors.resolve(stack.settings.stores.collection_alias)
    vectors = await stack.vectors.count(collection, must={}) if collection else 0
    return {"vector_chunks": vectors, "graph_chunks": (await stack.graph.stats(None))["chunks"]}


async def repair(stack: Stack, progress: RepairProgress, timeout_s: float, settle: int = 2) -> None:
    """Replay the chunk topic into the live collection and graph; return once caught up."""
    from services.pipeline import run_pipeline  # the stages: only where a repair runs, not for diagnose

    alias = stack.settings.stores.collection_alias
    live = await stack.vectors.resolve(alias) or collection_of(alias, stack.live_label)  # wiped: rebuilt
    label = f"repair{int(time.time())}"
    names, suffix = generation_names(stack.names, label), group_suffix(label)
    progress.collection, progress.before = live, await counts(stack)
    ledger = stack.live.resources["indexer"].ledger  # replaced and deleted versions stay skipped
    log.info("repair started", collection=live, replay_groups=suffix, **progress.before)
    try:
        async with run_pipeline(
            stack.settings,
            GENERATION_STAGES,
            bootstrap=stack.bootstrap,
            names=names,
            target_collection=live,
            group_suffix=suffix,
            ledger=ledger,
            **stack.shared,
        ):
            await _caught_up(stack.bootstrap, names, suffix, progress, timeout_s, settle)
    finally:
        await asyncio.to_thread(_delete_private_topics, stack.bootstrap, stack.names, names)
    if await stack.vectors.resolve(alias) is None and live in await stack.vectors.collections():
        await stack.vectors.set_alias(alias, live)
    progress.after = await counts(stack)
    log.info("repair done", collection=live, **progress.after)


async def _caught_up(
    bootstrap: str, names: TopicNames, suffix: str, progress: RepairProgress, timeout_s: float, settle: int
) -> None:
    deadline = time.monotonic() + timeout_s
    calm = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        rows = await asyncio.to_thread(backlog, bootstrap, names, suffix, GENERATION_STAGES)
        progress.lag = sum(r.lag for r in rows)
        progress.replayable = sum(r.end for r in rows if r.stage == "embed")
        if progress.replayable == 0:
            raise RuntimeError("docs.chunks is empty: nothing to re-derive from; publish the documents again")
        started = all(r.committed > 0 for r in rows if r.end > 0)
        calm = calm + 1 if progress.lag == 0 and started else 0
        if calm >= settle:
            return
    raise TimeoutError(f"the repair did not catch up in {timeout_s:.0f}s (lag {progress.lag})")


def _delete_private_topics(bootstrap: str, shared: TopicNames, own: TopicNames) -> None:
    """The repair's own topics (its docs.embedded and docs.graph) are scratch: delete them."""
    private = [t for t in own.all_names() if t not in set(shared.all_names())]
    if not private:
        return
    admin = AdminClient(kafka_conf.client(bootstrap))
    for topic, future in admin.delete_topics(private, operation_timeout=30).items():
        try:
            future.result(30)
        except Exception as exc:
            log.warning("repair topic not deleted", topic=topic, error=str(exc))

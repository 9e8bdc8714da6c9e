"""Index generations and reindex by replay.

The front of the pipeline (parse, chunk) runs once. Everything after the chunk topic (embed,
extract-graph, index) is an *index generation*: its consumer groups, private topics and Qdrant
collection ``chunks_vN``. A reindex starts generation N+1 beside the live one, replaying
``docs.chunks`` from the beginning with fresh consumer groups (no re-parse), waits until it has
caught up, swaps the alias atomically and retires generation N. Searches read the alias, so they
keep answering throughout; new documents keep flowing into both generations while the new one
catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from services.catchup import (
    ReindexRefused,
    collection_of,
    generation_names,
    group_suffix,
    measure,
    read_live_label,
    write_live_label,
)
from services.common.settings import Settings
from services.pipeline import Pipeline, run_pipeline
from services.repair import RepairProgress, repair
from services.roles import FRONT_STAGES, GENERATION_STAGES
from topics import TopicNames

log = structlog.get_logger("ragstream.reindex")


def next_collection(alias: str, existing: list[str]) -> str:
    versions = [
        int(m.group(1)) for name in existing if (m := re.fullmatch(rf"{re.escape(alias)}_v(\d+)", name))
    ]
    return f"{alias}_v{max(versions, default=0) + 1}"


def attempted_on_broker(bootstrap: str, names: TopicNames, alias: str) -> list[str]:
    """Versions whose generation topics exist on the broker: an attempt that a crash ended before it
    wrote a vector is remembered by the durable broker, and is not reused either."""
    from confluent_kafka.admin import AdminClient

    from services.common import kafka_conf

    topics = AdminClient(kafka_conf.client(bootstrap)).list_topics(timeout=10).topics
    pattern = re.compile(rf"{re.escape(names.prefix)}(v\d+)\.")
    return sorted({collection_of(alias, m.group(1)) for t in topics if (m := pattern.match(t))})


@dataclass
class ReindexProgress:
    state: str = "idle"  # idle | starting | catching-up | swapped | failed | cancelled
    collection: str = ""
    previous: str | None = None
    live_chunks: int = 0
    new_chunks: int = 0
    lag: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Stack:
    """A running stack: the front stages plus the live index generation, with room for a second."""

    settings: Settings
    bootstrap: str
    names: TopicNames
    front: Pipeline
    live: Pipeline
    shared: dict[str, Any]
    live_label: str = ""  # "" for the first generation, "v2", "v3"... after reindexes
    _exits: dict[str, contextlib.AsyncExitStack] = field(default_factory=dict)
    progress: ReindexProgress = field(default_factory=ReindexProgress)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Versions an attempt already used: a retry never reuses a failed generation's topics and groups
    _attempted: list[str] = field(default_factory=list)
    _task: asyncio.Task[ReindexProgress] | None = None
    repair_progress: RepairProgress = field(default_factory=RepairProgress)
    _repair_task: asyncio.Task[None] | None = None

    @property
    def vectors(self) -> Any:
        return self.shared["vectors"]

    @property
    def graph(self) -> Any:
        return self.shared["graph"]

    @property
    def embedder(self) -> Any:
        return self.shared["embedder"]

    @functools.cached_property
    def agent(self) -> Any:
        """The chat agent graph over this stack's stores (compiled on first use)."""
        from services.agent.wiring import compile_agent

        return compile_agent(self.embedder, self.vectors, self.graph, self.settings.stores.collection_alias)

    def start_reindex(self, timeout_s: float = 3600.0) -> ReindexProgress:
        """Start a reindex in the background (RuntimeError if one runs); follow ``progress``, which
        says "starting" from this call on: before the task picks its target it asks the broker which
        versions earlier attempts used, and on a slow machine a caller that looked 100 ms later still
        read the last run's progress ("idle": `ragstream reindex` gave up at once)."""
        if self._lock.locked() or (self._task is not None and not self._task.done()):
            raise RuntimeError("a reindex is already running")
        self.progress = ReindexProgress("starting", started_at=time.time())
        self._task = asyncio.create_task(self.reindex(timeout_s))
        self._task.add_done_callback(lambda t: t.cancelled() or t.exception())  # failures live in progress
        return self.progress

    def start_repair(self, timeout_s: float = 3600.0) -> RepairProgress:
        """Re-derive the live index from the chunk topic in the background (services/repair.py);
        RuntimeError while a reindex or another repair runs. Follow ``repair_progress``."""
        if self._lock.locked():
            raise RuntimeError("a reindex or a repair is already running")
        self.repair_progress = RepairProgress("replaying", started_at=time.time())

        async def run() -> None:
            async with self._lock:
                try:
                    await repair(self, self.repair_progress, timeout_s)
                    self.repair_progress.state = "done"
                except Exception as exc:
                    self.repair_progress.state, self.repair_progress.error = "failed", str(exc)
                    log.warning("repair failed", error=str(exc))
                finally:
                    self.repair_progress.finished_at = time.time()

        self._repair_task = asyncio.create_task(run())
        return self.repair_progress

    def cancel_reindex(self) -> bool:
        """Stop the reindex in progress (its new generation is retired, the alias stays); False if none."""
        if self._task is None or self._task.done():
            return False
        self._task.cancel()
        return True

    async def reindex(self, timeout_s: float = 3600.0, settle_checks: int = 2) -> ReindexProgress:
        """Build the next index version from the chunk topic and swap it in; returns when swapped."""
        if self._lock.locked():
            raise RuntimeError("a reindex is already running")
        async with self._lock:
            alias = self.settings.stores.collection_alias
            try:
                previous = await self.vectors.resolve(alias)
                earlier = await asyncio.to_thread(attempted_on_broker, self.bootstrap, self.names, alias)
                used = [*await self.vectors.collections(), *self._attempted, *earlier]
                target = next_collection(alias, used)
            except BaseException as exc:  # "starting" must not outlive a start that failed
                error = f"cannot start: {exc!r}"
                self.progress = ReindexProgress("failed", error=error, finished_at=time.time())
                raise
            self._attempted.append(target)
            label = target.rsplit("_", 1)[1]
            self.progress = ReindexProgress("catching-up", target, previous, started_at=time.time())
            names = generation_names(self.names, label)
            suffix = group_suffix(label)
            exit_stack = contextlib.AsyncExitStack()
            try:
                new = await exit_stack.enter_async_context(
                    run_pipeline(
                        self.settings,
                        GENERATION_STAGES,
                        bootstrap=self.bootstrap,
                        names=names,
                        target_collection=target,
                        group_suffix=suffix,
                        **self.shared,
                    )
                )
                await self._catch_up(label, timeout_s, settle_checks)
                await self.vectors.set_alias(alias, target)
                log.info("alias swapped", alias=alias, collection=target, previous=previous)
                write_live_label(self.settings, label)
                old_exit, self.live, self.live_label = self._exits.pop("live", None), new, label
                self._exits["live"] = exit_stack
                if old_exit is not None:
                    await old_exit.aclose()
                self.progress.state = "swapped"
                self.progress.finished_at = time.time()
                return self.progress
            except BaseException as exc:
                cancelled = isinstance(exc, asyncio.CancelledError)
                error = "cancelled by the operator" if cancelled else str(exc)
                log.warning("reindex ended without a swap", collection=target, reason=error)
                try:
                    await exit_stack.aclose()
                finally:  # said once the generation is retired: a new reindex may start from here on
                    self.progress.state = "cancelled" if cancelled else "failed"
                    self.progress.error = error
                    self.progress.finished_at = time.time()
                raise

    async def _catch_up(self, label: str, timeout_s: float, settle: int) -> None:
        """Wait until the new generation has consumed the chunk topic and holds what the live one
        holds. Refuse at once when there is nothing to replay, and once caught up with fewer chunks:
        swapping either in would silently lose documents."""
        alias = self.settings.stores.collection_alias
        deadline = time.monotonic() + timeout_s
        calm = short = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            state = await measure(self.bootstrap, self.names, label, self.vectors, alias)
            self.progress.lag, self.progress.live_chunks = state.lag, state.live
            self.progress.new_chunks = state.fresh
            reason = state.refusal()
            if reason and not state.caught_up:
                raise ReindexRefused(reason)  # nothing to replay: no need to wait
            calm = calm + 1 if (state.caught_up and state.fresh == state.live) else 0
            short = short + 1 if reason else 0
            if calm >= settle:
                return
            if short >= settle + 2:
                raise ReindexRefused(reason)
        raise TimeoutError(
            f"reindex into {self.progress.collection} did not catch up in {timeout_s:.0f}s "
            f"(lag {self.progress.lag}, {self.progress.new_chunks}/{self.progress.live_chunks} chunks)"
        )

    async def close(self) -> None:
        for exit_stack in reversed(list(self._exits.values())):
            await exit_stack.aclose()
        self._exits.clear()


@contextlib.asynccontextmanager
async def run_stack(
    settings: Settings, bootstrap: str | None = None, names: TopicNames | None = None, embedder: Any = None
) -> AsyncIterator[Stack]:
    """The embedded stack as `ragstream up` runs it: front stages + one live index generation, with
    the stores and model opened once and shared by every generation."""
    from services.bootstrap.adapters import embedded_broker, embedder_for, graph_store, vector_index

    names = names or TopicNames(settings.kafka.topic_prefix)
    async with contextlib.AsyncExitStack() as outer:
        if bootstrap is None:
            bootstrap = await outer.enter_async_context(embedded_broker(settings))
        vectors = vector_index(settings)
        outer.push_async_callback(vectors.close)
        graph = await outer.enter_async_context(graph_store(settings))
        if embedder is None:
            embedder = embedder_for(settings)
            outer.push_async_callback(embedder.close)
        shared = {"embedder": embedder, "vectors": vectors, "graph": graph}
        front = await outer.enter_async_context(
            run_pipeline(settings, FRONT_STAGES, bootstrap=bootstrap, names=names)
        )
        label = read_live_label(settings)  # the generation a reindex swapped in survives a restart
        live_names = generation_names(names, label)
        live_exit = contextlib.AsyncExitStack()
        live = await live_exit.enter_async_context(
            run_pipeline(
                settings,
                GENERATION_STAGES,
                bootstrap=bootstrap,
                names=live_names,
                group_suffix=group_suffix(label),
                **shared,
            )
        )
        stack = Stack(settings, bootstrap, names, front, live, shared, label)
        stack._exits["live"] = live_exit
        outer.push_async_callback(stack.close)
        # The chat agent's workers (plan, retrieve, tool, respond) share the stores: in the embedded
        # mode only this process may open them.
        from services.agent.workers import run_agent_workers
        from services.bootstrap.agent import agent_runtime

        deps, cache = await agent_runtime(settings, names, outer, embedder, vectors, graph)
        await outer.enter_async_context(run_agent_workers(settings, bootstrap, names, deps, cache=cache))
        yield stack

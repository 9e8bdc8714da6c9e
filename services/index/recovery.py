"""The graph catches up with its own snapshot after a crash.

The embedded graph (FalkorDB) persists by RDB snapshots, not by an append-only file: replaying an
AOF of MERGE queries took 32 s for what was written in 1.2 s (measured, docs/architecture.md), so a
``kill -9`` between snapshots loses the graph's latest writes while Kafka already holds their offsets
as committed. The index stage therefore keeps its own position in the graph, beside the facts
(``GraphStore.checkpoint``, written after each batch), and a snapshot always holds a checkpoint no
newer than its facts. At start, when the group's committed offset of a partition is ahead of the
graph's checkpoint, the consumer starts from the checkpoint instead: the lost writes are derived
again from ``docs.graph`` (MERGEs, so what survived is not duplicated). With a store that is durable
per write (Neo4j) the checkpoint equals the committed offset and nothing is replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

log = structlog.get_logger("ragstream.index.recovery")


def position(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def positions_after(messages: Sequence[Any]) -> dict[str, int]:
    """The offset after the last of ``messages`` per partition (what a checkpoint records)."""
    after: dict[str, int] = {}
    for m in messages:
        key = position(m.topic(), m.partition())
        after[key] = max(after.get(key, 0), m.offset() + 1)
    return after


def rewinds(checkpoints: Mapping[str, int], committed: Sequence[TopicPartition]) -> dict[str, int]:
    """Where each partition must restart so the graph misses nothing: its checkpoint, where the
    committed offset is ahead of it (no checkpoint at all: the beginning)."""
    out: dict[str, int] = {}
    for tp in committed:
        if tp.offset < 0:
            continue  # nothing committed: the group starts where auto.offset.reset says
        mark = checkpoints.get(position(tp.topic, tp.partition), 0)
        if mark < tp.offset:
            out[position(tp.topic, tp.partition)] = mark
    return out


class GraphRecovery:
    """An ``on_assign`` callback for the index stage's ``docs.graph`` consumer: on the first
    assignment of each partition after start, seek back to the graph's checkpoint if the committed
    offset is ahead of it. Later assignments (rebalances) start from the committed offsets."""

    def __init__(self, consumer: str, checkpoints: Mapping[str, int]) -> None:
        self.consumer = consumer
        self.checkpoints = dict(checkpoints)
        self._seen: set[str] = set()
        self.replayed: dict[str, int] = {}  # partition → messages derived again (tests, logs)

    def on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        fresh = [tp for tp in partitions if position(tp.topic, tp.partition) not in self._seen]
        if not fresh:
            return
        self._seen.update(position(tp.topic, tp.partition) for tp in fresh)
        committed = consumer.committed(fresh, timeout=30)
        targets = rewinds(self.checkpoints, committed)
        if not targets:
            return
        by_key = {position(tp.topic, tp.partition): tp.offset for tp in committed}
        for tp in partitions:
            key = position(tp.topic, tp.partition)
            if key in targets:
                tp.offset = targets[key] if targets[key] > 0 else OFFSET_BEGINNING
                self.replayed[key] = by_key[key] - targets[key]
        log.warning(
            "graph store is behind the committed offsets (a snapshot older than the last writes): "
            "deriving the missing facts again",
            consumer=self.consumer,
            replay=self.replayed,
        )
        consumer.assign(partitions)

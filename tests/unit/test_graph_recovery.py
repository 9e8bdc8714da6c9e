"""Where the index stage restarts its docs.graph consumer after a crash: the graph's own checkpoint
where the committed offset ran ahead of it, otherwise the committed offset."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from services.index.recovery import GraphRecovery, positions_after, rewinds


@dataclass
class FakeMessage:
    t: str
    p: int
    o: int

    def topic(self) -> str:
        return self.t

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.o


def test_a_checkpoint_records_the_offset_after_the_last_message_per_partition() -> None:
    """A batch mixing partitions checkpoints each at its highest offset + 1."""
    batch = [
        FakeMessage("docs.graph", 0, 4),
        FakeMessage("docs.graph", 1, 9),
        FakeMessage("docs.graph", 0, 7),
    ]
    assert positions_after(batch) == {"docs.graph:0": 8, "docs.graph:1": 10}


def test_only_partitions_committed_past_the_checkpoint_are_rewound() -> None:
    """Behind: rewind to the checkpoint; level or ahead: keep the commit; nothing committed: untouched;
    a partition the graph never recorded: from the beginning."""
    committed = [
        TopicPartition("docs.graph", 0, 50),  # graph checkpoint 20: lost 30 messages
        TopicPartition("docs.graph", 1, 40),  # graph at 40: nothing lost
        TopicPartition("docs.graph", 2, -1001),  # nothing committed yet
        TopicPartition("docs.graph", 3, 12),  # the graph has no checkpoint here (wiped, or older home)
    ]
    marks = {"docs.graph:0": 20, "docs.graph:1": 40, "docs.graph:2": 5}
    assert rewinds(marks, committed) == {"docs.graph:0": 20, "docs.graph:3": 0}


class FakeConsumer:
    def __init__(self, committed: dict[int, int]) -> None:
        self._committed = committed
        self.assigned: list[TopicPartition] | None = None

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self._committed[tp.partition]) for tp in partitions]

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = partitions


def test_the_rewind_happens_on_the_first_assignment_only() -> None:
    """The first assignment after start seeks back; a later rebalance keeps the committed offsets."""
    recovery = GraphRecovery("ragstream.index.docs.graph", {"docs.graph:0": 3})
    consumer = FakeConsumer({0: 10, 1: 7})
    partitions = [TopicPartition("docs.graph", 0), TopicPartition("docs.graph", 1)]
    recovery.on_assign(consumer, partitions)
    assert consumer.assigned is not None
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, 3), (1, OFFSET_BEGINNING)]
    assert recovery.replayed == {"docs.graph:0": 7, "docs.graph:1": 7}

    again = FakeConsumer({0: 10, 1: 7})
    recovery.on_assign(again, [TopicPartition("docs.graph", 0), TopicPartition("docs.graph", 1)])
    assert again.assigned is None

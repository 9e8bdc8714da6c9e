"""The commit point of concurrent handling (agent nodes, parse): with messages of a partition
finishing out of order, the offset committed never passes one still being handled."""

from __future__ import annotations

from services.common.inflight import PartitionOffsets


def test_commit_point_waits_for_the_lowest_offset_in_flight() -> None:
    """10, 11, 12 in flight: 11 and 12 finishing commit nothing; 10 finishing commits 13."""
    offsets = PartitionOffsets()
    for offset in (10, 11, 12):
        offsets.started(offset)
    assert offsets.finished(12) is None
    assert offsets.finished(11) is None
    assert offsets.finished(10) == 13


def test_commit_point_moves_with_a_contiguous_prefix() -> None:
    """Finishing in order commits after each message; a later start holds the point at itself."""
    offsets = PartitionOffsets()
    offsets.started(0)
    offsets.started(1)
    assert offsets.finished(0) == 1
    offsets.started(2)
    assert offsets.finished(2) is None  # 1 still runs
    assert offsets.finished(1) == 3


def test_redelivered_offsets_never_move_the_commit_point_back() -> None:
    """After a rebalance the same offsets come again: the commit point stays where it was."""
    offsets = PartitionOffsets()
    for offset in (5, 6):
        offsets.started(offset)
    assert offsets.finished(5) == 6
    offsets.started(5)  # redelivered
    assert offsets.finished(5) is None
    assert offsets.finished(6) == 7

"""`ragstream status` names what is wrong between the stores and the broker, and stays quiet while
work is in flight or all agree."""

from __future__ import annotations

from services.repair import diagnose


def test_all_agree_or_in_flight_is_not_a_problem() -> None:
    """Equal counts, an empty stack, and a disagreement while messages are in flight say nothing."""
    assert diagnose(120, 120, replayable=300, lag=0) == []
    assert diagnose(0, 0, replayable=0, lag=0) == []
    assert diagnose(100, 120, replayable=300, lag=7) == []


def test_a_store_behind_the_other_points_at_repair() -> None:
    """Settled, with vectors and graph apart: the message gives both counts and the command."""
    (problem,) = diagnose(100, 120, replayable=300, lag=0)
    assert "100" in problem
    assert "120" in problem
    assert "ragstream repair" in problem


def test_a_broker_that_lost_its_topics_asks_for_a_new_publish() -> None:
    """An index with chunks but an empty chunk topic: repair cannot help, publishing again does."""
    (problem,) = diagnose(100, 100, replayable=0, lag=0)
    assert "publish the documents again" in problem

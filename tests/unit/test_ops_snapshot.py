"""The ops page's snapshot from what was read: throughput from consecutive samples, dead letters by
reason, freshness quantiles from the index stage's histogram, the generation and reindex progress."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from services.api import snapshot
from services.api.snapshot import Sample
from services.ops import Backlog, DeadLetter

PARSE = ("parse", "p.docs.ingest")
EMBED = ("embed", "p.docs.chunks")
BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)  # services/index/app.py's


def letter(stage: str, reason: str, replayed: bool = False) -> DeadLetter:
    headers = {"x-dlq-stage": stage, "x-dlq-reason": reason}
    return DeadLetter("p.docs.ingest.dlq", 0, 0, "doc", b"", headers, replayed)


def freshness_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        snapshot.FRESHNESS_METRIC, "publish to queryable", ["operation"], buckets=BUCKETS, registry=registry
    )


def test_rates_are_messages_per_second_between_consecutive_samples() -> None:
    """Committed offsets 0 → 10 → 30 over 2 s each read 5 then 10 msg/s; a topic that appears later
    starts its own series; offsets that went back count as no progress."""
    history = [
        Sample(100.0, {PARSE: 0}),
        Sample(102.0, {PARSE: 10, EMBED: 50}),
        Sample(104.0, {PARSE: 30, EMBED: 40}),
    ]
    assert snapshot.rates(history) == {PARSE: [5.0, 10.0], EMBED: [0.0]}
    assert snapshot.rates(history[:1]) == {}


def test_stage_rows_carry_lag_rate_and_history_with_the_prefix_off() -> None:
    """Each backlog row becomes stage, topic without the deployment prefix, end, committed, lag, the
    latest rate and its series; a row without two samples has no rate yet."""
    rows = [Backlog("parse", "p.docs.ingest", 40, 30), Backlog("embed", "p.docs.chunks", 50, 50)]
    history = [Sample(0.0, {PARSE: 10}), Sample(4.0, {PARSE: 30, EMBED: 50})]
    parse, embed = snapshot.stages(rows, history, "p.")
    assert parse == {
        "stage": "parse",
        "topic": "docs.ingest",
        "end": 40,
        "committed": 30,
        "lag": 10,
        "rate": 5.0,
        "history": [5.0],
    }
    assert (embed["lag"], embed["rate"], embed["history"]) == (0, None, [])


def test_dead_letters_are_counted_by_stage_and_reason_most_first() -> None:
    """Three corrupt PDFs (one replayed) and an empty file: two rows, the larger first, with totals."""
    letters = [
        letter("parse", "empty"),
        letter("parse", "corrupt"),
        letter("parse", "corrupt", replayed=True),
        letter("parse", "corrupt"),
    ]
    summary = snapshot.dead_letters(letters)
    assert summary == {
        "total": 4,
        "replayed": 1,
        "by_reason": [
            {"stage": "parse", "reason": "corrupt", "count": 3, "replayed": 1},
            {"stage": "parse", "reason": "empty", "count": 1, "replayed": 0},
        ],
    }
    assert snapshot.dead_letters([]) == {"total": 0, "replayed": 0, "by_reason": []}


def test_freshness_is_read_from_the_histogram_summed_over_operations() -> None:
    """Observations of both operations are counted; p50 and p95 fall inside the right buckets."""
    registry = CollectorRegistry()
    histogram = freshness_histogram(registry)
    for seconds in (1.5, 1.6, 1.7, 1.8):
        histogram.labels(operation="UPSERT").observe(seconds)
    histogram.labels(operation="DELETE").observe(40.0)
    fresh = snapshot.freshness(snapshot.freshness_buckets(registry))
    assert fresh["here"] is True
    assert fresh["count"] == 5
    assert 1 < fresh["p50_s"] <= 2
    assert 30 < fresh["p95_s"] <= 60


def test_freshness_says_not_here_or_nothing_yet() -> None:
    """No histogram in the registry: not in this process; a histogram without observations: zero
    documents and no quantiles."""
    registry = CollectorRegistry()
    assert snapshot.freshness(snapshot.freshness_buckets(registry)) == {
        "here": False,
        "count": 0,
        "p50_s": None,
        "p95_s": None,
    }
    freshness_histogram(registry)
    assert snapshot.freshness(snapshot.freshness_buckets(registry)) == {
        "here": True,
        "count": 0,
        "p50_s": None,
        "p95_s": None,
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.375, 1.5), (0.25, 1.0), (0.95, 10.0), (1.0, 10.0)],
    ids=["middle-of-a-bucket", "bucket-edge", "beyond-the-last-bound", "maximum"],
)
def test_quantiles_interpolate_within_a_bucket_like_prometheus(q: float, expected: float) -> None:
    """Two observations ≤ 1, two in (1, 2], four beyond 10: linear inside the bucket, and the
    highest finite bound for what lies past it."""
    buckets = [(1.0, 2.0), (2.0, 4.0), (10.0, 4.0), (float("inf"), 8.0)]
    assert snapshot.quantile(buckets, q) == pytest.approx(expected)


def test_index_names_its_generation_and_reindex_its_fraction() -> None:
    """chunks_v3 is generation v3; a reindex halfway through reads 0.5, a swapped one 1.0 even
    without counts, an idle one none."""
    status = {"collection": "chunks_v3", "chunks": 12, "graph": {"entities": 4}, "embedder": "MiniLM"}
    assert snapshot.index(status) == {
        "generation": "v3",
        "collection": "chunks_v3",
        "chunks": 12,
        "graph": {"entities": 4},
        "embedder": "MiniLM",
    }
    assert snapshot.index({"collection": None, "chunks": 0})["generation"] is None  # type: ignore[index]
    halfway = {"state": "catching-up", "live_chunks": 200, "new_chunks": 100, "lag": 40}
    assert snapshot.reindex(halfway)["fraction"] == 0.5  # type: ignore[index]
    assert snapshot.reindex({"state": "swapped"})["fraction"] == 1.0  # type: ignore[index]
    assert snapshot.reindex({"state": "idle"})["fraction"] is None  # type: ignore[index]
    assert snapshot.reindex(None) is None


def test_problems_come_from_the_repair_diagnosis() -> None:
    """A settled stack whose stores disagree names the repair; lag in flight says nothing."""
    rows = [Backlog("embed", "p.docs.chunks", 30, 30)]
    status = {"chunks": 10, "graph": {"chunks": 12}}
    (problem,) = snapshot.problems(status, rows)
    assert "ragstream repair" in problem
    assert snapshot.problems(status, [Backlog("embed", "p.docs.chunks", 30, 20)]) == []

"""The ops page's snapshot (``GET /v1/ops``), as pure functions of what was read: the stages with
their lag and throughput, dead letters by reason, freshness, the live index and the reindex.

Throughput is computed here, server side, from the committed offsets of consecutive samples that the
API process takes itself, one at a time whoever asks (``services/api/sampler.py``): reading the
backlog costs a consumer and a fetch per topic (seconds on a busy broker), so every viewer shares
the same samples, a rate always spans an interval the server measured, a page opened late still gets
the recent history for its sparklines, and ``curl`` gets the rates as well.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from prometheus_client import CollectorRegistry

from services.ops import Backlog, DeadLetter
from services.repair import diagnose

FRESHNESS_METRIC = "ragstream_freshness_seconds"
HISTORY = 61  # samples kept: 60 rates, two to three minutes at one sample every two or three seconds

StageKey = tuple[str, str]  # (stage, topic)
Buckets = Sequence[tuple[float, float]]  # (upper bound, cumulative count), ascending, +Inf last


@dataclass(frozen=True, slots=True)
class Sample:
    """Committed offsets per (stage, topic) at ``at`` (``time.monotonic()`` when the read began)."""

    at: float
    committed: Mapping[StageKey, int]


def rates(history: Iterable[Sample]) -> dict[StageKey, list[float]]:
    """Messages per second per (stage, topic) between consecutive samples, oldest first. A topic new
    since the previous sample (a reindex's generation) starts its series; offsets that went back
    (a consumer group reset) count as no progress, not as negative work."""
    out: dict[StageKey, list[float]] = defaultdict(list)
    for before, after in pairwise(history):
        span = after.at - before.at
        if span <= 0:
            continue
        for key, committed in after.committed.items():
            if key in before.committed:
                out[key].append(max(committed - before.committed[key], 0) / span)
    return dict(out)


def stages(rows: Sequence[Backlog], history: Iterable[Sample], prefix: str) -> list[dict[str, Any]]:
    """One row per stage and input topic (the deployment's prefix taken off the topic's name), with
    the latest rate (None before two samples) and the series for its sparkline."""
    series = rates(history)
    out = []
    for row in rows:
        recent = series.get((row.stage, row.topic), [])
        out.append(
            {
                "stage": row.stage,
                "topic": row.topic.removeprefix(prefix),
                "end": row.end,
                "committed": row.committed,
                "lag": row.lag,
                "rate": round(recent[-1], 2) if recent else None,
                "history": [round(r, 2) for r in recent],
            }
        )
    return out


def dead_letters(letters: Iterable[DeadLetter]) -> dict[str, Any]:
    """Dead letters counted by (stage, reason), most first, with how many were replayed."""
    counts: dict[StageKey, list[int]] = defaultdict(lambda: [0, 0])
    for letter in letters:
        tally = counts[(letter.stage, letter.reason)]
        tally[0] += 1
        tally[1] += letter.replayed
    by_reason = [
        {"stage": stage, "reason": reason, "count": n, "replayed": replayed}
        for (stage, reason), (n, replayed) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    return {
        "total": sum(r["count"] for r in by_reason),
        "replayed": sum(r["replayed"] for r in by_reason),
        "by_reason": by_reason,
    }


def freshness_buckets(registry: CollectorRegistry) -> list[tuple[float, float]] | None:
    """The freshness histogram's cumulative buckets summed over operations, or None where no index
    stage runs in this process (the histogram is registered by ``services.index.app``)."""
    for metric in registry.collect():
        if metric.name != FRESHNESS_METRIC:
            continue
        summed: dict[float, float] = defaultdict(float)
        for sample in metric.samples:
            if sample.name == FRESHNESS_METRIC + "_bucket":
                summed[float(sample.labels["le"])] += sample.value
        return sorted(summed.items())
    return None


def quantile(buckets: Buckets, q: float) -> float | None:
    """The q-quantile by linear interpolation within its bucket, as Prometheus' histogram_quantile
    does: exact to the bucket, approximate within it. None when nothing was observed."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower  # beyond the last finite bound: that bound is all that is known
            return lower + (upper - lower) * (rank - below) / (count - below) if count > below else upper
        lower, below = upper, count
    return lower


def freshness(buckets: Buckets | None) -> dict[str, Any]:
    """Publish → queryable since this process started: p50, p95 and how many documents."""
    if buckets is None:
        return {"here": False, "count": 0, "p50_s": None, "p95_s": None}
    p50, p95 = quantile(buckets, 0.5), quantile(buckets, 0.95)
    return {
        "here": True,
        "count": int(buckets[-1][1]) if buckets else 0,
        "p50_s": None if p50 is None else round(p50, 2),
        "p95_s": None if p95 is None else round(p95, 2),
    }


def problems(index: Mapping[str, Any], rows: Sequence[Backlog]) -> list[str]:
    """What is wrong between the stores and the broker (``services.repair.diagnose``)."""
    return diagnose(
        index["chunks"],
        index["graph"].get("chunks", 0),
        replayable=sum(r.end for r in rows if r.stage == "embed"),
        lag=sum(r.lag for r in rows),
    )


def index(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The live index: its generation (``v3`` of ``chunks_v3``), collection and counts."""
    if status is None:
        return None
    collection = status.get("collection") or ""
    generation = re.search(r"_(v\d+)$", collection)
    return {
        "generation": generation.group(1) if generation else None,
        "collection": collection or None,
        "chunks": status.get("chunks", 0),
        "graph": dict(status.get("graph", {})),
        "embedder": status.get("embedder"),
    }


def reindex(progress: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The reindex's progress (where this process hosts the index) with the fraction of the live
    chunks the new generation holds so far."""
    if progress is None:
        return None
    live, new = progress.get("live_chunks", 0), progress.get("new_chunks", 0)
    fraction = min(new / live, 1.0) if live else (1.0 if progress.get("state") == "swapped" else None)
    return {**progress, "fraction": None if fraction is None else round(fraction, 3)}


def snapshot(
    rows: Sequence[Backlog],
    history: Iterable[Sample],
    prefix: str,
    letters: Mapping[str, Any],
    buckets: Buckets | None,
    index_status: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Everything the ops page draws, from one sample's reads."""
    return {
        "stages": stages(rows, history, prefix),
        "dead_letters": dict(letters),
        "freshness": freshness(buckets),
        "index": index(index_status),
        "problems": problems(index_status, rows) if index_status is not None else [],
        "reindex": reindex(index_status.get("reindex")) if index_status is not None else None,
    }

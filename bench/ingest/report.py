"""The ingestion tables, the settings a run used and the correctness check (streaming ends where
in-process ends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.ingest import EMBED_BATCH, Figures
from services.roles import STAGES


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def table(raw: Figures, inproc: Figures, stream: Figures) -> Iterator[str]:
    head = (
        f"{'':14} {'docs':>6} {'chunks':>7} {'seconds':>8} {'docs/s':>8} {'chunks/s':>9}"
        f" {'÷ in-proc':>10} {'÷ raw':>7}"
    )
    yield head
    yield "-" * len(head)
    for row in (raw, inproc, stream):
        vs_inproc = f"{ratio(row.chunks_per_s, inproc.chunks_per_s):.2f}x" if row is not raw else "-"
        yield (
            f"{row.name:14} {row.docs:>6} {row.chunks:>7} {row.seconds:>8.2f} {row.docs_per_s:>8.2f}"
            f" {row.chunks_per_s:>9.1f} {vs_inproc:>10} {ratio(row.chunks_per_s, raw.chunks_per_s):>6.2f}x"
        )


def stage_table(inproc: Figures, stream: Figures) -> Iterator[str]:
    names = ("publish", *STAGES)
    head = f"{'stage':14} {'in-process s':>13} {'streaming s':>12} {'stream calls':>13}"
    yield head
    yield "-" * len(head)
    calls = stream.extra.get("handler_calls", {})
    for s in names:
        a = inproc.stages.get(s)
        b = stream.stages.get(s)
        yield (
            f"{s:14} {'-' if a is None else f'{a:.2f}':>13} {'-' if b is None else f'{b:.2f}':>12}"
            f" {calls.get(s, '-'):>13}"
        )
    yield (f"{'sum':14} {sum(inproc.stages.values()):>13.2f} {sum(stream.stages.values()):>12.2f} {'':>13}")


def settings_used(partitions: int) -> dict[str, Any]:
    from services.common.settings import Settings

    s = Settings()
    return {
        "partitions": partitions,
        "max_poll_records (streaming embed/extract/index batch ceiling)": s.kafka.max_poll_records,
        "embed_batch (raw, in-process window; encode batch everywhere)": EMBED_BATCH,
        "chunk_max_tokens": s.models.chunk_max_tokens,
        "chunk_overlap_tokens": s.models.chunk_overlap_tokens,
        "session_timeout_ms": s.kafka.session_timeout_ms,
        "broker": "Tansu memory://",
        "publisher": "acks=all, idempotent, linger.ms=5",
    }


def check(
    paths: list[Path],
    raw: Figures,
    inproc: Figures,
    inproc_check: dict[str, Any],
    stream: Figures,
    stream_check: dict[str, Any],
) -> list[str]:
    """Streaming must end where in-process ends: same chunks stored, same graph, every document."""
    warnings: list[str] = []
    if stream_check["stored_chunks"] != inproc_check["stored_chunks"]:
        warnings.append(
            f"vector store chunk counts differ: streaming {stream_check['stored_chunks']}"
            f" vs in-process {inproc_check['stored_chunks']}"
        )
    if inproc_check["stored_chunks"] != raw.chunks:
        warnings.append(
            f"in-process stored {inproc_check['stored_chunks']} chunks, raw chunking gave {raw.chunks}"
        )
    if stream_check["graph"] != inproc_check["graph"]:
        warnings.append(
            f"graphs differ: streaming {stream_check['graph']} vs in-process {inproc_check['graph']}"
        )
    if stream_check["per_doc"] != inproc_check["per_doc"]:
        differing = [
            p
            for p in set(stream_check["per_doc"]) | set(inproc_check["per_doc"])
            if stream_check["per_doc"].get(p) != inproc_check["per_doc"].get(p)
        ]
        warnings.append(
            f"per-document chunk counts differ for {len(differing)} document(s), e.g. {differing[:3]}"
        )
    if stream.docs != len(paths) or inproc.docs != len(paths):
        warnings.append(
            f"not every document indexed: streaming {stream.docs} {stream.extra['statuses']},"
            f" in-process {inproc.docs} (failed: {inproc.extra['failed']})"
        )
    return warnings

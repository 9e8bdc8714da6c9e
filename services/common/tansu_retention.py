"""Retention for the embedded broker's durable storage: Tansu 0.6 enforces none, so the object server
does, on Tansu's own layout.

Why it matters beyond disk space: Tansu's ``s3://`` engine lists every batch of a partition on each
fetch, so a partition that only grows makes every fetch slower, and once a listing takes longer than
the consumer's fetch wait, Tansu answers empty and that consumer stalls (docs/architecture.md). The
chat topics carry one short-lived conversation step per record; they keep an hour
(``topics.EPHEMERAL``), and the stack stays fast however many questions it has answered.

Rules, as Kafka's: a topic's ``retention.ms`` (set at creation, in Tansu's ``meta.json``), ``-1``
keeps everything (``docs.chunks`` and the dead letters), no setting means the broker default of
seven days. A batch goes once it is older than that — by its write time — except each partition's
newest batch, which Tansu reads to answer "latest offset". A consumer whose position was deleted
reads on from the next batch that is left, as on Kafka after retention.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import structlog

from services.common.s3_server import SUFFIX, ObjectStore

log = structlog.get_logger("ragstream.broker.retention")
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000  # Kafka's log.retention.hours=168
SWEEP_EVERY_S = 60.0


def retention_of(meta: dict[str, Any]) -> dict[str, int]:
    """Topic name → retention in ms (-1 = forever), from Tansu's cluster ``meta.json``."""
    found: dict[str, int] = {}
    for name, entry in (meta.get("topics") or {}).items():
        configs = {c.get("name"): c.get("value") for c in (entry.get("topic") or {}).get("configs") or []}
        try:
            found[name] = int(configs.get("retention.ms") or DEFAULT_RETENTION_MS)
        except ValueError:
            found[name] = DEFAULT_RETENTION_MS
    return found


def sweep(store: ObjectStore, bucket_dir: Path, now_s: float | None = None, limit: int = 1 << 62) -> int:
    """Delete expired batches of every cluster in the bucket, at most ``limit``; the number deleted."""
    now_s = time.time() if now_s is None else now_s
    deleted = 0
    for meta_file in sorted(bucket_dir.glob(f"clusters/*/meta.json{SUFFIX}")):
        try:
            meta = json.loads(meta_file.read_bytes())
        except (OSError, ValueError):
            continue
        cluster = urllib.parse.unquote(meta_file.parent.name)
        for topic, retention_ms in retention_of(meta).items():
            if retention_ms < 0:
                continue
            before_s = now_s - retention_ms / 1000
            deleted += _sweep_topic(store, bucket_dir, cluster, topic, before_s, limit - deleted)
            if deleted >= limit:
                return deleted
    return deleted


def _sweep_topic(
    store: ObjectStore, bucket_dir: Path, cluster: str, topic: str, before_s: float, limit: int
) -> int:
    partitions = bucket_dir / "clusters" / _q(cluster) / "topics" / _q(topic) / "partitions"
    if not partitions.is_dir():
        return 0
    deleted = 0
    for partition in sorted(p.name for p in partitions.iterdir() if p.is_dir()):
        prefix = f"clusters/{cluster}/topics/{topic}/partitions/{urllib.parse.unquote(partition)}/records/"
        batches = list(store.keys(bucket_dir, prefix))
        for key in batches[:-1]:  # never the newest: Tansu reads it for the latest offset
            path = store.object_path(bucket_dir, key)
            found = store.stored(path)
            if found is None:
                continue
            if found.mtime >= before_s:
                break  # batches are written in offset order: the rest are younger
            store.delete(path, key, sync=False)
            deleted += 1
            if deleted >= limit:
                return deleted
    return deleted


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


async def run_sweeps(
    store: ObjectStore, bucket: str, every_s: float = SWEEP_EVERY_S, step: int = 200
) -> None:
    """Sweep the bucket now and every ``every_s`` seconds, ``step`` deletions at a time (on the
    server's event loop, so a sweep never interleaves with a request, and requests get in between
    steps)."""
    while True:
        bucket_dir = store.root / bucket
        total = 0
        while bucket_dir.is_dir():
            deleted = sweep(store, bucket_dir, limit=step)
            total += deleted
            if deleted < step:
                break
            await asyncio.sleep(0.01)
        if total:
            log.info("expired broker batches deleted", count=total)
        await asyncio.sleep(every_s)

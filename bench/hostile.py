"""Hostile documents through the streaming pipeline, in one run: per case, the time until it is
dead-lettered (or indexed), the freshness of a probe document published right behind it, and the
peak memory of the process with its parse workers.

    .venv/bin/python -m bench.hostile [--big-mb 2] [--json out.json]

Each case is published, then a one-paragraph probe; both are awaited before the next case, so a case
that blocked the stage would show as a slow probe. Memory is sampled every 0.2 s (this process and
its children: the parse workers, Tansu, FalkorDB) and reported as the peak above the idle level.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.hostile_files import nested_html, zip_bomb_docx

TENANT = "hostile"


@dataclass
class Case:
    name: str
    expect: str  # the dead letter's reason, or "indexed"
    write: Callable[[Path], None]
    what: str


def prose(mb: float, seed: int = 3) -> str:
    rnd = random.Random(seed)
    words = ["river", "stone", "analytics", "quarterly", "report", "kestrel", "the", "of", "field", "notes"]
    out, size = [], 0
    while size < mb * 1024 * 1024:
        para = " ".join(rnd.choice(words) for _ in range(80)) + "."
        out.append(para)
        size += len(para) + 2
    return "\n\n".join(out)


def write_bomb(path: Path) -> None:
    zip_bomb_docx(path, inflated_mb=1536)


def cases(big_mb: float) -> list[Case]:
    return [
        Case(
            "deep.html",
            "too_complex",
            lambda p: p.write_text(nested_html(200_000)),
            "200k nested divs (2.2 MB)",
        ),
        Case(
            "wide.html",
            "indexed",
            lambda p: p.write_text("<html><body>" + "<p>para text here</p>" * 40_000 + "</body></html>"),
            "40k sibling paragraphs",
        ),
        Case(
            "random.txt",
            "unsupported_type",
            lambda p: p.write_bytes(os.urandom(65_536)),
            "64 KB random bytes",
        ),
        Case(
            "archive.md",
            "unsupported_type",
            lambda p: p.write_bytes(gzip.compress(b"# Notes\n\n" + b"word " * 100_000)),
            "gzip named .md",
        ),
        Case("bomb.docx", "too_large", write_bomb, "zip bomb, 1.5 GB inside"),
        Case("long-line.txt", "indexed", lambda p: p.write_text("z" * 1_000_000), "1 MB line, no spaces"),
        Case("big.txt", "indexed", lambda p: p.write_text(prose(big_mb)), f"{big_mb:g} MB of prose"),
    ]


class TreeMemory(threading.Thread):
    """Samples the resident memory of a process and all its descendants."""

    def __init__(self, pid: int, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.every_s = every_s
        self.peak = 0
        self.timeline: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def now(self) -> int:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(self.every_s):
            rss = self.now()
            self.peak = max(self.peak, rss)
            self.timeline.append((time.monotonic() - started, rss))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from services.bootstrap.adapters import embedded_broker
    from services.common.settings import Settings
    from services.models.embedder import LocalEmbedder
    from services.pipeline import run_pipeline
    from services.publisher import DocumentPublisher, OutcomeWatcher
    from topics import TopicNames

    work = Path(tempfile.mkdtemp(prefix="ragstream-hostile-"))
    settings = Settings(home=work / "home")
    settings.kafka.storage = "memory"
    names = TopicNames(prefix=f"h{uuid.uuid4().hex[:8]}.")
    rows: list[dict[str, Any]] = []
    sampler = TreeMemory(os.getpid(), every_s=0.2)
    async with (
        embedded_broker(settings) as bootstrap,
        run_pipeline(settings, bootstrap=bootstrap, names=names, embedder=LocalEmbedder()) as pipe,
    ):
        publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)

        async def publish(path: Path) -> tuple[str, str, int, float]:
            watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
            try:
                started = time.perf_counter()
                sub = await publisher.upsert(path, TENANT)
                publisher.flush()
                [outcome] = await watcher.wait([sub], 900)
                return outcome.status, outcome.reason, outcome.chunks, time.perf_counter() - started
            finally:
                watcher.close()

        warm = work / "warm.md"
        warm.write_text("# Warm\n\nThe warm-up document.\n")
        await publish(warm)  # group joins and the model's first call, not timed below
        idle = sampler.now()
        sampler.start()
        for i, case in enumerate(cases(args.big_mb)):
            path = work / case.name
            case.write(path)
            status, reason, chunks, seconds = await publish(path)
            probe = work / f"probe-{i}.md"
            probe.write_text(f"# Probe {i}\n\nProbe number {i} published behind {case.name}.\n")
            probe_status, _, _, probe_s = await publish(probe)
            got = reason if status == "failed" else status
            rows.append(
                {"case": case.name, "what": case.what, "bytes": path.stat().st_size, "expected": case.expect,
                 "outcome": got, "chunks": chunks, "seconds": round(seconds, 2),
                 "probe": probe_status, "probe_seconds": round(probe_s, 2), "ok": got == case.expect}
            )  # fmt: skip
            print(
                f"{case.name:14} {case.what:28} → {got:17} in {seconds:6.2f}s"
                f"{f' ({chunks} chunks)' if chunks else '':16} probe {probe_status} in {probe_s:.2f}s",
                flush=True,
            )
        sampler.stopped.set()
        sampler.join()
    peak_mb = (sampler.peak - idle) / 2**20
    idle_mb, top_mb = idle / 2**20, sampler.peak / 2**20
    print(f"idle {idle_mb:.0f} MB (process + children), peak {top_mb:.0f} MB: +{peak_mb:.0f} MB")
    result = {
        "cases": rows,
        "idle_mb": round(idle_mb),
        "peak_mb": round(top_mb),
        "peak_above_idle_mb": round(peak_mb),
        "all_as_expected": all(r["ok"] for r in rows),
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mb", type=float, default=2.0, help="size of the large prose document")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    from services.common import logs

    logs.configure("WARNING", "console")
    result = asyncio.run(run(args))
    return 0 if result["all_as_expected"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

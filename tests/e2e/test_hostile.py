"""Hostile files through the streaming pipeline: each is dead-lettered with the limit it hit, in
bounded time, and a probe document published after them is indexed."""

from __future__ import annotations

import gzip
import time
import uuid
from pathlib import Path

import pytest

from services.common.settings import Settings
from services.models.embedder import LocalEmbedder
from services.parse.isolation import ParserPool
from services.pipeline import run_pipeline
from services.publisher import DocumentPublisher, OutcomeWatcher
from tests.hostile import nested_html, stalls_on_slow, zip_bomb_docx
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TENANT = "hostile"


def hostile_corpus(root: Path) -> dict[str, str]:
    """File name -> the reason it must be dead-lettered with."""
    root.mkdir()
    (root / "deep.html").write_text(nested_html(200_000))
    (root / "random.txt").write_bytes(bytes(range(256)) * 64)
    (root / "archive.md").write_bytes(gzip.compress(b"# Notes\n\n" + b"word " * 10_000))
    zip_bomb_docx(root / "bomb.docx", inflated_mb=600)
    return {
        "deep.html": "too_complex",
        "random.txt": "unsupported_type",
        "archive.md": "unsupported_type",
        "bomb.docx": "too_large",
    }


async def test_hostile_files_are_dead_lettered_and_the_probe_is_indexed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Deep HTML, binary named as text, a zip bomb: each fails at parse with its reason; a probe
    published last is indexed, and a 200k-character line is capped into several chunks."""
    expected = hostile_corpus(tmp_path / "hostile")
    probe = tmp_path / "probe.md"
    probe.write_text("# Probe\n\nThe Quillfeather archive opens on Mondays.\n")
    long_line = tmp_path / "long-line.txt"
    long_line.write_text("z" * 200_000)
    settings = Settings(home=tmp_path / "home")
    settings.kafka.partitions = 1  # one parse consumer: the probe waits behind every hostile file
    settings.pipeline.parse_memory_mb = 400
    names = TopicNames(prefix=f"h{uuid.uuid4().hex[:8]}.")
    async with run_pipeline(
        settings, bootstrap=kafka_bootstrap, names=names, embedder=LocalEmbedder()
    ) as pipe:
        watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
        publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
        started = time.monotonic()
        paths = [*sorted((tmp_path / "hostile").iterdir()), long_line, probe]
        subs = [await publisher.upsert(p, TENANT) for p in paths]
        publisher.flush()
        try:
            outcomes = {Path(o.submission.path).name: o for o in await watcher.wait(subs, 240)}
        finally:
            watcher.close()
        took = time.monotonic() - started
    for name, reason in expected.items():
        assert (outcomes[name].status, outcomes[name].stage, outcomes[name].reason) == (
            "failed",
            "parse",
            reason,
        )
    assert outcomes["probe.md"].status == "indexed"
    assert outcomes["long-line.txt"].status == "indexed"
    assert outcomes["long-line.txt"].chunks >= 200_000 // 3072
    assert took < 120, took


async def test_a_slow_document_does_not_hold_up_the_ones_behind_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """One partition, a document whose parse never ends published first: the three behind it are
    indexed while it still runs (each parse worker takes one document), then it is dead-lettered
    as `timeout`."""
    settings = Settings(home=tmp_path / "home")
    settings.kafka.partitions = 1  # one consumer: before, every document behind the slow one waited
    slow = tmp_path / "slow.md"
    slow.write_text("# Slow\n\nNever parsed.\n")
    probes = []
    for i in range(3):
        probes.append(tmp_path / f"probe-{i}.md")
        probes[-1].write_text(f"# Probe {i}\n\nThe Quillfeather archive {i} opens on Mondays.\n")
    pool = ParserPool(workers=2, timeout_s=20.0, parse_fn=stalls_on_slow)
    names = TopicNames(prefix=f"s{uuid.uuid4().hex[:8]}.")
    try:
        async with run_pipeline(
            settings, bootstrap=kafka_bootstrap, names=names, embedder=LocalEmbedder(), parser=pool
        ) as pipe:
            watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
            publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
            first = await publisher.upsert(slow, TENANT)
            behind = [await publisher.upsert(p, TENANT) for p in probes]
            publisher.flush()
            try:
                started = time.monotonic()
                done = await watcher.wait(behind, 18)
                probes_took = time.monotonic() - started
                [stuck] = await watcher.wait([first], 40)
            finally:
                watcher.close()
    finally:
        pool.close()
    assert sorted(o.status for o in done) == ["indexed"] * 3
    assert probes_took < 18  # they did not wait out the slow parse's 20 s limit
    assert (stuck.status, stuck.stage, stuck.reason) == ("failed", "parse", "timeout")

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
from services.pipeline import run_pipeline
from services.publisher import DocumentPublisher, OutcomeWatcher
from tests.hostile import nested_html, zip_bomb_docx
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

"""Parsing in worker processes: a document that never finishes is stopped at the time limit, one
that needs too much memory at the memory limit, each with its reason, and the next document parses
as usual; HTML shaped to be slow is refused at once."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from services.parse.isolation import ParserPool
from services.parse.parsers import ParseError
from tests.hostile import nested_html, never_finishes, zip_bomb_docx

pytestmark = pytest.mark.integration


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_parse_that_never_ends_is_stopped_and_the_next_one_runs(tmp_path: Path) -> None:
    """The time limit kills the worker (`timeout`); a fresh worker parses the next document."""
    stuck = ParserPool(timeout_s=2.0, parse_fn=never_finishes)
    try:
        started = time.monotonic()
        with pytest.raises(ParseError) as failed:
            asyncio.run(stuck.parse(write(tmp_path, "a.txt", "x"), "a.txt", None, 1 << 20))
        assert failed.value.reason == "timeout"
        assert time.monotonic() - started < 30
    finally:
        stuck.close()

    pool = ParserPool(timeout_s=30.0)
    try:
        note = write(tmp_path, "note.md", "# Note\n\nThe Quillfeather archive opens on Mondays.\n")

        async def both() -> str:
            with pytest.raises(ParseError) as deep:
                await pool.parse(
                    write(tmp_path, "deep.html", nested_html(20_000)), "deep.html", None, 1 << 24
                )
            assert deep.value.reason == "too_complex"
            return (await pool.parse(note, "note.md", None, 1 << 20)).text

        assert "Quillfeather" in asyncio.run(both())
    finally:
        pool.close()


def test_a_zip_bomb_stops_at_the_memory_limit(tmp_path: Path) -> None:
    """A .docx that inflates to 600 MB of XML is `too_large` under a 300 MB limit; the pool goes on."""
    bomb = zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=600)
    assert bomb.stat().st_size < 5 * 1024 * 1024
    pool = ParserPool(timeout_s=120.0, memory_mb=300)
    try:

        async def run() -> str:
            with pytest.raises(ParseError) as failed:
                await pool.parse(bomb, "bomb.docx", None, 1 << 30)
            assert failed.value.reason == "too_large"
            return (
                await pool.parse(write(tmp_path, "ok.txt", "still parsing"), "ok.txt", None, 1 << 20)
            ).text

        assert asyncio.run(run()) == "still parsing"
    finally:
        pool.close()


async def test_parse_and_chunk_workers_run_nicer_than_the_stack() -> None:
    """Bulk work yields the cores to a question's passes and hops (bench/pressure)."""
    from services.chunk.isolation import ChunkerPool
    from services.common.children import BULK_NICENESS

    base = os.nice(0)
    for pool in (ParserPool(), ChunkerPool(64, 0)):
        try:
            niceness = await asyncio.wrap_future(pool._pool.schedule(os.nice, args=(0,)))
            assert niceness == min(base + BULK_NICENESS, 19)
        finally:
            pool.close()
    assert os.nice(0) == base  # the stack itself is untouched


async def test_chunking_that_takes_too_long_is_stopped_with_its_reason_and_the_next_document_chunks() -> None:
    """Random words are slow to split (~15 µs a character): 2 MB of them would hold the chunk stage
    for half a minute here, and 20 MB for five (past the consumer's poll interval: the group took
    the document away and it was chunked again, without end). Stopped at the limit as `timeout`."""
    import json
    import random

    from services.chunk.isolation import ChunkerPool
    from services.common.stage import PoisonMessage

    rng = random.Random(7)
    words = " ".join(
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 12))) for _ in range(300_000)
    )
    slow = json.dumps([{"text": words, "title": "noise"}]).encode()
    pool = ChunkerPool(64, 0, timeout_s=2.0)
    try:
        started = time.monotonic()
        with pytest.raises(PoisonMessage) as stopped:
            await pool(slow)
        assert stopped.value.reason == "timeout"
        assert time.monotonic() - started < 30
        fine = await pool(json.dumps([{"text": "A short note about Helios Labs.", "title": "note"}]).encode())
        assert [c.text for c in fine] == ["A short note about Helios Labs."]
    finally:
        pool.close()

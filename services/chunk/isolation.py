"""Chunking in a worker process.

Chunking a large document is minutes of pure-Python work (semchunk's recursive splits around the
tokenizer): in a thread of `ragstream up` it held the GIL against the one event loop the stages, the
agent and the gateway share, and a second tenant's questions waited up to 96 s while a 50 MB text
was chunked (bench/pressure). A spawned worker (pebble, like the parse workers; it dies with the
stack) does it instead and hands back the chunks; the stage builds the records and publishes them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal

import pebble

from services.chunk.chunker import TextChunk, TokenChunker
from services.common.children import die_with_parent_now, run_as_bulk_work

_CHUNKERS: dict[tuple[int, int], TokenChunker] = {}  # per worker process, built on first use


def chunk_stored(stored: bytes, max_tokens: int, overlap: int) -> list[TextChunk]:
    """The chunks of a parsed document's stored sections (the JSON the parse stage wrote)."""
    from services.chunk.app import chunk_stored_with

    chunker = _CHUNKERS.get((max_tokens, overlap))
    if chunker is None:
        chunker = _CHUNKERS[(max_tokens, overlap)] = TokenChunker(max_tokens=max_tokens, overlap=overlap)
    return chunk_stored_with(chunker, stored)


def _die_with_parent() -> None:
    die_with_parent_now(signal.SIGKILL)
    run_as_bulk_work()


class ChunkerPool:
    def __init__(self, max_tokens: int, overlap: int, workers: int = 1) -> None:
        self.max_tokens, self.overlap = max_tokens, overlap
        self._pool = pebble.ProcessPool(
            max_workers=workers, initializer=_die_with_parent, context=multiprocessing.get_context("spawn")
        )

    async def __call__(self, stored: bytes) -> list[TextChunk]:
        future = self._pool.schedule(chunk_stored, args=(stored, self.max_tokens, self.overlap))
        chunks: list[TextChunk] = await asyncio.wrap_future(future)
        return chunks

    def close(self) -> None:
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=10)

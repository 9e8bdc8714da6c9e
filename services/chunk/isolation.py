"""Chunking in a worker process, bounded in time and memory.

Chunking a large document is minutes of pure-Python work (semchunk's recursive splits around the
tokenizer): in a thread of `ragstream up` it held the GIL against the one event loop the stages, the
agent and the gateway share, and a second tenant's questions waited up to 96 s while a 50 MB text
was chunked (bench/pressure). A spawned worker (pebble, like the parse workers; it dies with the
stack) does it instead and hands back the chunks; the stage builds the records and publishes them.

Like parsing, it is bounded: text shaped to be slow to split (random words cost ~15 µs a character:
a 20 MB file, 5 minutes) held the chunk stage for every tenant, past the consumer's poll interval,
so the group took the document away and it was chunked again, without end. A document over
``timeout_s`` is stopped (its worker killed) and dead-lettered as ``timeout``; one over ``memory_mb``
as ``too_large``; the others flow.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing

import pebble

from services.chunk.chunker import TextChunk, TokenChunker
from services.common.children import bulk_worker
from services.common.stage import PoisonMessage

_CHUNKERS: dict[tuple[int, int], TokenChunker] = {}  # per worker process, built on first use


def chunk_stored(stored: bytes, max_tokens: int, overlap: int) -> list[TextChunk]:
    """The chunks of a parsed document's stored sections (the JSON the parse stage wrote)."""
    from services.chunk.app import chunk_stored_with

    chunker = _CHUNKERS.get((max_tokens, overlap))
    if chunker is None:
        chunker = _CHUNKERS[(max_tokens, overlap)] = TokenChunker(max_tokens=max_tokens, overlap=overlap)
    return chunk_stored_with(chunker, stored)


class ChunkerPool:
    def __init__(
        self,
        max_tokens: int,
        overlap: int,
        workers: int = 1,
        timeout_s: float = 600.0,
        memory_mb: int = 2048,
    ) -> None:
        self.max_tokens, self.overlap = max_tokens, overlap
        self.timeout_s, self.memory_mb = timeout_s, memory_mb
        self._pool = pebble.ProcessPool(
            max_workers=workers,
            initializer=bulk_worker,
            initargs=(memory_mb * 1024 * 1024,),
            context=multiprocessing.get_context("spawn"),
        )

    async def __call__(self, stored: bytes) -> list[TextChunk]:
        future = self._pool.schedule(
            chunk_stored, args=(stored, self.max_tokens, self.overlap), timeout=self.timeout_s
        )
        try:
            chunks: list[TextChunk] = await asyncio.wrap_future(future)
        except concurrent.futures.TimeoutError:
            raise PoisonMessage(
                "timeout", f"chunking took longer than {self.timeout_s:.0f}s and was stopped"
            ) from None
        except MemoryError:
            raise PoisonMessage(
                "too_large", f"chunking needed more than {self.memory_mb} MB and was stopped"
            ) from None
        except pebble.ProcessExpired as exc:
            raise PoisonMessage(
                "too_large", f"the chunker process died (exit {exc.exitcode}); over {self.memory_mb} MB?"
            ) from None
        return chunks

    def close(self) -> None:
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=10)

"""Parsing in worker processes, bounded in time and memory.

A parser is third-party code fed hostile bytes: a page of HTML shaped to be slow, a zip bomb named
.docx, a PDF that allocates without end. In a thread nothing can stop it, and it shares the stack's
memory. Here each document is parsed by a worker process (pebble's ``ProcessPool``, started with
*spawn*, so the workers never hold the stack's model or sockets) whose address space is capped
(``RLIMIT_AS``) and which dies with the stack. A document over ``timeout_s`` is stopped by killing
its worker (``timeout``); one that runs out of memory (``MemoryError``, or a worker killed by the
kernel) is ``too_large``; both are dead-lettered by the parse stage with that reason while the other
documents flow. A new worker replaces a killed one, and each is recycled after ``MAX_TASKS`` documents.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pebble

from services.common.children import bulk_worker
from services.parse.parsers import ParsedDocument, ParseError, parse_document

MAX_TASKS = 200


class ParserPool:
    def __init__(
        self,
        workers: int = 1,
        timeout_s: float = 120.0,
        memory_mb: int = 2048,
        parse_fn: Callable[..., ParsedDocument] = parse_document,
    ) -> None:
        """``parse_fn``: what a worker runs (an importable function: workers are spawned)."""
        self.parse_fn = parse_fn
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._pool = pebble.ProcessPool(
            max_workers=workers,
            max_tasks=MAX_TASKS,
            initializer=bulk_worker,
            initargs=(memory_mb * 1024 * 1024,),
            context=multiprocessing.get_context("spawn"),
        )

    async def parse(
        self, path: Path, filename: str, content_type: str | None, max_bytes: int
    ) -> ParsedDocument:
        """``parse_document`` in a worker; ``ParseError`` (with the limit's reason) when it fails."""
        future = self._pool.schedule(
            self.parse_fn, args=(path, filename, content_type), kwargs={"max_bytes": max_bytes},
            timeout=self.timeout_s,
        )  # fmt: skip
        try:
            parsed: ParsedDocument = await asyncio.wrap_future(future)
        except concurrent.futures.TimeoutError:
            raise ParseError(
                "timeout", f"{filename}: parsing took longer than {self.timeout_s:.0f}s and was stopped"
            ) from None
        except MemoryError:
            raise ParseError(
                "too_large", f"{filename}: parsing needed more than {self.memory_mb} MB and was stopped"
            ) from None
        except pebble.ProcessExpired as exc:
            raise ParseError(
                "too_large",
                f"{filename}: the parser process died (exit {exc.exitcode}); over {self.memory_mb} MB?",
            ) from None
        return parsed

    def close(self) -> None:
        """Stop every worker now (a document being parsed is redelivered after the restart)."""
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=10)

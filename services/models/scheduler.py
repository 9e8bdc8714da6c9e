"""One model, two kinds of callers: questions someone is waiting for, and bulk ingestion.

An in-process model runs one forward pass at a time (torch already uses every core). With a plain lock
a question waits behind a whole ingestion batch — 256 chunks, several seconds on two cores — and 500
concurrent questions queue one pass each. ``ForwardPassScheduler`` owns the model's thread and decides
what its next pass is:

* **Questions first.** Before every pass, waiting interactive requests are taken ahead of bulk work.
* **Questions share passes.** All interactive texts waiting when a pass starts go into that one pass
  (up to ``max_batch``): under load, a pass's duration is the batching window, so batches grow with
  the load and a lone question is never delayed by a timer.
* **Bulk work in slices.** A bulk request is cut into slices of ``bulk_slice`` texts, one pass each,
  so a question waits at most one slice (about a third of a second for MiniLM on two cores).

It runs in a daemon thread fed through a condition variable, so callers on any event loop (or none)
can use it; results come back as ``concurrent.futures.Future``s.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

Vector = list[float]
Encode = Callable[[list[str]], list[Vector]]


@dataclass
class _Job:
    texts: list[str]
    future: Future[list[Vector]] = field(default_factory=Future)


class ForwardPassScheduler:
    def __init__(
        self, encode: Encode, bulk_slice: int = 16, max_batch: int = 64, name: str = "model"
    ) -> None:
        self.encode = encode
        self.bulk_slice = bulk_slice
        self.max_batch = max_batch
        self.name = name
        self.passes = 0  # forward passes run (interactive and bulk), for tests and stats
        self.interactive_passes = 0
        self._interactive: deque[_Job] = deque()
        self._bulk: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- callers ------------------------------------------------------------------------------
    async def interactive(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors for a question's texts, ahead of any bulk work, batched with other questions."""
        [job] = self._submit(self._interactive, [list(texts)])
        vectors: list[Vector] = await asyncio.wrap_future(job.future)
        return vectors

    async def bulk(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors for ingestion's texts, in slices that let questions in between."""
        items = list(texts)
        parts = [items[i : i + self.bulk_slice] for i in range(0, len(items), self.bulk_slice)]
        jobs = self._submit(self._bulk, parts)
        out: list[Vector] = []
        try:
            for job in jobs:
                part: list[Vector] = await asyncio.wrap_future(job.future)
                out.extend(part)
        except asyncio.CancelledError:
            for job in jobs:
                job.future.cancel()  # slices not started yet are skipped
            raise
        return out

    def close(self) -> None:
        """Stop the thread after the passes already queued (a later call starts it again)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    # -- the model's thread -------------------------------------------------------------------
    def _submit(self, queue: deque[_Job], parts: list[list[str]]) -> list[_Job]:
        jobs = [_Job(part) for part in parts]
        with self._cond:
            self._closed = False
            queue.extend(jobs)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"{self.name}-passes", daemon=True)
                self._thread.start()
            self._cond.notify()
        return jobs

    def _next_pass(self) -> list[_Job] | None:
        """The jobs of the next pass: every waiting question (up to max_batch texts), else one bulk
        slice; None once closed with nothing left."""
        with self._cond:
            while not self._interactive and not self._bulk:
                if self._closed:
                    return None
                self._cond.wait()
            if self._interactive:
                jobs = [self._interactive.popleft()]
                size = len(jobs[0].texts)
                while self._interactive and size + len(self._interactive[0].texts) <= self.max_batch:
                    job = self._interactive.popleft()
                    jobs.append(job)
                    size += len(job.texts)
                self.interactive_passes += 1
                return jobs
            return [self._bulk.popleft()]

    def _run(self) -> None:
        while (jobs := self._next_pass()) is not None:
            jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]  # not cancelled
            texts = [t for job in jobs for t in job.texts]
            self.passes += 1
            try:
                vectors = self.encode(texts) if texts else []
            except BaseException as exc:  # handed to every caller of this pass
                for job in jobs:
                    job.future.set_exception(exc)
                continue
            start = 0
            for job in jobs:
                job.future.set_result(vectors[start : start + len(job.texts)])
                start += len(job.texts)

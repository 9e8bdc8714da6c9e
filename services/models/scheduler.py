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

* **Or questions in a lane of their own.** Given ``interactive_encode`` (a second copy of the model),
  questions run on their own thread, beside the bulk slice in progress, instead of waiting for it to
  end; the bulk thread (and the OpenMP threads it starts) then runs ``BULK_NICENESS`` nicer, so on a
  saturated machine the kernel gives a question's pass the cores first. Measured in `ragstream up`
  under a 50 MB ingest (bench/pressure): both cores busy (the bulk thread 80% of the time, the broker's
  object server and Tansu most of the rest), and a question waited for the rest of a 16-text slice
  before each of its passes.

It runs in daemon threads fed through one condition variable, so callers on any event loop (or none)
can use it; results come back as ``concurrent.futures.Future``s.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from services.common.children import run_this_thread_as_bulk_work

Vector = list[float]
Encode = Callable[[list[str]], list[Vector]]


@dataclass
class _Job:
    texts: list[str]
    future: Future[list[Vector]] = field(default_factory=Future)


class ForwardPassScheduler:
    def __init__(
        self,
        encode: Encode,
        bulk_slice: int = 16,
        max_batch: int = 64,
        name: str = "model",
        interactive_encode: Encode | None = None,
    ) -> None:
        self.encode = encode
        self.interactive_encode = interactive_encode
        self.bulk_slice = bulk_slice
        self.max_batch = max_batch
        self.name = name
        self.passes = 0  # forward passes run (interactive and bulk), for tests and stats
        self.interactive_passes = 0
        self._interactive: deque[_Job] = deque()
        self._bulk: deque[_Job] = deque()
        self._cond = threading.Condition()
        # one thread for every pass ("shared"), or one per kind of caller ("interactive", "bulk")
        self.lanes = ("interactive", "bulk") if interactive_encode is not None else ("shared",)
        self._threads: dict[str, threading.Thread] = {}
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
        """Stop the threads after the passes already queued (a later call starts them again)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        threads, self._threads = self._threads, {}
        for thread in threads.values():
            if thread is not threading.current_thread():
                thread.join(timeout=30)

    # -- the model's threads ------------------------------------------------------------------
    def _submit(self, queue: deque[_Job], parts: list[list[str]]) -> list[_Job]:
        jobs = [_Job(part) for part in parts]
        lane = (
            self.lanes[0]
            if len(self.lanes) == 1
            else ("interactive" if queue is self._interactive else "bulk")
        )
        with self._cond:
            self._closed = False
            queue.extend(jobs)
            thread = self._threads.get(lane)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(
                    target=self._run, args=(lane,), name=f"{self.name}-{lane}", daemon=True
                )
                self._threads[lane] = thread
                thread.start()
            self._cond.notify_all()
        return jobs

    def _next_pass(self, lane: str) -> list[_Job] | None:
        """The jobs of ``lane``'s next pass: every waiting question (up to max_batch texts), else one
        bulk slice; None once closed with nothing left for it."""
        takes_questions, takes_bulk = lane != "bulk", lane != "interactive"
        with self._cond:
            while not (takes_questions and self._interactive) and not (takes_bulk and self._bulk):
                if self._closed:
                    return None
                self._cond.wait()
            self.passes += 1
            if takes_questions and self._interactive:
                jobs = [self._interactive.popleft()]
                size = len(jobs[0].texts)
                while self._interactive and size + len(self._interactive[0].texts) <= self.max_batch:
                    job = self._interactive.popleft()
                    jobs.append(job)
                    size += len(job.texts)
                self.interactive_passes += 1
                return jobs
            return [self._bulk.popleft()]

    def _run(self, lane: str) -> None:
        encode = self.interactive_encode if lane == "interactive" and self.interactive_encode else self.encode
        if lane == "bulk":
            run_this_thread_as_bulk_work()  # before its first pass starts its OpenMP team
        while (jobs := self._next_pass(lane)) is not None:
            jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]  # not cancelled
            texts = [t for job in jobs for t in job.texts]
            try:
                vectors = encode(texts) if texts else []
            except BaseException as exc:  # handed to every caller of this pass
                for job in jobs:
                    job.future.set_exception(exc)
                continue
            start = 0
            for job in jobs:
                job.future.set_result(vectors[start : start + len(job.texts)])
                start += len(job.texts)

"""What happened to an uploaded document, for an API request that waits for it.

One thread per API process reads docs.indexed and the dead-letter topics from their ends (no
consumer group: watching moves nobody's offsets; every API instance sees every outcome). A waiting
request registers its submission and is resolved when an announcement of its version, or a dead
letter of its document, arrives. Resolutions are kept a short while, so one that lands between the
publish and the registration is not missed; a failure counts only if it arrived after the publish.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict

from services.common.codec import Codec
from services.publisher import Outcome, OutcomeWatcher, Resolution, Submission
from topics import TopicNames

_Waiter = tuple[Submission, float, "asyncio.Future[Resolution]"]


class OutcomeTracker:
    def __init__(self, bootstrap: str, names: TopicNames, codec: Codec, keep: int = 4096) -> None:
        self._watcher = OutcomeWatcher(bootstrap, names, codec)
        self._keep = keep
        self._recent: OrderedDict[str, list[tuple[float, Resolution]]] = OrderedDict()
        self._waiters: dict[str, list[_Waiter]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> OutcomeTracker:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="outcome-tracker", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for resolution in self._watcher.read(0.25):
                arrived = time.monotonic()
                with self._lock:
                    self._recent.setdefault(resolution.doc_id, []).append((arrived, resolution))
                    self._recent.move_to_end(resolution.doc_id)
                    while len(self._recent) > self._keep:
                        self._recent.popitem(last=False)
                    for sub, since, future in self._waiters.get(resolution.doc_id, []):
                        if arrived >= since and resolution.settles(sub) and self._loop is not None:
                            self._loop.call_soon_threadsafe(_settle, future, resolution)

    async def wait(self, submission: Submission, since: float, timeout_s: float) -> Outcome:
        """The submission's outcome (``since``: ``time.monotonic()`` before it was published), or
        status ``timeout`` after ``timeout_s``."""
        outcome = Outcome(submission)
        future: asyncio.Future[Resolution] = asyncio.get_running_loop().create_future()
        waiter = (submission, since, future)
        with self._lock:
            for arrived, resolution in self._recent.get(submission.doc_id, []):
                if arrived >= since and resolution.settles(submission):
                    future.set_result(resolution)
                    break
            self._waiters.setdefault(submission.doc_id, []).append(waiter)
        try:
            resolution = await asyncio.wait_for(future, timeout_s)
            resolution.fill(outcome, time.monotonic() - since)
        except TimeoutError:
            outcome.status = "timeout"
        finally:
            with self._lock:
                waiting = self._waiters.get(submission.doc_id, [])
                waiting.remove(waiter)
                if not waiting:
                    self._waiters.pop(submission.doc_id, None)
        return outcome

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._watcher.close()


def _settle(future: asyncio.Future[Resolution], resolution: Resolution) -> None:
    if not future.done():
        future.set_result(resolution)

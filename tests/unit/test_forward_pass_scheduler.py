"""The model's pass scheduler: questions before bulk slices, questions sharing one pass, every result
back to its caller, failures to the callers of that pass only."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from services.common.children import BULK_NICENESS
from services.models.scheduler import ForwardPassScheduler


class GatedModel:
    """Encodes a text as [len(text)]; records each pass; the first pass waits for ``release``."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.niceness: list[int] = []  # of the thread each pass ran on
        self.first_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.passes.append(list(texts))
        self.niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        if len(self.passes) == 1:
            self.first_started.set()
            assert self.release.wait(10)
        if "boom" in texts:
            raise RuntimeError("model failed")
        return [[float(len(t))] for t in texts]


async def test_questions_go_before_bulk_slices_and_share_one_pass() -> None:
    model = GatedModel()
    passes = ForwardPassScheduler(model, bulk_slice=2)
    try:
        bulk = asyncio.create_task(passes.bulk(["a", "bb", "ccc", "dddd", "eeeee"]))
        assert await asyncio.to_thread(model.first_started.wait, 10)  # slice 1 is in the model
        questions = [asyncio.create_task(passes.interactive([q])) for q in ("q1", "q22", "q333")]
        await asyncio.sleep(0.05)  # all three queued behind the running slice
        model.release.set()
        assert [await q for q in questions] == [[[2.0]], [[3.0]], [[4.0]]]
        assert await bulk == [[1.0], [2.0], [3.0], [4.0], [5.0]]
    finally:
        passes.close()
    assert model.passes == [["a", "bb"], ["q1", "q22", "q333"], ["ccc", "dddd"], ["eeeee"]]
    assert passes.interactive_passes == 1


async def test_a_failed_pass_fails_its_callers_and_the_next_pass_runs() -> None:
    model = GatedModel()
    model.release.set()
    passes = ForwardPassScheduler(model)
    try:
        assert await passes.interactive(["warm"]) == [[4.0]]
        with pytest.raises(RuntimeError, match="model failed"):
            await passes.interactive(["boom"])
        assert await passes.bulk(["ok"]) == [[2.0]]
    finally:
        passes.close()


async def test_a_cancelled_caller_does_not_stop_the_thread() -> None:
    model = GatedModel()
    passes = ForwardPassScheduler(model, bulk_slice=1)
    try:
        bulk = asyncio.create_task(passes.bulk(["a", "b", "c"]))
        assert await asyncio.to_thread(model.first_started.wait, 10)
        bulk.cancel()
        with pytest.raises(asyncio.CancelledError):
            await bulk  # cancelled while slice 1 runs: slices 2 and 3 are dropped before they start
        model.release.set()
        assert await passes.interactive(["after"]) == [[5.0]]
    finally:
        passes.close()
    assert ["b"] not in model.passes
    assert ["c"] not in model.passes


def test_questions_batch_up_to_max_batch_texts() -> None:
    model = GatedModel()
    passes = ForwardPassScheduler(model, max_batch=3)

    async def run() -> None:
        first = asyncio.create_task(passes.interactive(["x"]))
        assert await asyncio.to_thread(model.first_started.wait, 10)
        rest = [asyncio.create_task(passes.interactive([str(i)])) for i in range(5)]
        await asyncio.sleep(0.05)
        model.release.set()
        await asyncio.gather(first, *rest)

    try:
        asyncio.run(run())
    finally:
        passes.close()
    assert [len(p) for p in model.passes] == [1, 3, 2]


async def test_with_a_question_lane_a_question_runs_beside_a_bulk_slice() -> None:
    """A question does not wait for the slice in progress: its own copy of the model, its own thread."""
    bulk_model, question_model = GatedModel(), GatedModel()
    question_model.release.set()
    passes = ForwardPassScheduler(bulk_model, bulk_slice=2, interactive_encode=question_model)
    try:
        bulk = asyncio.create_task(passes.bulk(["a", "bb", "ccc"]))
        assert await asyncio.to_thread(bulk_model.first_started.wait, 10)  # slice 1 holds its thread
        answers = await asyncio.wait_for(
            asyncio.gather(passes.interactive(["q1"]), passes.interactive(["q22"])), 5
        )
        assert answers == [[[2.0]], [[3.0]]]
        assert not bulk.done()  # the slice is still in the model
        bulk_model.release.set()
        assert await bulk == [[1.0], [2.0], [3.0]]
    finally:
        passes.close()
    assert bulk_model.passes == [["a", "bb"], ["ccc"]]  # no question in the bulk model
    assert [t for p in question_model.passes for t in p] == ["q1", "q22"]
    assert passes.lanes == ("interactive", "bulk")
    # the kernel gives a question the cores first: the bulk thread alone runs nicer
    assert min(bulk_model.niceness) >= max(question_model.niceness) + BULK_NICENESS

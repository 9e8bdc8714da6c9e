"""Reindex by replay on the real broker and stores: a new index version is built from the chunk
topic, swapped in atomically while searches keep answering, and becomes the live generation."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from bench.corpus import generate_corpus
from services.catchup import ReindexRefused
from services.common.settings import Settings
from services.generations import Stack, read_live_label, run_stack
from services.models.embedder import LocalEmbedder
from services.publisher import DocumentPublisher, OutcomeWatcher
from services.retrieve.search import search
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TENANT = "acme"


async def test_reindex_swaps_versions_while_searches_keep_answering(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Searches during a reindex never fail or come back empty; afterwards the alias names v2 with
    every chunk, and documents published after the swap are indexed into v2."""
    corpus = generate_corpus(tmp_path / "corpus", n_docs=8, seed=3, include_broken=False)
    settings = Settings(home=tmp_path / "stack")
    names = TopicNames(prefix=f"rx-{uuid.uuid4().hex[:8]}.")
    embedder = LocalEmbedder()
    async with run_stack(settings, bootstrap=kafka_bootstrap, names=names, embedder=embedder) as stack:
        watcher = OutcomeWatcher(stack.bootstrap, names, stack.front.codec)
        publisher = DocumentPublisher(stack.bootstrap, names, stack.front.codec, stack.front.blobs)
        first, *rest = corpus.good_paths
        subs = [await publisher.upsert(p, TENANT) for p in rest]
        publisher.flush()
        outcomes = await watcher.wait(subs, 180)
        assert {o.status for o in outcomes} == {"indexed"}
        assert await stack.vectors.resolve("chunks") == "chunks_v1"
        before = await stack.vectors.count("chunks_v1", must={})

        answers: list[int] = []
        stop = asyncio.Event()

        async def keep_searching() -> None:
            while not stop.is_set():
                result = await search(
                    "research digest", TENANT, embedder, stack.vectors, stack.graph, "chunks"
                )
                answers.append(len(result.chunks))
                await asyncio.sleep(0.05)

        searcher = asyncio.create_task(keep_searching())
        progress = await stack.reindex(timeout_s=180)
        stop.set()
        await searcher

        assert progress.state == "swapped"
        assert (progress.previous, progress.collection) == ("chunks_v1", "chunks_v2")
        assert await stack.vectors.resolve("chunks") == "chunks_v2"
        assert await stack.vectors.count("chunks_v2", must={}) == before
        assert len(answers) > 10
        assert min(answers) > 0, "a search during the reindex came back empty"
        assert read_live_label(settings) == "v2"

        [sub] = [await publisher.upsert(first, TENANT)]
        publisher.flush()
        [outcome] = await watcher.wait([sub], 120)
        watcher.close()
        assert outcome.status == "indexed"
        assert await stack.vectors.count("chunks_v2", must={}) == before + outcome.chunks


async def publish_all(stack: Stack, names: TopicNames, paths: list[Path]) -> None:
    watcher = OutcomeWatcher(stack.bootstrap, names, stack.front.codec)
    publisher = DocumentPublisher(stack.bootstrap, names, stack.front.codec, stack.front.blobs)
    subs = [await publisher.upsert(p, TENANT) for p in paths]
    publisher.flush()
    outcomes = await watcher.wait(subs, 180)
    watcher.close()
    assert {o.status for o in outcomes} == {"indexed"}


async def test_a_reindex_that_would_lose_documents_refuses_fast_and_says_why(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The stores outlive the broker's topics (a broker whose storage was lost): a reindex with an
    empty chunk topic refuses within seconds, and one whose chunk topic holds only some documents
    refuses once it has replayed them, both naming the counts; the live version stays untouched."""
    corpus = generate_corpus(tmp_path / "corpus", n_docs=6, seed=5, include_broken=False)
    settings = Settings(home=tmp_path / "stack")
    embedder = LocalEmbedder()
    first = TopicNames(prefix=f"rxa-{uuid.uuid4().hex[:8]}.")
    async with run_stack(settings, bootstrap=kafka_bootstrap, names=first, embedder=embedder) as stack:
        await publish_all(stack, first, corpus.good_paths)
        live = await stack.vectors.count("chunks_v1", must={})
    lost = TopicNames(prefix=f"rxb-{uuid.uuid4().hex[:8]}.")  # same stores, a broker that forgot
    async with run_stack(settings, bootstrap=kafka_bootstrap, names=lost, embedder=embedder) as stack:
        started = time.monotonic()
        # As `POST /v1/reindex` starts it: "starting" at once (a caller that read the progress right
        # after once got "idle", the task not yet begun, and `ragstream reindex` gave up), and a second
        # start before the first has its lock is refused.
        assert stack.start_reindex(timeout_s=120).state == "starting"
        with pytest.raises(RuntimeError, match="already running"):
            stack.start_reindex(timeout_s=120)
        while stack.progress.state in ("starting", "catching-up") and time.monotonic() - started < 60:  # noqa: ASYNC110  (progress is polled, as the API's clients do)
            await asyncio.sleep(0.1)
        assert time.monotonic() - started < 30
        assert stack.progress.state == "failed"
        assert "nothing to replay" in stack.progress.error
        with pytest.raises(ReindexRefused, match="nothing to replay"):
            await stack.reindex(timeout_s=120)
        await publish_all(stack, lost, corpus.good_paths[:2])  # the chunk topic now holds two documents
        with pytest.raises(ReindexRefused, match=rf"holds \d+ chunks, chunks_v1 holds {live}"):
            await stack.reindex(timeout_s=120)
        assert await stack.vectors.resolve("chunks") == "chunks_v1"
        assert await stack.vectors.count("chunks_v1", must={}) == live

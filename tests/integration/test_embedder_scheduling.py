"""The in-process embedder under mixed load (the real MiniLM): a question asked while ingestion embeds
a batch is answered before the batch ends, concurrent questions share passes, and scheduling changes no
vector."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from services.models.embedder import LocalEmbedder

pytestmark = pytest.mark.integration

CHUNK = (
    "Section {i}. The Quillfeather archive keeps maps, letters and ledgers from the harbour towns; "
    "readers book a desk a day ahead, and fragile items are brought up from the vault on request. "
) * 6


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(bulk_slice=16)


async def test_a_question_does_not_wait_for_an_ingestion_batch(embedder: LocalEmbedder) -> None:
    chunks = [CHUNK.format(i=i) for i in range(256)]
    bulk = asyncio.create_task(embedder.embed(chunks))
    await asyncio.sleep(0)  # the batch is queued first
    [vector] = await embedder.embed(["when does the archive open?"], interactive=True)
    assert not bulk.done()  # answered between two slices of the batch
    vectors = await bulk
    assert len(vectors) == 256
    assert len(vector) == embedder.dim

    reference = np.array(embedder.embed_sync(chunks[:32], batch_size=32))
    cosines = (np.array(vectors[:32]) * reference).sum(axis=1)
    assert cosines.min() > 0.9999


async def test_concurrent_questions_share_forward_passes(embedder: LocalEmbedder) -> None:
    questions = [f"which desk is free on day {i}?" for i in range(40)]
    before = embedder.passes.passes
    vectors = await asyncio.gather(*(embedder.embed([q], interactive=True) for q in questions))
    assert embedder.passes.passes - before < len(questions) // 2  # one pass per wave, not per question
    alone = embedder.embed_sync(questions[7:8])
    assert float(np.dot(vectors[7][0], alone[0])) > 0.9999
    # asked again (the cache lookup, then retrieval): remembered, no pass
    passes = embedder.passes.passes
    assert await embedder.embed([questions[7]], interactive=True) == vectors[7]
    assert embedder.passes.passes == passes

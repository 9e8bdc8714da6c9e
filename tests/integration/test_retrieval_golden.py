"""Retrieval on the bundled golden set, indexed in-process twice (qdrant-edge, FalkorDB, MiniLM): the
same corpus ranks the same in every tenant, and the documents the questions name come first.

Chunk ids depend on the tenant, and so does any order that falls to them: with the graph ranking
weighted as much as the vector ranking, its first chunk (any chunk naming the question's product)
tied the vector search's first chunk and the id decided, so the set measured hit@1 0.78 in one
tenant and 0.88 in another."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.eval import GOLDEN_DIR
from services.eval.golden import GoldenItem, documents, load
from services.eval.runner import SCHEME, source_of
from services.retrieve.search import search
from tests.support import IndexedStores, examples_indexed_inprocess

pytestmark = pytest.mark.integration
TENANTS = ("eval", "t4")  # t4: the tenant where the tie-broken order lost most


@pytest.fixture(scope="module")
async def stores(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IndexedStores]:
    docs = GOLDEN_DIR / "docs"
    async with examples_indexed_inprocess(
        tmp_path_factory.mktemp("golden"),
        TENANTS[0],
        documents(GOLDEN_DIR),
        also=TENANTS[1:],
        uri_of=lambda path: SCHEME + path.relative_to(docs).as_posix(),
    ) as indexed:
        yield indexed


def ranked_questions() -> list[GoldenItem]:
    """Questions whose words stand alone and have an answer (what hit@1 counts)."""
    return [i for i in load(GOLDEN_DIR) if i.answerable and i.turn == 1]


async def sources(stores: IndexedStores, question: str, tenant: str) -> list[str]:
    found = await search(question, tenant, stores.embedder, stores.vectors, stores.graph, "chunks", 5)
    return [source_of(c.source_uri) for c in found.chunks]


async def hit_at_1(stores: IndexedStores, tenant: str, items: list[GoldenItem]) -> float:
    tops = [(await sources(stores, i.question, tenant))[:1] for i in items]
    return sum(bool(top) and top[0] in i.sources for top, i in zip(tops, items, strict=True)) / len(items)


async def test_the_same_corpus_ranks_as_well_in_every_tenant(stores: IndexedStores) -> None:
    """A floor in each tenant and at most one question apart (equal since session 14). Not required
    to be exactly equal: bfloat16 products depend on how texts were batched (cosines move by up to
    7e-4), which could swap two near-equal chunks between the tenants' indexings, and the graph
    ranking orders exactly equal evidence by chunk id. Before the fusion weight and the content
    tie-break: 0.78 in "t4" against 0.86-0.88."""
    items = ranked_questions()
    first, second = [await hit_at_1(stores, t, items) for t in TENANTS]
    assert min(first, second) >= 0.84, (first, second)
    assert abs(first - second) <= 1 / len(items) + 1e-9, (first, second)


async def test_questions_in_the_users_own_words_find_their_document_first(stores: IndexedStores) -> None:
    """The set's paraphrased questions (no product or module name): before the document's other
    passages counted (``DOCUMENT_WEIGHT`` 0), three of the sixteen found a lone passage of an
    unrelated document first (another company's holiday rules, a dashboard product's retention):
    0.81. The questions that name their subject lose nothing: 22 of their 24 first before (23 since
    session 14). Session 11's CI once found 21 with code that did not touch retrieval: the vector
    engine's own fusion ranked equal BM25 scores in the order they came, which changed from one
    process to the next; the adapters fuse the two lists themselves now (``hybrid.fuse``), the same
    in every run."""
    paraphrased = [i for i in ranked_questions() if i.kind == "paraphrase"]
    named = [i for i in ranked_questions() if i.kind == "named"]
    assert await hit_at_1(stores, TENANTS[0], paraphrased) >= 0.85
    assert await hit_at_1(stores, TENANTS[0], named) >= 22 / len(named) - 1e-9

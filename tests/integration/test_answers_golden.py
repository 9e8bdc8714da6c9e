"""Answers without an LLM on the bundled golden set, indexed in-process (qdrant-edge, FalkorDB,
MiniLM), through the agent graph as the product wires it: questions that follow the knowledge graph
one or two hops, and conversations whose later turns say "it" and "her"."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from services.agent.graph import AgentDeps, build_graph
from services.agent.wiring import agent_deps
from services.eval import GOLDEN_DIR
from services.eval.golden import GoldenItem, documents, load
from services.eval.local import ask_golden
from services.eval.metrics import Outcome, score
from services.eval.runner import SCHEME
from tests.support import IndexedStores, examples_indexed_inprocess

pytestmark = pytest.mark.integration
TENANT = "answers"


@pytest.fixture(scope="module")
async def stores(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IndexedStores]:
    docs = GOLDEN_DIR / "docs"
    async with examples_indexed_inprocess(
        tmp_path_factory.mktemp("golden"),
        TENANT,
        documents(GOLDEN_DIR),
        uri_of=lambda path: SCHEME + path.relative_to(docs).as_posix(),
    ) as indexed:
        yield indexed


async def facts_found(deps: AgentDeps, items: list[GoldenItem]) -> dict[str, bool]:
    """Whether each answer holds its expected facts, conversations asked in order."""
    return {
        done.item.id: score(done.item, Outcome(answer=done.state.answer)).fact
        async for done in ask_golden(build_graph(deps), TENANT, items)
    }


async def test_chained_questions_are_answered_with_a_second_search(stores: IndexedStores) -> None:
    """Each graph question's answer holds its fact; without the second search, the chains whose
    passages name the link but not the answer ("owned by the Edge Devices team", no word of who leads
    it) are not answered."""
    deps = agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks")
    graph_items = [i for i in load(GOLDEN_DIR) if i.kind == "graph"]
    with_hop = await facts_found(deps, graph_items)
    without = await facts_found(dataclasses.replace(deps, next_hop=None), graph_items)
    assert sum(with_hop.values()) >= len(graph_items) - 1, with_hop
    assert sum(without.values()) < sum(with_hop.values()), (without, with_hop)


async def test_follow_ups_resolve_their_pronouns(stores: IndexedStores) -> None:
    """ "How much does it cost?" after a question about the KX-012, "Which product does her team own?"
    after "Who leads the Insight team?": every follow-up of the set is answered."""
    deps = agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks")
    conversations = {i.conversation for i in load(GOLDEN_DIR) if i.kind == "followup"}
    items = [i for i in load(GOLDEN_DIR) if i.conversation in conversations]
    found = await facts_found(deps, items)
    followups = {i.id for i in items if i.kind == "followup"}
    assert all(found[i] for i in followups), found

"""The agent graph run in-process over real stores holding the example documents: cited extractive
answers, honest "I don't know", pronoun rewriting from history, tool routes, tenant isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.agent.answer import DONT_KNOW
from services.agent.wiring import ask_inprocess, compile_agent, new_state
from services.common import ids
from services.common.messages import AgentState
from services.publisher import source_uri
from tests.support import IndexedStores, examples_indexed_inprocess, loopback_app

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
TENANT = "acme"


@pytest.fixture(scope="module")
async def stores(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IndexedStores]:
    async with examples_indexed_inprocess(tmp_path_factory.mktemp("agent")) as indexed:
        yield indexed


@pytest.fixture(scope="module")
def agent(stores: IndexedStores) -> Any:
    """The compiled agent over stores holding examples/docs for tenant 'acme'."""
    return compile_agent(stores.embedder, stores.vectors, stores.graph, "chunks")


async def ask(
    agent: Any,
    question: str,
    tenant: str = TENANT,
    history: list[tuple[str, str]] | None = None,
) -> tuple[AgentState, list[dict[str, Any]]]:
    events = [e async for e in ask_inprocess(agent, new_state("r1", tenant, question, history or []))]
    final = events[-1]["state"]
    return final, events[:-1]


async def test_answer_is_streamed_extractive_and_cited(agent: Any) -> None:
    """The answer names who works for Helios Labs, streams as tokens, and cites a Helios document."""
    state, events = await ask(agent, "Who works for Helios Labs?")
    assert state.steps == ["plan", "retrieve", "respond"]
    assert "works for Helios Labs" in state.answer
    assert "".join(e["text"] for e in events if e["type"] == "token") == state.answer
    assert [e["step"] for e in events if e["type"] == "status"] == ["plan", "retrieve", "respond"]
    assert state.citations
    assert all(f"[{c.n}]" in state.answer for c in state.citations)
    helios_docs = {ids.doc_id(TENANT, source_uri(p)) for p in EXAMPLES.iterdir() if "helios" in p.name}
    assert {c.doc_id for c in state.citations} & helios_docs


async def test_unknown_answer_says_so(agent: Any) -> None:
    """A question nothing in the documents answers gets 'I don't know' and no citations."""
    state, _ = await ask(agent, "What is the boiling point of liquid nitrogen on Mars?")
    assert state.answer == DONT_KNOW
    assert state.citations == []


async def test_other_tenant_sees_nothing(agent: Any) -> None:
    """Retrieval is tenant-filtered: another tenant gets no passages and no answer."""
    state, _ = await ask(agent, "Who works for Helios Labs?", tenant="intruder")
    assert state.passages == []
    assert state.answer == DONT_KNOW


async def test_pronoun_is_resolved_from_history(agent: Any) -> None:
    """'Who works for it?' after a turn about Helios Labs is searched as 'Who works for Helios Labs?'."""
    history = [
        ("user", "Where is Helios Labs headquartered?"),
        ("assistant", "Helios Labs is headquartered in Graz."),
    ]
    state, _ = await ask(agent, "Who works for it?", history=history)
    assert state.query == "Who works for Helios Labs?"
    assert "works for Helios Labs" in state.answer


async def test_greeting_is_answered_directly(agent: Any) -> None:
    """A greeting skips retrieval."""
    state, _ = await ask(agent, "Hello!")
    assert state.steps == ["plan", "respond"]
    assert state.action == "DIRECT"


async def test_arithmetic_goes_to_the_calculator(agent: Any) -> None:
    """Arithmetic is routed to the calculator tool and answered with its result."""
    state, _ = await ask(agent, "What is 17 * (3 + 4)?")
    assert state.steps == ["plan", "tool", "respond"]
    assert (state.tool, state.tool_output) == ("calculator", "119")
    assert "119" in state.answer


async def test_code_goes_to_the_sandbox(agent: Any) -> None:
    """A python code block runs in the sandbox and its output is the answer."""
    state, _ = await ask(agent, "Run this:\n```python\nprint(sum(range(10)))\n```")
    assert (state.tool, state.tool_error) == ("python", None)
    assert state.tool_output is not None
    assert state.tool_output.strip() == "45"


async def test_graph_tool_lists_what_the_graph_links_to_a_name(agent: Any) -> None:
    """ "Show the graph of X" runs the graph search tool: parameterized 1-2 hop facts around X."""
    state, events = await ask(agent, "Show the graph of Helios Labs")
    assert state.steps == ["plan", "tool", "respond"]
    assert (state.tool, state.tool_input) == ("graph", "Helios Labs")
    assert state.answer.startswith("Knowledge graph around Helios Labs:")
    assert "Greta Sorensen —WORKS_FOR→ Helios Labs" in state.answer
    assert "".join(e["text"] for e in events if e["type"] == "token") == state.answer


async def test_search_tool_lists_matching_documents(agent: Any) -> None:
    state, _ = await ask(agent, "Which documents mention battery recycling?")
    assert (state.tool, state.tool_input) == ("search", "battery recycling")
    assert state.answer.startswith("Documents matching battery recycling:")
    assert "Juniper Networks and Helios Labs" in state.answer


async def test_web_search_only_when_configured(stores: IndexedStores) -> None:
    """Without a configured search service "search the web for X" is an ordinary retrieval; with one
    (a real SearxNG-shaped JSON server on loopback) it runs the web tool and lists the results."""
    from services.agent.graph import build_graph
    from services.agent.wiring import agent_deps
    from services.tool.web import WebSearch

    plain = compile_agent(stores.embedder, stores.vectors, stores.graph, "chunks")
    state, _ = await ask(plain, "search the web for Helios Labs")
    assert state.steps == ["plan", "retrieve", "respond"]

    queries: list[str] = []

    async def searx(request: Request) -> JSONResponse:
        queries.append(request.query_params["q"])
        assert request.query_params["format"] == "json"
        results = [
            {
                "title": "Helios <b>Labs</b> home",
                "url": "https://helios.example/",
                "content": "Battery <i>recycling</i>",
            },
            {"title": "Graz news", "url": "https://graz.example/helios", "content": ""},
        ]
        return JSONResponse({"query": queries[-1], "results": results})

    app = Starlette(routes=[Route("/search", searx)])
    async with loopback_app(app) as url:
        web = WebSearch(url)
        try:
            deps = agent_deps(stores.embedder, stores.vectors, stores.graph, "chunks", web_search=web)
            state, _ = await ask(build_graph(deps), "search the web for Helios Labs")
        finally:
            await web.close()
    assert queries == ["Helios Labs"]
    assert state.steps == ["plan", "tool", "respond"]
    assert state.answer == (
        "Web results for Helios Labs:\n"
        "- Helios Labs home — https://helios.example/: Battery recycling\n"
        "- Graz news — https://graz.example/helios"
    )

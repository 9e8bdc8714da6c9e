"""The chat agent, written once: a LangGraph ``StateGraph`` whose nodes (plan, retrieve, tool,
respond) route with ``Command(goto=...)``.

Two executors run the same node functions: ``build_graph(deps).ainvoke/astream`` in-process (tests,
CLI, the benchmark baseline), and the Kafka workers (one node per worker; the state travels as the
``AgentState`` Avro record and each worker publishes to the topic of the node its Command names).

Events (status, token, citations, final) go to ``emit``: the LangGraph stream writer in-process, a
Kafka publisher in the workers. With no LLM configured the planner is deterministic and the answer
is extractive, cited, and says so when nothing relevant was found. With an LLM, planning is one
JSON-schema-guided call (action, tool, tool input, a standalone rewrite of the question), checked
against rails before it is trusted; the answer streams from the model over the numbered passages;
every LLM failure falls back to the deterministic path rather than failing the chat.
"""

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from services.agent.answer import Answerer, lexical_answer
from services.agent.followup import Referent, rewrite, stands_alone
from services.agent.llm_steps import (
    CITED,
    DIRECT_PROMPT,
    HYDE_PROMPT,
    Calculator,
    answer_messages,
    history_messages,
    llm_citations,
    llm_plan,
)
from services.agent.rules import LISTING_TOOLS, decide, tool_answer
from services.common.messages import AgentState, Citation, Passage

log = structlog.get_logger("ragstream.agent")

NODES = ("plan", "retrieve", "tool", "respond")
Emit = Callable[[dict[str, Any]], Awaitable[None] | None]
NodeFn = Callable[[AgentState, Any], Awaitable[Command[Any]]]

ROUTE: dict[str, Literal["retrieve", "tool", "respond"]] = {
    "RETRIEVE": "retrieve",
    "TOOL": "tool",
    "DIRECT": "respond",
}


@dataclass(frozen=True)
class RetrievedContext:
    passages: list[Passage]
    facts: list[str]
    index_version: str = ""  # the collection searched (chunks_vN)


Retriever = Callable[[str, str, int], Awaitable[RetrievedContext]]
Sandbox = Callable[[str], Awaitable[Any]]


@dataclass(frozen=True)
class AgentDeps:
    retrieve: Retriever
    calculate: Calculator
    run_code: Sandbox
    extract_expression: Callable[[str], str | None]
    # What a text names that a pronoun may stand for (services/agent/followup.py), in order.
    referents: Callable[[str], list[Referent]]
    memory: Any = None  # a ChatMemory: history for rewriting when the client sends none; turns stored
    # an AnswerCache: version(tenant), lookup(tenant, version, query), store(tenant, version, query, answer,
    # citations)
    cache: Any = None
    top_k: int = 5
    llm: Any = None  # a ChatModel (services/models/llm.py); None = deterministic planner, extractive answers
    graph_search: Callable[[str, str], Awaitable[list[str]]] | None = None  # (text, tenant) → fact lines
    vector_search: Callable[[str, str], Awaitable[list[str]]] | None = None  # (query, tenant) → hit lines
    web_search: Callable[[str], Awaitable[list[str]]] | None = None  # only when configured
    hyde: bool = False  # with an LLM: retrieve with a hypothetical answer passage added to the query
    max_tokens: int = 384
    # The extractive answer and "I don't know" gate (services/agent/answer.py); None = word overlap only.
    answer: Answerer | None = None
    # For a chained question whose passages name the link but not what is asked of it: a second search
    # (answer.SentenceAnswerer.next_hop); None = one search per question.
    next_hop: Callable[[str, Sequence[Passage]], Awaitable[str | None]] | None = None


def _emit_from(config: Any) -> Emit:
    configurable = (config or {}).get("configurable", {}) if isinstance(config, dict) else {}
    emit = configurable.get("emit")
    if emit is not None:
        return emit  # type: ignore[no-any-return]
    from langgraph.config import get_stream_writer

    return get_stream_writer()


async def _send(emit: Emit, event: dict[str, Any]) -> None:
    result = emit(event)
    if result is not None:
        await result


PLAN_TIMEOUT_S = 15.0  # the model's plan (or HyDE passage), before the rules' (the plain query) instead
# Words per streamed piece of an answer that is complete before it is sent (extractive, cached, tool):
# it streams in readable steps, with a fraction of the events (each is a Kafka record, a decode on the
# gateway and a frame). 12 words against 3: 10% less CPU per answer in 500-chat bursts (bench/README.md).
WORDS_PER_PIECE = 12


def tokens(text: str, words: int = 1) -> list[str]:
    """Pieces of ``words`` words (with the whitespace before them) that concatenate back to ``text``."""
    return re.findall(rf"(?:\s*\S+){{1,{words}}}", text) or [text]


def after_hop(first: Sequence[Passage], second: Sequence[Passage], keep: int = 2) -> list[Passage]:
    """The first search's passages with the second hop's best ``keep`` new ones after its top two:
    the link stays first, what the hop found comes next, and nothing the first search found is lost."""
    seen = {p.chunk_id for p in first}
    found = [p for p in second if p.chunk_id not in seen][:keep]
    return [*first[:2], *found, *first[2:]]


# ---------------------------------------------------------------------------------------- nodes
async def _stream_llm(
    deps: AgentDeps, emit: Emit, messages: list[dict[str, str]], fallback: str | None
) -> tuple[str, bool, bool]:
    """Stream the model's reply as tokens: (text, streamed, whole). ``streamed`` once anything was
    sent; a failure before the first token returns (fallback or "", False, False) so the caller
    answers without the model; a failure mid-answer keeps what was sent, says the rest is missing
    and is not ``whole``."""
    parts: list[str] = []
    try:
        async for piece in deps.llm.stream(messages, max_tokens=deps.max_tokens):
            parts.append(piece)
            await _send(emit, {"type": "token", "text": piece})
    except Exception as exc:
        log.warning("llm answer failed", error=f"{type(exc).__name__}: {exc}"[:300], sent=len(parts))
        if not parts:
            return fallback or "", False, False
        note = " [the answer was cut: the language model stopped]"
        parts.append(note)
        await _send(emit, {"type": "token", "text": note})
        return "".join(parts), True, False
    if not parts:
        return fallback or "", False, False
    return "".join(parts), True, True


def make_nodes(deps: AgentDeps) -> dict[str, NodeFn]:
    async def plan(
        state: AgentState, config: RunnableConfig | None = None
    ) -> Command[Literal["retrieve", "tool", "respond"]]:
        emit = _emit_from(config)
        await _send(emit, {"type": "status", "step": "plan"})
        history = [(t.role, t.content) for t in state.history]
        if not history and deps.memory is not None and state.session_id:
            history = await deps.memory.history(state.tenant, state.user, state.session_id)
        query = rewrite(state.question, history, deps.referents)
        action, tool, tool_input = decide(
            state.question, deps.extract_expression, deps.web_search is not None
        )
        if deps.llm is not None and action != "DIRECT":
            try:
                rules = (action, tool, tool_input)
                # the user waits for this: past PLAN_TIMEOUT_S the rules decide (the gateway ends a
                # request whose agent is silent for 30 s)
                async with asyncio.timeout(PLAN_TIMEOUT_S):
                    action, tool, tool_input, rewritten = await llm_plan(
                        deps.llm, state.question, history, rules, deps.calculate, deps.web_search is not None
                    )
                query = rewritten or query
            except Exception as exc:  # the model is an improvement, never a dependency
                log.warning("llm plan failed; rules decide", error=f"{type(exc).__name__}: {exc}"[:300])
        goto = ROUTE[action]
        version = ""
        if action == "RETRIEVE" and deps.cache is not None and stands_alone(query, bool(history)):
            version = await deps.cache.version(state.tenant)
            hit = await deps.cache.lookup(state.tenant, version, query) if version else None
            if hit is not None:
                citations = [Citation.model_validate(c) for c in hit.citations]
                return Command(
                    goto="respond",
                    update={
                        "query": query,
                        "action": action,
                        "cached": True,
                        "index_version": hit.index_version,
                        "answer": hit.answer,
                        "citations": citations,
                        "steps": [*state.steps, "plan"],
                    },
                )
        update = {
            "query": query,
            "action": action,
            "tool": tool,
            "tool_input": tool_input,
            "cache_version": version,
            "steps": [*state.steps, "plan"],
        }
        return Command(goto=goto, update=update)

    async def retrieve(
        state: AgentState, config: RunnableConfig | None = None
    ) -> Command[Literal["respond"]]:
        await _send(_emit_from(config), {"type": "status", "step": "retrieve"})
        query = state.query or state.question
        if deps.llm is not None and deps.hyde:
            try:
                async with asyncio.timeout(PLAN_TIMEOUT_S):  # the user waits: past it, the plain query
                    passage = await deps.llm.complete(
                        [{"role": "system", "content": HYDE_PROMPT}, {"role": "user", "content": query}],
                        max_tokens=96,
                    )
                query = f"{query}\n{passage.strip()}"
            except Exception as exc:
                log.warning("hyde failed; plain query", error=f"{type(exc).__name__}: {exc}"[:300])
        context = await deps.retrieve(query, state.tenant, deps.top_k)
        passages = context.passages
        if deps.next_hop is not None:
            follow = await deps.next_hop(state.query or state.question, passages)
            if follow:
                more = await deps.retrieve(follow, state.tenant, deps.top_k)
                passages = after_hop(passages, more.passages)
                log.debug("second hop", follow=follow, passages=len(passages))
        return Command(
            goto="respond",
            update={
                "passages": passages,
                "facts": context.facts,
                "index_version": context.index_version,
                "steps": [*state.steps, "retrieve"],
            },
        )

    async def tool(state: AgentState, config: RunnableConfig | None = None) -> Command[Literal["respond"]]:
        await _send(_emit_from(config), {"type": "status", "step": "tool", "tool": state.tool})
        output: str | None = None
        error: str | None = None
        if state.tool == "calculator":
            result = deps.calculate(state.tool_input or "")
            output, error = (None, result.error) if result.error else (str(result.value), None)
        elif state.tool in LISTING_TOOLS:
            search = {"graph": deps.graph_search, "search": deps.vector_search}.get(state.tool or "")
            try:
                if state.tool == "web":
                    lines = await deps.web_search(state.tool_input or "") if deps.web_search else None
                else:
                    lines = await search(state.tool_input or "", state.tenant) if search else None
            except Exception as exc:
                lines, error = None, f"{type(exc).__name__}: {exc}"[:300]
            if lines is None and error is None:
                error = "not configured"
            output = "\n".join(f"- {line}" for line in lines or [])
        elif state.tool == "python":
            result = await deps.run_code(state.tool_input or "")
            output = result.stdout
            if result.exit_code != 0 or result.timed_out:
                error = result.killed_reason or (result.stderr.strip().splitlines() or ["failed"])[-1]
        else:
            error = f"unknown tool {state.tool!r}"
        return Command(
            goto="respond",
            update={"tool_output": output, "tool_error": error, "steps": [*state.steps, "tool"]},
        )

    async def respond(state: AgentState, config: RunnableConfig | None = None) -> Command[Any]:
        emit = _emit_from(config)
        await _send(emit, {"type": "status", "step": "respond"})
        citations: list[Citation] = []
        streamed = False
        query = state.query or state.question
        if state.action == "DIRECT":
            answer = "Hello! Ask me anything about your documents."
            if deps.llm is not None:
                history = history_messages([(t.role, t.content) for t in state.history])
                messages = [{"role": "system", "content": DIRECT_PROMPT}, *history]
                messages.append({"role": "user", "content": state.question})
                answer, streamed, _ = await _stream_llm(deps, emit, messages, answer)
        elif state.action == "TOOL":
            answer = tool_answer(state)
        elif state.cached:
            answer, citations = state.answer, list(state.citations)
        else:
            cacheable = True
            if deps.answer is not None:
                answer, citations = await deps.answer(query, state.passages)
            else:
                answer, citations = lexical_answer(query, state.passages)
            # The extractive gate decides whether anything relevant came back: the model is never
            # asked to answer from passages that share nothing with the question.
            if deps.llm is not None and citations:
                messages = answer_messages(query, state.passages, state.facts)
                generated, streamed, whole = await _stream_llm(deps, emit, messages, None)
                if streamed:
                    answer, citations = generated, llm_citations(generated, state.passages)
                    # a model's answer is kept only whole and citing what it says ([n]): one cut off,
                    # or citing every passage because it marked none, is no answer to serve again
                    cacheable = whole and bool(CITED.search(generated))
            if citations and cacheable and state.cache_version and deps.cache is not None:
                dumped = [c.model_dump() for c in citations]
                await deps.cache.store(state.tenant, state.cache_version, query, answer, dumped)
        if not streamed:
            for piece in tokens(answer, WORDS_PER_PIECE):
                await _send(emit, {"type": "token", "text": piece})
        await _send(emit, {"type": "citations", "citations": [c.model_dump() for c in citations]})
        if deps.memory is not None and state.session_id:
            # keyed by (request_id, role): a redelivered respond step stores nothing twice
            for role, text in (("user", state.question), ("assistant", answer)):
                await deps.memory.append(
                    state.tenant, state.user, state.session_id, state.request_id, role, text
                )
        return Command(
            goto=END, update={"answer": answer, "citations": citations, "steps": [*state.steps, "respond"]}
        )

    return {"plan": plan, "retrieve": retrieve, "tool": tool, "respond": respond}


def build_graph(deps: AgentDeps) -> Any:
    """The compiled graph for the in-process executor."""
    graph = StateGraph(AgentState)
    nodes: dict[str, Any] = dict(make_nodes(deps))  # LangGraph's overloads cannot see our node type
    for name, fn in nodes.items():
        graph.add_node(name, fn)
    graph.add_edge(START, "plan")
    return graph.compile()

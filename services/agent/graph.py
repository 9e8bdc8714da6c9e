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

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from services.agent.answer import Answerer, lexical_answer
from services.common.messages import AgentState, Citation, Passage

log = structlog.get_logger("ragstream.agent")

NODES = ("plan", "retrieve", "tool", "respond")
Emit = Callable[[dict[str, Any]], Awaitable[None] | None]
NodeFn = Callable[[AgentState, Any], Awaitable[Command[Any]]]

GREETING = re.compile(
    r"^\s*(hi|hello|hey|hallo|bonjour|good (morning|afternoon|evening)|thanks|thank you)\b"
    r"[\s!.,?]*(there)?[\s!.]*$",
    re.IGNORECASE,
)
GRAPH_ASK = re.compile(
    r"^\s*(?:show\s+(?:me\s+)?)?(?:the\s+)?(?:graph|relations|connections)\s+(?:of|for|around|about)\s+"
    r"(?P<q>.+?)[\s?.!]*$",
    re.IGNORECASE,
)
SEARCH_ASK = re.compile(
    r"^\s*(?:which|what)\s+documents\s+(?:mention|are about|talk about|cover)\s+(?P<q>.+?)[\s?.!]*$",
    re.IGNORECASE,
)
WEB_ASK = re.compile(
    r"^\s*(?:search the web|web search|look up online)\s*(?:for)?\s*:?\s*(?P<q>.+?)\s*$", re.IGNORECASE
)
CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(?P<code>.*?)```", re.DOTALL | re.IGNORECASE)
PRONOUN = re.compile(r"\b(it|its|they|them|their|he|she|him|her|his)\b", re.IGNORECASE)
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
Calculator = Callable[[str], Any]
Sandbox = Callable[[str], Awaitable[Any]]


@dataclass(frozen=True)
class AgentDeps:
    retrieve: Retriever
    calculate: Calculator
    run_code: Sandbox
    extract_expression: Callable[[str], str | None]
    entities_in: Callable[[str], list[str]]
    memory: Any = None  # a ChatMemory: history for rewriting when the client sends none; turns stored
    cache: Any = None  # an AnswerCache: lookup(tenant, query) / store(tenant, query, answer, citations)
    top_k: int = 5
    llm: Any = None  # a ChatModel (services/models/llm.py); None = deterministic planner, extractive answers
    graph_search: Callable[[str, str], Awaitable[list[str]]] | None = None  # (text, tenant) → fact lines
    vector_search: Callable[[str, str], Awaitable[list[str]]] | None = None  # (query, tenant) → hit lines
    web_search: Callable[[str], Awaitable[list[str]]] | None = None  # only when configured
    hyde: bool = False  # with an LLM: retrieve with a hypothetical answer passage added to the query
    max_tokens: int = 384
    # The extractive answer and "I don't know" gate (services/agent/answer.py); None = word overlap only.
    answer: Answerer | None = None


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


# ----------------------------------------------------------------------------------------- plan
def rewrite(
    question: str, history: Sequence[tuple[str, str]], entities_in: Callable[[str], list[str]]
) -> str:
    """Resolve a pronoun to the salient entity of the latest turn that names one ("Who works for it?" after a
    question about Helios Labs → "Who works for Helios Labs?"). Questions naming their own entity
    are left alone."""
    if not PRONOUN.search(question) or entities_in(question):
        return question
    for _, content in reversed(history):
        found = entities_in(content)
        if found:
            # the most recent turn's first entity: usually its subject ("Helios Labs is based in Graz")
            return PRONOUN.sub(found[0], question, count=1)
    return question


def decide(
    question: str, extract_expression: Callable[[str], str | None], web: bool = False
) -> tuple[str, str | None, str | None]:
    """(action, tool, tool_input) by deterministic rules: greeting → DIRECT, a python code block →
    sandbox, "graph of X" → graph search, "which documents mention X" → vector search, "search the
    web for X" → web search (only when configured), arithmetic → calculator, else RETRIEVE."""
    if GREETING.match(question):
        return "DIRECT", None, None
    for pattern, tool in ((GRAPH_ASK, "graph"), (SEARCH_ASK, "search"), (WEB_ASK, "web")):
        found = pattern.match(question)
        if found and (tool != "web" or web):
            return "TOOL", tool, found.group("q")
    code = CODE_BLOCK.search(question)
    if code:
        return "TOOL", "python", code.group("code")
    expression = extract_expression(question)
    if expression is not None:
        return "TOOL", "calculator", expression
    return "RETRIEVE", None, None


# -------------------------------------------------------------------------------------- respond
def tool_answer(state: AgentState) -> str:
    if state.tool_error:
        return f"The {state.tool} tool could not finish: {state.tool_error}"
    if state.tool == "calculator":
        return f"{state.tool_input} = {state.tool_output}"
    if state.tool in LISTING_TOOLS:
        heading = LISTING_TOOLS[state.tool].format(q=state.tool_input)
        return f"{heading}\n{state.tool_output}" if state.tool_output else f"{heading} nothing found."
    return f"The code ran. Output:\n{state.tool_output or '(no output)'}"


LISTING_TOOLS = {
    "graph": "Knowledge graph around {q}:",
    "search": "Documents matching {q}:",
    "web": "Web results for {q}:",
}


# Words per streamed piece of an answer that is complete before it is sent (extractive, cached, tool):
# it streams in readable steps, with a fraction of the events (each is a Kafka record and a frame).
WORDS_PER_PIECE = 3


def tokens(text: str, words: int = 1) -> list[str]:
    """Pieces of ``words`` words (with the whitespace before them) that concatenate back to ``text``."""
    return re.findall(rf"(?:\s*\S+){{1,{words}}}", text) or [text]


# ------------------------------------------------------------------------------------------ llm
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["action", "tool", "tool_input", "query"],
    "properties": {
        "action": {"enum": ["retrieve", "tool", "direct"]},
        "tool": {"enum": ["none", "calculator", "python", "graph", "search", "web"]},
        "tool_input": {"type": "string", "maxLength": 400},
        "query": {"type": "string", "maxLength": 300},
    },
}
PLAN_PROMPT = (
    "You route the questions of a company-document assistant. Answer with JSON only.\n"
    'action: "retrieve" to search the documents (the default for any question about facts), '
    '"tool" for arithmetic (tool "calculator", tool_input the bare expression), for Python code the '
    'user wrote (tool "python"), to list what the knowledge graph links to a name (tool "graph", '
    'tool_input the name), to list matching documents (tool "search"), or to search the web when asked '
    '(tool "web"); "direct" only for greetings and thanks.\n'
    "query: the question rewritten to stand alone, with pronouns replaced by what they refer to in the "
    "conversation."
)
HYDE_PROMPT = (
    "Write two sentences that could appear in a company document and answer the question. "
    "Plain text, no preamble."
)
ANSWER_PROMPT = (
    "Answer the question using only the numbered passages. Cite every claim with the number of its "
    "passage in square brackets, like [1]. If the passages do not answer the question, say that you "
    "do not know. Be brief."
)
CITED = re.compile(r"\[(\d{1,2})\]")
DIRECT_PROMPT = "You are a friendly assistant for questions about company documents. Reply briefly."


def _history_messages(history: Sequence[tuple[str, str]], keep: int = 6) -> list[dict[str, str]]:
    return [
        {"role": role if role in ("user", "assistant") else "user", "content": text[:1000]}
        for role, text in list(history)[-keep:]
    ]


async def llm_plan(
    llm: Any,
    question: str,
    history: Sequence[tuple[str, str]],
    rules: tuple[str, str | None, str | None],
    calculate: Calculator,
    web: bool = False,
) -> tuple[str, str | None, str | None, str | None]:
    """(action, tool, tool_input, rewritten query) from one guided-JSON call, held to rails: a
    calculator input must evaluate, Python runs only code the user sent (never model-written code),
    and an empty rewrite keeps the question. Anything off the rails takes the rules' decision."""
    conversation = "\n".join(f"{role}: {text[:400]}" for role, text in list(history)[-6:])
    prompt = f"Conversation so far:\n{conversation or '(none)'}\n\nQuestion: {question}"
    plan = await llm.json(
        [{"role": "system", "content": PLAN_PROMPT}, {"role": "user", "content": prompt}],
        PLAN_SCHEMA,
        name="plan",
        max_tokens=200,
    )
    query = str(plan.get("query") or "").strip() or None
    action = str(plan.get("action", "")).upper()
    if action == "TOOL":
        tool, tool_input = plan.get("tool"), str(plan.get("tool_input") or "").strip()
        if tool == "calculator" and tool_input and not getattr(calculate(tool_input), "error", None):
            return "TOOL", "calculator", tool_input, query
        if tool == "python" and rules[1] == "python":
            return "TOOL", "python", rules[2], query
        if tool in ("graph", "search", "web") and tool_input and (tool != "web" or web):
            return "TOOL", tool, tool_input, query
        return (*rules, query)
    if action == "DIRECT" and rules[0] != "TOOL":
        return "DIRECT", None, None, query
    if action == "RETRIEVE" and rules[0] != "TOOL":
        return "RETRIEVE", None, None, query
    return (*rules, query)


def llm_citations(answer: str, passages: Sequence[Passage]) -> list[Citation]:
    """The passages the answer cites as [n]; all of them when it cites none (they were its context)."""
    cited = sorted({int(n) for n in CITED.findall(answer) if 1 <= int(n) <= len(passages)})
    numbers = cited or list(range(1, len(passages) + 1))
    return [
        Citation(
            n=n,
            chunk_id=passages[n - 1].chunk_id,
            doc_id=passages[n - 1].doc_id,
            title=passages[n - 1].title,
            source_uri=passages[n - 1].source_uri,
            page=passages[n - 1].page,
        )
        for n in numbers
    ]


def answer_messages(query: str, passages: Sequence[Passage], facts: Sequence[str]) -> list[dict[str, str]]:
    blocks = []
    for n, p in enumerate(passages, start=1):
        where = f"{p.title}" + (f", page {p.page}" if p.page else "")
        blocks.append(f"[{n}] ({where}) {p.text[:1200]}")
    context = "\n\n".join(blocks)
    if facts:
        context += "\n\nKnown relations:\n" + "\n".join(facts[:10])
    return [
        {"role": "system", "content": ANSWER_PROMPT},
        {"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {query}"},
    ]


# ---------------------------------------------------------------------------------------- nodes
async def _stream_llm(
    deps: AgentDeps, emit: Emit, messages: list[dict[str, str]], fallback: str | None
) -> tuple[str, bool]:
    """Stream the model's reply as tokens; (text, True) once anything was sent. A failure before the
    first token returns (fallback or "", False) so the caller answers without the model; a failure
    mid-answer keeps what was sent and says the rest is missing."""
    parts: list[str] = []
    try:
        async for piece in deps.llm.stream(messages, max_tokens=deps.max_tokens):
            parts.append(piece)
            await _send(emit, {"type": "token", "text": piece})
    except Exception as exc:
        log.warning("llm answer failed", error=f"{type(exc).__name__}: {exc}"[:300], sent=len(parts))
        if not parts:
            return fallback or "", False
        note = " [the answer was cut: the language model stopped]"
        parts.append(note)
        await _send(emit, {"type": "token", "text": note})
    if not parts:
        return fallback or "", False
    return "".join(parts), True


def make_nodes(deps: AgentDeps) -> dict[str, NodeFn]:
    async def plan(
        state: AgentState, config: RunnableConfig | None = None
    ) -> Command[Literal["retrieve", "tool", "respond"]]:
        emit = _emit_from(config)
        await _send(emit, {"type": "status", "step": "plan"})
        history = [(t.role, t.content) for t in state.history]
        if not history and deps.memory is not None and state.session_id:
            history = await deps.memory.history(state.tenant, state.user, state.session_id)
        query = rewrite(state.question, history, deps.entities_in)
        action, tool, tool_input = decide(
            state.question, deps.extract_expression, deps.web_search is not None
        )
        if deps.llm is not None and action != "DIRECT":
            try:
                rules = (action, tool, tool_input)
                action, tool, tool_input, rewritten = await llm_plan(
                    deps.llm, state.question, history, rules, deps.calculate, deps.web_search is not None
                )
                query = rewritten or query
            except Exception as exc:  # the model is an improvement, never a dependency
                log.warning("llm plan failed; rules decide", error=f"{type(exc).__name__}: {exc}"[:300])
        goto = ROUTE[action]
        if action == "RETRIEVE" and deps.cache is not None:
            hit = await deps.cache.lookup(state.tenant, query)
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
                passage = await deps.llm.complete(
                    [{"role": "system", "content": HYDE_PROMPT}, {"role": "user", "content": query}],
                    max_tokens=96,
                )
                query = f"{query}\n{passage.strip()}"
            except Exception as exc:
                log.warning("hyde failed; plain query", error=f"{type(exc).__name__}: {exc}"[:300])
        context = await deps.retrieve(query, state.tenant, deps.top_k)
        return Command(
            goto="respond",
            update={
                "passages": context.passages,
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
                history = _history_messages([(t.role, t.content) for t in state.history])
                messages = [{"role": "system", "content": DIRECT_PROMPT}, *history]
                messages.append({"role": "user", "content": state.question})
                answer, streamed = await _stream_llm(deps, emit, messages, answer)
        elif state.action == "TOOL":
            answer = tool_answer(state)
        elif state.cached:
            answer, citations = state.answer, list(state.citations)
        else:
            if deps.answer is not None:
                answer, citations = await deps.answer(query, state.passages)
            else:
                answer, citations = lexical_answer(query, state.passages)
            # The extractive gate decides whether anything relevant came back: the model is never
            # asked to answer from passages that share nothing with the question.
            if deps.llm is not None and citations:
                messages = answer_messages(query, state.passages, state.facts)
                generated, streamed = await _stream_llm(deps, emit, messages, None)
                if streamed:
                    answer, citations = generated, llm_citations(generated, state.passages)
            if citations and deps.cache is not None:
                dumped = [c.model_dump() for c in citations]
                await deps.cache.store(state.tenant, query, answer, dumped)
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

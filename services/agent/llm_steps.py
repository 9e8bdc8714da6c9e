"""What the agent asks a language model, and how it reads the replies: the guided-JSON plan (held
to the rules' rails), the HyDE passage, the cited answer over numbered passages."""

import re
from collections.abc import Callable, Sequence
from typing import Any

from services.common.messages import Citation, Passage

Calculator = Callable[[str], Any]

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
    "passage in square brackets, like [1]. If the passages do not answer the question, answer only "
    '"I don\'t know." Be brief.'
)
CITED = re.compile(r"\[(\d{1,2})\]")
DIRECT_PROMPT = "You are a friendly assistant for questions about company documents. Reply briefly."


def history_messages(history: Sequence[tuple[str, str]], keep: int = 6) -> list[dict[str, str]]:
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

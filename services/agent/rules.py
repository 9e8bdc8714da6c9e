"""The deterministic planner: which step a question goes to, by rules (no model).

A greeting is answered directly; "graph of X", "which documents mention X" and "search the web for X"
(only when a web search is configured) go to their tool; a Python code block to the sandbox;
arithmetic to the calculator; everything else to retrieval. With an LLM, ``llm_steps.llm_plan``
decides instead, held to the same rails.
"""

import re
from collections.abc import Callable

from services.common.messages import AgentState

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

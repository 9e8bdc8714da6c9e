"""The arithmetic expression a question asks for ("what is 17 * (3 + 4)?", "compute 2^10",
"15% of 80"), normalised for the calculator's ``evaluate``.

It is deliberately conservative: the question may hold only the expression and a few filler words;
anything else (a date, a second number, an unknown word) gives ``None``, and the planner does not
route the question to the calculator.
"""

from __future__ import annotations

import itertools
import re

from services.tool.calculator import (
    CONSTANTS,
    FUNCTIONS,
    MAX_EXPRESSION_CHARS,
    UNICODE_OPERATORS,
    CalcError,
    parse,
)

_PERCENT_OF = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*of\b")
_WORD_OPERATORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:raised\s+to\s+the\s+power\s+of|to\s+the\s+power\s+of|raised\s+to)\b"), " ** "),
    (re.compile(r"\bmultiplied\s+by\b"), " * "),
    (re.compile(r"\bdivided\s+by\b"), " / "),
    (re.compile(r"\btimes\b"), " * "),
    (re.compile(r"\bplus\b"), " + "),
    (re.compile(r"\bminus\b"), " - "),
    (re.compile(r"\bmod(?:ulo)?\b"), " % "),
    (re.compile(r"\bsquared\b"), " ** 2 "),
    (re.compile(r"\bcubed\b"), " ** 3 "),
    (re.compile(r"(?<=[\d)])\s*x\s*(?=[\d(])"), " * "),  # "3 x 4"
]
_TOKEN = re.compile(
    r"""
    (?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?|\.\d+)
    |(?P<op>\*\*|//|[-+*/%^(),])
    |(?P<word>[a-z_][a-z0-9_']*)
    |(?P<space>\s+)
    |(?P<punct>[?!.:;=])
    |(?P<other>.)
    """,
    re.VERBOSE,
)
# words a question may carry around the expression; any other word means "not a pure calculation"
_FILLER = frozenset(
    [
        "what",
        "what's",
        "whats",
        "is",
        "are",
        "was",
        "calculate",
        "compute",
        "evaluate",
        "eval",
        "solve",
        "work",
        "out",
        "how",
        "much",
        "the",
        "value",
        "result",
        "answer",
        "of",
        "please",
        "pls",
        "can",
        "could",
        "would",
        "will",
        "you",
        "tell",
        "me",
        "give",
        "find",
        "get",
        "do",
        "does",
        "equal",
        "equals",
        "to",
        "exactly",
        "approximately",
        "roughly",
        "hey",
        "hi",
        "ok",
        "okay",
        "so",
        "then",
        "quick",
        "quickly",
        "calc",
        "i",
        "need",
        "want",
        "know",
    ]
)
_BINARY = frozenset({"+", "-", "*", "/", "//", "%", "**"})


def _join(tokens: list[str]) -> str:
    out: list[str] = []
    glue_next = True
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else None
        unary = tok in {"+", "-"} and (prev is None or prev in _BINARY or prev in {"(", ","})
        if out and not glue_next and tok not in {")", ","} and not (tok == "(" and prev in FUNCTIONS):
            out.append(" ")
        out.append(tok)
        glue_next = unary or tok == "("
    return "".join(out)


def extract_expression(text: str) -> str | None:
    """The single arithmetic expression a question asks for, normalised for `evaluate`; else None."""
    if not isinstance(text, str) or not text.strip() or len(text) > 4 * MAX_EXPRESSION_CHARS:
        return None
    lowered = text.translate(UNICODE_OPERATORS).lower()
    lowered = _PERCENT_OF.sub(r"(\1 / 100) * ", lowered)
    for pattern, replacement in _WORD_OPERATORS:
        lowered = pattern.sub(replacement, lowered)

    segments: list[list[str]] = []
    in_math = False
    for match in _TOKEN.finditer(lowered):
        kind, tok = match.lastgroup, match.group()
        if kind == "space":
            continue
        if kind == "other":
            return None
        is_math = kind in {"num", "op"} or (kind == "word" and (tok in FUNCTIONS or tok in CONSTANTS))
        if not is_math:
            if kind == "word" and tok not in _FILLER:
                return None
            in_math = False
            continue
        if not in_math:
            segments.append([])
            in_math = True
        segments[-1].append("**" if tok == "^" else tok)

    if len(segments) != 1:
        return None
    tokens = segments[0]
    pairs = list(itertools.pairwise(tokens))
    has_operator = any(
        nxt in _BINARY and (prev == ")" or prev in CONSTANTS or prev[0].isdigit() or prev[0] == ".")
        for prev, nxt in pairs
    ) or any(prev in FUNCTIONS and nxt == "(" for prev, nxt in pairs)
    if not has_operator:
        return None
    expression = _join(tokens)
    if len(expression) > MAX_EXPRESSION_CHARS:
        return None
    try:
        parse(expression)
    except CalcError:
        return None
    return expression

"""An LLM judge for `ragstream eval`, in the spirit of Ragas, on the same OpenAI-compatible contract as
the rest of the product (``services.models.llm.ChatModel``; Ragas itself wants a network-backed LLM
stack and its own prompts, which this judge does not need).

* **faithfulness**: the answer is split into sentences (citation markers dropped); the judge says, for
  each sentence, whether the context passages support it. The score is the share supported.
* **answer relevancy**: the judge rates from 1 to 5 how directly the answer addresses the question;
  the score is (rating - 1) / 4.

Both ask for JSON constrained by a schema (guided decoding), so a small model cannot answer in another
shape; a reply that still does not parse leaves the question unjudged (None), never a made-up score.
An "I don't know" answer is not judged: the eval's own ``idk`` metrics measure it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.models.llm import ChatModel

_MARKER = re.compile(r"\s*\[\d+\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
MAX_SENTENCES = 12
MAX_CONTEXT_CHARS = 6000

FAITHFULNESS_PROMPT = (
    'You check answers against sources. For each numbered statement, reply "yes" if the context '
    'states or directly implies it, otherwise "no". Judge only by the context, not by what you know.'
)
RELEVANCY_PROMPT = (
    "You rate answers. Rate from 1 to 5 how directly the answer addresses the question: 5 answers "
    "exactly what was asked, 3 is partly on topic, 1 is about something else. Do not judge correctness."
)


@dataclass(frozen=True, slots=True)
class Judgement:
    faithfulness: float | None
    relevancy: float | None


def statements(answer: str) -> list[str]:
    """The answer's sentences without citation markers, at most MAX_SENTENCES."""
    text = _MARKER.sub("", answer).strip()
    parts = [p.strip() for line in text.splitlines() for p in _SENTENCE.split(line)]
    return [p for p in parts if len(p) > 2][:MAX_SENTENCES]


def _context(passages: Sequence[str]) -> str:
    out, size = [], 0
    for i, passage in enumerate(passages, 1):
        piece = f"[{i}] {passage.strip()}"
        if size + len(piece) > MAX_CONTEXT_CHARS:
            break
        out.append(piece)
        size += len(piece)
    return "\n\n".join(out)


def share_supported(verdicts: Any, expected: int) -> float | None:
    """The share of "yes" among exactly ``expected`` verdicts; None for any other shape."""
    if not isinstance(verdicts, dict) or not isinstance(verdicts.get("verdicts"), list):
        return None
    values = verdicts["verdicts"]
    if len(values) != expected or any(v not in ("yes", "no") for v in values):
        return None
    return float(sum(v == "yes" for v in values)) / expected


def rating_score(reply: Any) -> float | None:
    """(rating - 1) / 4 for a rating 1..5; None for anything else."""
    rating = reply.get("rating") if isinstance(reply, dict) else None
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        return None
    return (rating - 1) / 4


class Judge:
    def __init__(self, llm: ChatModel) -> None:
        self.llm = llm

    async def faithfulness(self, answer: str, passages: Sequence[str]) -> float | None:
        claims = statements(answer)
        if not claims or not passages:
            return None
        numbered = "\n".join(f"{i}. {claim}" for i, claim in enumerate(claims, 1))
        schema = {
            "type": "object",
            "properties": {
                "verdicts": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["yes", "no"]},
                    "minItems": len(claims),
                    "maxItems": len(claims),
                }
            },
            "required": ["verdicts"],
        }
        messages = [
            {"role": "system", "content": FAITHFULNESS_PROMPT},
            {"role": "user", "content": f"Context:\n{_context(passages)}\n\nStatements:\n{numbered}"},
        ]
        try:
            reply = await self.llm.json(
                messages, schema, name="faithfulness", max_tokens=16 + 8 * len(claims)
            )
        except Exception:  # the judge is a measurement: an unparseable reply leaves it unjudged
            return None
        return share_supported(reply, len(claims))

    async def relevancy(self, question: str, answer: str) -> float | None:
        text = _MARKER.sub("", answer).strip()
        if not text:
            return None
        schema = {
            "type": "object",
            "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}},
            "required": ["rating"],
        }
        messages = [
            {"role": "system", "content": RELEVANCY_PROMPT},
            {"role": "user", "content": f"Question: {question}\n\nAnswer: {text}"},
        ]
        try:
            reply = await self.llm.json(messages, schema, name="relevancy", max_tokens=16)
        except Exception:
            return None
        return rating_score(reply)

    async def judge(self, question: str, answer: str, passages: Sequence[str]) -> Judgement:
        return Judgement(await self.faithfulness(answer, passages), await self.relevancy(question, answer))

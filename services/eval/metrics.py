"""What an evaluation computes, from what the stack answered (pure: no network, no clock).

Per question (``Outcome`` in, ``Scores`` out):

* retrieval: the rank of the first search hit from an expected source → hit@1, hit@5, reciprocal
  rank (answerable questions whose words stand alone: not a conversation's later turns);
* ``fact``: every expected fact is in the answer (case-insensitive, whitespace-normalised, on word
  boundaries: "5 minutes" is not found in "15 minutes");
* ``cites``: a citation of the answer names an expected source;
* ``idk``: an unanswerable question was answered "I don't know" (and nothing else was);
* ``faithfulness`` / ``relevancy``: an LLM judge's grades (``services/eval/judge.py``), when one is
  configured, over the answers it judged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.eval.golden import KINDS, GoldenItem
from services.eval.judge import Judgement

# An answer that refuses, as it opens (a sorry first): "I don't know: nothing in the indexed documents
# answers that.", a model's "Sorry, I do not know." Not "If you don't know your password, ..." nor
# "The KX-014 lasts 12 hours. I don't know its price.", which answer.
DONT_KNOW = re.compile(
    r"^\W*(?:(?:i'm |i am )?sorry[,.!]?\s+(?:but\s+)?|unfortunately,?\s+)?"
    r"(?:i (?:don't|do not|can't|cannot) (?:know|say|answer|tell)|"
    r"(?:the|these) (?:passages|documents|sources) (?:don't|do not) (?:say|answer|contain|mention|cover)|"
    r"nothing in the (?:indexed )?documents)\b",
    re.I,
)
# What a metric counts, for a threshold on a run in which nothing counted towards it.
COUNTED = {
    "hit@1": "answerable first-turn questions",
    "hit@5": "answerable first-turn questions",
    "mrr": "answerable first-turn questions",
    "fact": "answerable questions",
    "cites": "answerable questions",
    "false_idk": "answerable questions",
    "idk": "unanswerable questions",
    "faithfulness": "answers graded by an LLM judge (configure an LLM)",
    "relevancy": "answers graded by an LLM judge (configure an LLM)",
}
METRICS = ("hit@1", "hit@5", "mrr", "fact", "cites", "idk", "errors", "faithfulness", "relevancy")


@dataclass
class Outcome:
    """What the stack did with one question."""

    answer: str = ""
    cited: list[str] = field(default_factory=list)  # source file of each citation, in order
    hits: list[str] = field(default_factory=list)  # source file of each search hit, best first
    seconds: float = 0.0
    error: str | None = None
    judgement: Judgement | None = None


@dataclass
class Scores:
    item: GoldenItem
    rank: int | None  # 1-based rank of the first hit from an expected source (None: not found/not asked)
    fact: bool
    cites: bool
    idk: bool  # answered "I don't know"
    seconds: float
    error: str | None = None
    answer: str = ""
    cited: list[str] = field(default_factory=list)
    faithfulness: float | None = None
    relevancy: float | None = None

    @property
    def ranked(self) -> bool:
        """Counts towards retrieval: answerable, and its words stand alone (not a later turn)."""
        return self.item.answerable and self.item.turn == 1


def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def contains(answer: str, fact: str) -> bool:
    """``fact`` occurs in ``answer`` on word boundaries (both normalised)."""
    text, wanted = normalise(answer), normalise(fact)
    if not wanted:
        return False
    left = r"\b" if wanted[0].isalnum() else ""
    right = r"\b" if wanted[-1].isalnum() else ""
    return re.search(left + re.escape(wanted) + right, text) is not None


def says_dont_know(answer: str) -> bool:
    """The answer refuses (it opens so; typographic apostrophes read as plain ones)."""
    return bool(DONT_KNOW.match(answer.replace("\u2019", "'")))


def first_rank(hits: Sequence[str], sources: Iterable[str]) -> int | None:
    wanted = set(sources)
    return next((i for i, hit in enumerate(hits, 1) if hit in wanted), None)


def score(item: GoldenItem, outcome: Outcome) -> Scores:
    idk = says_dont_know(outcome.answer)
    return Scores(
        item=item,
        rank=first_rank(outcome.hits, item.sources) if item.answerable else None,
        fact=item.answerable and not idk and all(contains(outcome.answer, f) for f in item.facts),
        cites=item.answerable and bool(set(outcome.cited) & set(item.sources)),
        idk=idk,
        seconds=outcome.seconds,
        error=outcome.error,
        answer=outcome.answer,
        cited=list(outcome.cited),
        faithfulness=outcome.judgement.faithfulness if outcome.judgement else None,
        relevancy=outcome.judgement.relevancy if outcome.judgement else None,
    )


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarise(scores: Sequence[Scores]) -> dict[str, float | None]:
    """Every metric over ``scores`` (None where no question counts towards it)."""
    ranked = [s for s in scores if s.ranked]
    answerable = [s for s in scores if s.item.answerable]
    unanswerable = [s for s in scores if not s.item.answerable]
    seconds = sorted(s.seconds for s in scores if s.error is None)
    return {
        "questions": len(scores),
        "hit@1": _mean([float(s.rank == 1) for s in ranked]),
        "hit@5": _mean([float(s.rank is not None and s.rank <= 5) for s in ranked]),
        "mrr": _mean([1 / s.rank if s.rank else 0.0 for s in ranked]),
        "fact": _mean([float(s.fact) for s in answerable]),
        "cites": _mean([float(s.cites) for s in answerable]),
        "idk": _mean([float(s.idk) for s in unanswerable]),
        "false_idk": _mean([float(s.idk) for s in answerable]),
        "errors": float(sum(s.error is not None for s in scores)),
        "p50_s": _nearest_rank(seconds, 0.50),
        "p95_s": _nearest_rank(seconds, 0.95),
        "faithfulness": _mean([s.faithfulness for s in scores if s.faithfulness is not None]),
        "relevancy": _mean([s.relevancy for s in scores if s.relevancy is not None]),
        "judged": float(sum(s.faithfulness is not None or s.relevancy is not None for s in scores)),
    }


def _nearest_rank(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted values by nearest rank: of 100, p95 is the 95th (not the 96th)."""
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 3) if ordered else None


def by_kind(scores: Sequence[Scores]) -> dict[str, dict[str, float | None]]:
    return {kind: summarise([s for s in scores if s.item.kind == kind]) for kind in KINDS}


def parse_threshold(text: str, option: str = "--min") -> tuple[str, float]:
    """``METRIC=VALUE`` (``--min fact=0.9``, ``--max false_idk=0.1``) → (metric, value); ValueError
    naming the metrics."""
    name, sep, value = text.partition("=")
    known = [*METRICS, "false_idk", "p50_s", "p95_s"]
    if not sep or name not in known:
        raise ValueError(f"{option} wants METRIC=VALUE with METRIC one of {', '.join(known)}; got {text!r}")
    return name, float(value)


def below(summary: dict[str, float | None], thresholds: Sequence[tuple[str, float]]) -> list[str]:
    """The minimums a run misses, as sentences (empty: it passes)."""
    missed = []
    for name, minimum in thresholds:
        got = summary.get(name)
        if got is None:
            missed.append(_uncounted(name))
        elif got < minimum:
            missed.append(f"{name} = {got} < {minimum}")
    return missed


def _uncounted(name: str) -> str:
    """A threshold on a metric nothing in the run counted towards fails, saying why: a gate that
    measured nothing has not passed."""
    return f"{name}: not measured: the run has no {COUNTED.get(name, 'answered questions')}"


def above(summary: dict[str, float | None], thresholds: Sequence[tuple[str, float]]) -> list[str]:
    """The maximums a run exceeds (false_idk, errors, latency), as sentences (empty: it passes)."""
    missed = []
    for name, maximum in thresholds:
        got = summary.get(name)
        if got is None:
            missed.append(_uncounted(name))
        elif got > maximum:
            missed.append(f"{name} = {got} > {maximum}")
    return missed

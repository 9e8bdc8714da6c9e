"""What the extractive answer reads a passage as: words, sentences, list items and table rows, each a
``Candidate`` with the heading it sits under, and how chosen sentences are cited.

Pure text functions, no model: ``answer.SentenceAnswerer`` scores the candidates, ``shapes`` says
what a question asks for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.common.messages import Citation, Passage

WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
PARAGRAPH = re.compile(r"\n\s*\n")
# Words a question shares with any sentence: they never make a sentence relevant.
_STOP = """a an and are as at be been by can could did do does for from had has have how i in into is it its
    me my of on or our so than that the their them then there these they this to was we were what when
    where which who whom whose why will with would you your about tell please show give find list"""
STOPWORDS = frozenset(_STOP.split())
# A sentence that starts like this leans on the one before it: quoted with it, never alone first.
CONTINUES = re.compile(
    r"^(?:it|its|this|that|these|those|they|them|such|there|here|also|otherwise|however|then|"
    r"in that case|bookings? made|if so|if not|except|unless)\b",
    re.I,
)
# A sentence that leans on the one before: it starts like that, or a possessive in its first words has
# nothing in the sentence to refer to ("After the acquisition its staff became ...").
LEANS = re.compile(CONTINUES.pattern + r"|^(?:[\w,-]+\s+){1,4}(?:its|their)\b", re.I)
NAMED = re.compile(r"\b[A-Z][\w-]*|(?<![\w.-])(?=[\w.-]*[\d_.])[A-Za-z][\w.-]*[A-Za-z0-9]")
# Identifiers: a token with a digit, or dotted/underscored names (KX-014, 2022, 5.0, fernlight.configure).
# The dot or underscore must join two parts: a word before a sentence's full stop is no identifier (it
# was: "I left my phone on the train. How quickly ..." asked the passages for "train").
IDENTIFIER = re.compile(
    r"(?<![\w.-])(?=[\w.-]*(?:\d|[._]\w))[A-Za-z0-9][\w.-]*[A-Za-z0-9]|(?<![\w.])\d(?![\w.])"
)
NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b")


def content_words(text: str) -> set[str]:
    """Content words, whole and lower-cased."""
    return {w for w in (w.lower() for w in WORD.findall(text)) if w not in STOPWORDS and len(w) > 2}


def terms(text: str) -> set[str]:
    """Content words, cut to six letters (booked/booking meet at "bookin", policy/policies at "polici")."""
    return {w[:6] for w in content_words(text)}


def stem(word: str) -> str:
    """A word with a plain English suffix cut ("owned", "owns" and "own" meet at "own")."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """Content words, lower-cased, each its ``stem``."""
    return {stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) >= 3}


def unanswered(query: str, chain: Sequence[Candidate]) -> set[str]:
    """The question's words that neither the chain's sentences nor their headings hold."""
    held: set[str] = set()
    for c in chain:
        held |= stems(f"{c.context} {c.text}")
    return stems(query) - held


def identifiers(text: str) -> set[str]:
    """The identifiers a text names, lower-cased, trailing dots and call parentheses dropped."""
    return {m.group(0).lower().rstrip(".") for m in IDENTIFIER.finditer(text)}


def proper_names(text: str) -> list[str]:
    """Runs of two or more capitalised words ("Orla Brennan", "Site Reliability"), a leading
    "The"/"This" dropped."""
    out = []
    for match in NAME.finditer(text):
        words = match.group(0).split()
        if words[0].lower() in STOPWORDS:
            words = words[1:]
        if len(words) >= 2:
            out.append(" ".join(words))
    return out


@dataclass(frozen=True)
class Candidate:
    rank: int  # the passage's rank in retrieval
    position: int  # the sentence's place in its passage
    text: str
    context: str  # the heading the sentence sits under (section, a label line or a table's header)
    semantic: float = 0.0  # cosine of the question's and the sentence's (with context) embeddings
    lexical: float = 0.0  # IDF-weighted share of the question's keywords in the sentence (context: half)
    shaped: bool = True  # holds what the question asks for (a quantity, code, a name), or it asks for none
    words: frozenset[int] = frozenset()  # the sentence's keyword ids (the keyword index's tokenizer)
    # Its heading holds what the question asks for and the sentence does not ("3.0.0" over "support for
    # Python 3.7 was dropped"): the heading is quoted with it.
    lead: bool = False

    def score(self, lexical_weight: float, shape_penalty: float, rank_step: float = 0.0) -> float:
        unshaped = 0.0 if self.shaped else shape_penalty
        return self.semantic + lexical_weight * self.lexical - unshaped - rank_step * self.rank


LIST_ITEM = re.compile(r"^(?:[-*•]|\d{1,2}[.)])\s+")


def _rows(paragraph: str) -> list[str]:
    """A paragraph as the units a reader would quote: table rows and list items one each (a wrapped
    item's lines joined), prose as one."""
    lines = [" ".join(line.split()) for line in paragraph.splitlines()]
    if sum(line.startswith("|") or line.count("|") >= 2 for line in lines) >= 2:
        return [line for line in lines if line and not re.fullmatch(r"[|:\- ]+", line)]
    if any(LIST_ITEM.match(line) for line in lines):
        units: list[str] = []
        for line in lines:
            if LIST_ITEM.match(line) or not units:
                units.append(LIST_ITEM.sub("", line))
            elif line:
                units[-1] = f"{units[-1]} {line}"
        return [u for u in units if u]
    text = " ".join(paragraph.split())
    return [text] if text else []


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def pairs(header: str, row: str) -> str | None:
    """A table row as its header reads it ("Severity: SEV1; Acknowledge within: 5 minutes"), so the
    row holds what its cells are (a row of bare cells embeds far from any question); None when the
    cells do not line up with the header's."""
    names, values = cells(header), cells(row)
    if len(names) != len(values) or not all(names):
        return None
    return "; ".join(f"{name}: {value}" for name, value in zip(names, values, strict=True) if value)


def candidates(passages: Sequence[Passage], max_passages: int) -> list[Candidate]:
    """Every sentence of the top passages, in order, with the heading it sits under. A table's first
    row is the context of its other rows; a short paragraph without an end mark (an option's
    signature, a label) is a candidate and the context of what follows it."""
    out: list[Candidate] = []
    for rank, passage in enumerate(passages[:max_passages]):
        section = passage.section or passage.title or ""
        context, header, position = section, "", 0
        for paragraph in PARAGRAPH.split(passage.text):
            for unit in _rows(paragraph):
                row = unit.count("|") >= 2
                label = row or (len(unit) <= 100 and not unit.endswith((".", "!", "?", ":")))
                if row and not header:
                    header = unit  # a table's header: context, not an answer
                    continue
                if not row:
                    header = ""
                where = f"{context} {header}".strip()
                if label and not row and len(unit.split()) < 4:
                    context = f"{section}: {unit}" if section else unit  # too short to answer anything
                    continue
                if row:
                    paired = pairs(header, unit)
                    if paired is not None:  # the row says what each cell is: its header is in it
                        unit, where = paired, context
                for sentence in [unit] if label else SENTENCE.split(unit):
                    out.append(Candidate(rank, position, sentence, where))
                    position += 1
                if label and not row:
                    context = f"{section}: {unit}" if section else unit
    return out


def cite(chosen: Sequence[tuple[int, str]], passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
    """The chosen (passage rank, sentence) pairs as one answer, each sentence cited [n] by passage."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts = []
    for rank, sentence in chosen:
        if rank not in numbers:
            numbers[rank] = len(numbers) + 1
            p = passages[rank]
            citations.append(
                Citation(
                    n=numbers[rank],
                    chunk_id=p.chunk_id,
                    doc_id=p.doc_id,
                    title=p.title,
                    source_uri=p.source_uri,
                    page=p.page,
                )
            )
        parts.append(f"{sentence} [{numbers[rank]}]")
    return " ".join(parts), citations

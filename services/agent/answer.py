"""Extractive answers (no LLM): the sentences of the retrieved passages that answer the question.

Two answerers share one contract, ``(query, passages) → (answer, citations)``:

* ``lexical_answer``, the first one and the fallback without an embedder: sentences that share at least
  half of the question's content words. It refuses questions asked in the user's own words ("book
  plane tickets" against "Flights must be booked") and quotes the neighbour of the answering sentence
  when that one shares more words.
* ``SentenceAnswerer``, the default: every sentence of the top passages is a candidate, scored by
  meaning (the cosine of its embedding, with its section heading, and the question's) plus the share
  of the question's content words it holds. The "I don't know" gate applies to the best candidate:
  its score must reach ``min_score``, and every identifier the question names (``KX-014``, ``2022``,
  ``5.0``, ``fernlight.configure``) must appear in what is quoted or in the heading it sits under;
  the corpus talking about something close is not an answer. The next sentence joins the answer when
  it continues the chosen one (it starts with "It", "This", "Bookings made later than that ...").

``bench/answers.py`` runs both on the bundled golden set, side by side; the weights and the gate
were set there (docs/architecture.md, "Answers").
"""

from __future__ import annotations

import math
import re
from array import array
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from services.common.messages import Citation, Passage

DONT_KNOW = "I don't know: nothing in the indexed documents answers that."
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
IDENTIFIER = re.compile(r"(?<![\w.-])(?=[\w.-]*[\d._])[A-Za-z0-9][\w.-]*[A-Za-z0-9]|(?<![\w.])\d(?![\w.])")
# What kind of answer a question wants, and what a sentence holding one looks like: a sentence without
# it is an unlikely answer ("How quickly must a page be acknowledged?" wants a duration).
QUANTITY = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"hundred|once|twice|half|quarter|daily|weekly|monthly|yearly|annually|hourly|first|last)\b",
    re.I,
)
CODE = re.compile(r"`|\w_\w|\w\.\w|\(\)|--\w")
WHO = re.compile(r"^\s*(?:and |but )?who\b", re.I)
NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b")
# A time is not always a number: "at dusk on Fridays", "every spring", "before noon".
WHEN = re.compile(
    QUANTITY.pattern + r"|\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekdays?|weekends?|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"spring|summer|autumn|winter|morning|afternoon|evening|night|dawn|dusk|noon|midnight|sunrise|"
    r"sunset|today|tomorrow|yesterday)\b",
    re.I,
)
MONEY = re.compile(
    r"[$€£¥]\s?\d|\b(?:EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|JPY|CAD|AUD)\s?\d|\d\s?(?:EUR|USD|GBP|CHF|euros?|"
    r"dollars?|pounds?|cents?)\b|\bfree\b",
    re.I,
)
DEFAULT = re.compile(r"\bdefaults?\b|\bunless\b|\bwhen (?:omitted|not set|unset)\b", re.I)
EXPECTS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # the asked-for value is stated as a default ("buffer_limit_mb (int, default 64)"), not an example
    (re.compile(r"\bdefault\b", re.I), DEFAULT),
    (
        re.compile(
            r"\bhow much\b.*\b(?:cost|charge|pay|price)|\bwhat (?:is|are) the (?:price|cost|fee)", re.I
        ),
        MONEY,
    ),
    (re.compile(r"\b(?:when|what (?:date|time|day))\b", re.I), WHEN),
    (
        re.compile(
            r"\b(?:how (?:many|much|long|often|quickly|far|old|big|large|soon|fast)|what year|"
            r"(?:which|what)(?: \w+)? (?:version|release)|"
            r"(?:the )?(?:default|minimum|maximum|limit|price|cost|length|size|number)\b)",
            re.I,
        ),
        QUANTITY,
    ),
    (
        re.compile(
            r"\b(?:which|what) (?:option|setting|flag|parameter|argument|command|function|method)\b", re.I
        ),
        CODE,
    ),
    (WHO, NAME),
)

# A question that asks about something named through something else: "the team that owns X".
CHAIN = re.compile(
    r"\b(?:team|office|company|person|product|city|group|department|library|service|one)\s+"
    r"(?:that|which|where|who|whose)\b|\w's\s+(?:team|office|company|manager|lead|product|department)\b",
    re.I,
)

Vector = list[float]
Embed = Callable[[list[str]], Awaitable[list[Vector]]]
Keywords = Callable[[str], frozenset[int]]
Answerer = Callable[[str, Sequence[Passage]], Awaitable[tuple[str, list[Citation]]]]


def terms(text: str) -> set[str]:
    """Content words, cut to six letters (booked/booking meet at "bookin", policy/policies at "polici")."""
    return {w.lower()[:6] for w in WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 2}


def stems(text: str) -> set[str]:
    """Content words with a plain English suffix cut ("owned", "owns" and "own" meet at "own")."""
    out = set()
    for word in WORD.findall(text.lower()):
        if word in STOPWORDS or len(word) < 3:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        out.add(word)
    return out


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


def expected(query: str) -> re.Pattern[str] | None:
    """What an answering sentence holds for this question (a quantity, code, a name), if it says."""
    return next((shape for asks, shape in EXPECTS if asks.search(query)), None)


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


def lexical_answer(
    query: str, passages: Sequence[Passage], max_sentences: int = 3
) -> tuple[str, list[Citation]]:
    """The sentences sharing the most of the query's content words (at least half of them)."""
    wanted = terms(query)
    if not wanted or not passages:
        return DONT_KNOW, []
    need = max(1, (len(wanted) + 1) // 2)
    scored: list[tuple[int, int, int, str]] = []
    for rank, passage in enumerate(passages):
        for position, sentence in enumerate(SENTENCE.split(passage.text)):
            overlap = len(wanted & terms(sentence))
            if overlap >= need:
                scored.append((-overlap, rank, position, sentence.strip()))
    if not scored:
        return DONT_KNOW, []
    scored.sort()
    chosen: list[tuple[int, str]] = []
    seen: set[str] = set()
    for _, rank, _, sentence in scored:
        if sentence not in seen:
            seen.add(sentence)
            chosen.append((rank, sentence))
        if len(chosen) == max_sentences:
            break
    return cite(chosen, passages)


@dataclass
class SentenceAnswerer:
    """Scores candidate sentences by meaning and words; see the module's docstring."""

    embed: Embed
    keywords: Keywords
    max_passages: int = 7  # retrieval's five, and two more from a chained question's second search
    lexical_weight: float = 0.35
    shape_penalty: float = 0.15
    rank_step: float = 0.03  # retrieval's order counts a little: a sentence of passage n loses 0.03 n
    min_score: float = 0.5
    # Sentences after the best one are quoted while they score at least this share of the best.
    keep_ratio: float = 0.9
    max_sentences: int = 2
    max_hops: int = 2  # bridges a chained question may follow ("the office of X's team": team, office)
    # The next sentence joins when it takes up the chosen one's words and scores at least this share.
    neighbour_ratio: float = 0.75
    # Whether a text names a person (the entity extractor): what a "who" question wants. Without it,
    # two capitalised words in a row count, which teams and products also are.
    person: Callable[[str], bool] | None = None
    _memory: OrderedDict[str, array[float]] = field(default_factory=OrderedDict, repr=False)
    MEMORY: ClassVar[int] = 8192  # 1.5 kB each for 384 dimensions

    async def score(self, query: str, passages: Sequence[Passage]) -> list[Candidate]:
        """The candidates with their scores, best first."""
        found = candidates(passages, self.max_passages)
        wanted = self.keywords(query)
        if not found:
            return []
        texts = [f"{c.context}: {c.text}" if c.context else c.text for c in found]
        [q, *vectors] = await self.vectors([query, *texts])
        words = [self.keywords(c.text) for c in found]
        around = [self.keywords(c.context) for c in found]
        # A keyword most candidates share ("Fernlight" on Fernlight's pages) tells them apart least.
        n = len(found)
        idf = {k: math.log(1 + (n - df + 0.5) / (df + 0.5)) for k in wanted
               for df in [sum(k in w for w in words)]}  # fmt: skip
        total = sum(idf.values())
        shape = expected(query)
        holds = self.holds(shape)
        # What the question asks for is new: "Python 3.7" does not answer "which version dropped 3.7?".
        own = [re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", re.I) for name in identifiers(query)]

        def holds_new(text: str) -> bool:
            for name in own:
                text = name.sub(" ", text)
            return holds(text)

        # One matrix product for every candidate's cosine (unit vectors), not a Python loop per float.
        cosines = np.asarray(vectors, dtype=np.float32) @ np.asarray(q, dtype=np.float32)
        scored = []
        for c, cosine, have, ctx in zip(found, cosines.tolist(), words, around, strict=True):
            hit = sum(idf[k] * (1.0 if k in have else 0.5 if k in ctx else 0.0) for k in wanted)
            shaped = holds_new(c.text)
            # a value in the heading (a version, a date), never a name: headings are full of names
            lead = not shaped and shape not in (None, NAME) and bool(c.context) and holds_new(c.context)
            scored.append(
                Candidate(
                    c.rank,
                    c.position,
                    c.text,
                    c.context,
                    semantic=cosine,
                    lexical=hit / total if total else 0.0,
                    shaped=shaped or lead,
                    words=have,
                    lead=lead,
                )
            )
        scored.sort(key=lambda c: (-self.value(c), c.rank, c.position))
        return scored

    async def vectors(self, texts: list[str]) -> list[Sequence[float]]:
        """Embeddings of ``texts``; the same passages come back for many questions, so their
        sentences' vectors are remembered (float32, the last ``MEMORY`` texts)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memory))
        found = dict(zip(missing, await self.embed(missing), strict=True)) if missing else {}
        out: list[Sequence[float]] = []
        for text in texts:
            if text in found:
                self._memory[text] = array("f", found[text])
            else:
                self._memory.move_to_end(text)
            out.append(self._memory[text])
        while len(self._memory) > self.MEMORY:
            self._memory.popitem(last=False)
        return out

    def holds(self, shape: re.Pattern[str] | None) -> Callable[[str], bool]:
        """The test a sentence passes when it holds what the question asks for."""
        if shape is None:
            return lambda text: True
        if shape is NAME and self.person is not None:
            return self.person
        return lambda text: bool(shape.search(text))

    def value(self, c: Candidate) -> float:
        return c.score(self.lexical_weight, self.shape_penalty, self.rank_step)

    @staticmethod
    def named_in(query: str, passages: Sequence[Passage]) -> bool:
        """Whether every identifier the question names appears in the retrieved passages: asked about
        ``KX-023`` or ``Fernlight 5.0``, passages about KX-013 and 4.1 do not answer."""
        text = " ".join(f"{p.title} {p.section or ''} {p.text}" for p in passages).lower()
        for name in identifiers(query):
            # a version or code must appear as asked; a dotted name also by its last part (flush())
            if name not in text and (any(ch.isdigit() for ch in name) or name.split(".")[-1] not in text):
                return False
        return True

    def names(self, text: str) -> frozenset[int]:
        """The keywords of what a sentence names (capitalised words, identifiers): what a chain's next
        link must mention, where "leads" or "team" would match any sentence of a directory."""
        return self.keywords(" ".join(NAMED.findall(text)))

    def bridge(self, query: str, chain: Sequence[Candidate], scored: Sequence[Candidate]) -> Candidate | None:
        """For a question that chains ("who leads the team that owns X?"): the best candidate that names
        what the chain so far introduced (the team) and holds what the question asks for, preferring
        the one that holds the question's words the chain has not (the second hop: "office manager"
        after "the Insight team is based in Montreal")."""
        asked = self.keywords(query)
        earlier: set[int] = set()
        for c in chain[:-1]:
            earlier |= c.words
        new = self.names(chain[-1].text) - asked - earlier
        rest = unanswered(query, chain)
        if not new or (len(chain) > 1 and not rest):
            return None
        best_bridge: tuple[tuple[int, float], Candidate] | None = None
        for c in scored:
            if c in chain:
                continue
            shared = len(c.words & new)
            held = len(stems(f"{c.context} {c.text}") & rest)
            if not shared or not c.shaped or (len(chain) > 1 and not held):
                continue
            # what the question still asks first (a directory row naming the team but not its product
            # loses to "Marrowgate is owned by the Insight team"), then score and the link's share
            value = (held, self.value(c) + self.lexical_weight * shared / len(new))
            if best_bridge is None or value > best_bridge[0]:
                best_bridge = (value, c)
        return best_bridge[1] if best_bridge else None

    def chain(self, query: str, scored: Sequence[Candidate]) -> list[Candidate]:
        """The best candidate and the bridges that follow from it (up to ``max_hops``)."""
        links = [scored[0]]
        while len(links) < self.max_hops + 1:
            bridge = self.bridge(query, links, scored)
            if bridge is None:
                break
            links.append(bridge)
        return links

    async def next_hop(self, query: str, passages: Sequence[Passage]) -> str | None:
        """For a chained question whose passages name the link ("the Tessel sensor line is owned by the
        Edge Devices team") but not what the question asks of it (who leads that team): what to search
        for next, the link's names and the question's words the passages left unanswered. None when
        the question does not chain or the passages answer it."""
        if not CHAIN.search(query):
            return None
        scored = await self.score(query, passages[: self.max_passages])
        if not scored:
            return None
        links = self.chain(query, scored)
        asked = self.keywords(query)
        left = unanswered(query, links)
        rest = [w for w in WORD.findall(query) if stems(w) & left]
        # the first link's names: a later bridge may be a weak one (a directory row naming a city too)
        names = [n for n in NAMED.findall(links[0].text) if self.keywords(n) - asked]
        if not rest or not names:
            return None
        return " ".join(dict.fromkeys([*names, *rest]))

    async def __call__(self, query: str, passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
        top = passages[: self.max_passages]
        if not top or not self.named_in(query, top):
            return DONT_KNOW, []
        scored = await self.score(query, top)
        chain = bool(CHAIN.search(query))
        # What the question asks for must be in the answer: "who" is answered by a sentence naming a
        # person. A chained question's first sentence names the link; the bridge holds the answer.
        eligible = scored if chain else [c for c in scored if c.shaped]
        if not eligible or self.value(eligible[0]) < self.min_score:
            return DONT_KNOW, []
        best = eligible[0]
        floor = self.value(best) * self.keep_ratio
        picked = [best]
        for c in eligible[1:]:
            if len(picked) == self.max_sentences or self.value(c) < floor:
                break
            if c.text not in {p.text for p in picked}:
                picked.append(c)
        if chain:
            links = self.chain(query, scored)
            if len(links) > 1:
                picked = links
        return cite(self.quoted(query, picked, scored), passages)

    def quoted(
        self, query: str, picked: Sequence[Candidate], scored: Sequence[Candidate]
    ) -> list[tuple[int, str]]:
        """The picked sentences as quoted, each with the neighbours it needs: the sentence before one
        that leans on it ("After the acquisition its staff ..."), the sentence after that continues it
        ("It ...", or one that takes up its words and scores near it: "Carried-over days must be taken
        by 31 March" after "5 days may be carried over"), and the heading that holds the asked-for value."""
        by_place = {(c.rank, c.position): c for c in scored}
        asked = terms(query)
        chosen: list[tuple[int, str]] = []

        def add(c: Candidate) -> None:
            text = f"{c.context}: {c.text}" if c.lead else c.text
            if all(t != text and t != c.text for _, t in chosen):
                chosen.append((c.rank, text))

        for c in picked:
            before = by_place.get((c.rank, c.position - 1))
            if before is not None and LEANS.match(c.text):
                add(before)
            add(c)
            after = by_place.get((c.rank, c.position + 1))
            if after is None:
                continue
            cohesive = (terms(after.text) & terms(c.text)) - asked
            if CONTINUES.match(after.text) or (
                cohesive and after.shaped and self.value(after) >= self.neighbour_ratio * self.value(c)
            ):
                add(after)
        return chosen

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
  the corpus talking about something close is not an answer. Neighbours join where the chosen
  sentence needs them (it leans on the one before, or the next one continues or completes it), and a
  chained question follows bridges, or asks for a second search (``next_hop``) when its passages name
  the link but nothing more about it.

What a passage is read as (sentences, rows, candidates) is in ``sentences``; what a question asks for
(a quantity, a price, a person; whether it chains) in ``shapes``; what it names that an answer must
name too (acronyms, names, codes) in ``naming``.

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
from pathlib import PurePosixPath
from typing import ClassVar
from urllib.parse import unquote

import numpy as np

from services.agent.naming import Asked, acronyms, names_asked, names_held, spelled_out
from services.agent.sentences import (
    CONTINUES,
    LEANS,
    NAME,
    NAMED,
    SENTENCE,
    WORD,
    Candidate,
    candidates,
    cite,
    content_words,
    identifiers,
    stems,
    terms,
    unanswered,
)
from services.agent.shapes import CHAIN, asked_thing, expected
from services.common.messages import Citation, Passage

DONT_KNOW = "I don't know: nothing in the indexed documents answers that."
Vector = list[float]
Embed = Callable[[list[str]], Awaitable[list[Vector]]]
Keywords = Callable[[str], frozenset[int]]
Answerer = Callable[[str, Sequence[Passage]], Awaitable[tuple[str, list[Citation]]]]


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


def file_words(uri: str) -> str:
    """The words of a document's file name ("file:///docs/fernlight-cli.txt": "fernlight cli")."""
    return re.sub(r"[-_.]+", " ", PurePosixPath(unquote(uri.split("?")[0].split("#")[0])).stem)


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
    # A word means what a yes/no question asks about when their embeddings are this close: "gym" and
    # "fitness" 0.74, "parking" and "garage" 0.55; "car" and "business" 0.46 (MiniLM, single words).
    same_thing: float = 0.5
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
        names_it = await self.names_thing(query, found)
        scored = []
        for c, cosine, have, ctx, named in zip(found, cosines.tolist(), words, around, names_it, strict=True):
            hit = sum(idf[k] * (1.0 if k in have else 0.5 if k in ctx else 0.0) for k in wanted)
            shaped = holds_new(c.text) and named
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

    async def names_thing(self, query: str, found: Sequence[Candidate]) -> list[bool]:
        """For a yes/no question about whether something is there or given: which candidates name it,
        by its word or by one whose embedding is within ``same_thing`` of it ("Is there a gym?" and
        "the fitness room"). "Is there car parking at the Rotterdam office?" is not answered by "The
        office manager in Rotterdam is Joris Mertens". All of them for other questions."""
        thing = asked_thing(query)
        if thing is None:
            return [True] * len(found)
        own = [content_words(f"{c.context} {c.text}") for c in found]
        vocabulary = sorted(set().union(*own) - {thing})
        close: set[str] = set()
        if vocabulary:
            [want, *near] = await self.vectors([thing, *vocabulary])
            sims = np.asarray(near, dtype=np.float32) @ np.asarray(want, dtype=np.float32)
            close = {w for w, sim in zip(vocabulary, sims.tolist(), strict=True) if sim >= self.same_thing}
        stem = stems(thing)
        return [bool(words & close) or bool(stems(" ".join(words)) & stem) for words in own]

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
        ``KX-023`` or ``Fernlight 5.0``, passages about KX-013 and 4.1 do not answer; asked about a
        ``GPU``, passages that never say it, nor "graphics processing unit", do not either; asked about
        the Data Science team, passages that never name it do not. A document's file name counts as
        its words: the fernlight CLI is what ``fernlight-cli.txt`` is about though its text says
        "command-line tool"."""
        text = " ".join(f"{p.title} {file_words(p.source_uri)} {p.section or ''} {p.text}" for p in passages)
        # an acronym is a name too ("GPU acceleration" is not answered by pages that never say GPU)
        if not all(spelled_out(a, text) for a in acronyms(query)):
            return False
        text = text.lower()
        # a name too: "the Data Science team" is not answered by pages about other teams
        if not names_held(names_asked(query), text):
            return False
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
        asked = Asked(query)

        def fits(c: Candidate) -> bool:
            # "chief technology officer" does not answer who the chief marketing officer is; "the
            # operating range of the Tessel Vibe" is not answered by a sentence about the KX-011
            if asked.swaps_a_word(c.text):
                return False
            return chain or not asked.about_another(f"{c.context} {c.text}")

        # read in score order, as far as the answer goes: a candidate's rules cost ~0.1 ms
        eligible = (c for c in (scored if chain else (c for c in scored if c.shaped)) if fits(c))
        best = next(eligible, None)
        if best is None or self.value(best) < self.min_score:
            return DONT_KNOW, []
        floor = self.value(best) * self.keep_ratio
        picked = [best]
        for c in eligible:
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

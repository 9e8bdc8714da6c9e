"""Knowledge-graph extraction from text: the port, its result type, and an offline rule extractor.

``GraphExtractor`` is the port: ``extract(text) -> Extraction``. ``RuleExtractor`` implements it
with deterministic English rules and bundled word lists (no model, no network). A model-backed
extractor implements the same port by asking for JSON that follows ``EXTRACTION_JSON_SCHEMA`` and
passing it to ``Extraction.from_dict``, which validates and normalises it exactly as the rules'
output is normalised (``Extraction.build``).

How ``RuleExtractor`` works, per text:

1. Tokenise once; split sentences on terminal punctuation (abbreviation-aware), blank lines,
   headings and short lines (a long line broken without punctuation is a wrapped paragraph).
2. Per sentence, collect capitalised phrases (allowing "of", "de", "&", initials, "St.", trailing
   model numbers), skipping stopwords, months, weekdays and job titles, and type each phrase from
   its own words: organisation suffixes/heads, the place gazetteer, given names, personal titles,
   model-like names with digits. Lower-case concepts come from definitional sentences.
3. Render each sentence as a skeleton (``«3» is headquartered in «4»``) and run cue patterns that
   type untyped phrases by context ("launched X", "based in X", "X, the CEO of ...").
4. Propagate types across the text (same name, surname or short company name), then run relation
   patterns; a pattern may type an untyped endpoint when the slot makes its kind clear.
5. Remaining typed pairs in one sentence become ``RELATES_TO`` (nearest first, capped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from services.extract_graph import gazetteer as gz
from services.stores.ports import (
    ENTITY_LABELS,
    RELATION_TYPES,
    Entity,
    EntityLabel,
    Relation,
    RelationType,
)

__all__ = [
    "EXTRACTION_JSON_SCHEMA",
    "Extraction",
    "GraphExtractor",
    "RuleExtractor",
    "normalize_name",
]

# --------------------------------------------------------------------------------------------
# The port and its result
# --------------------------------------------------------------------------------------------

_TRAILING_PUNCT = ".,;:!?\"'’”“)]}"
_LEADING_PUNCT = "\"'’”“([{"


@lru_cache(maxsize=65536)
def normalize_name(name: str) -> str:
    """Collapse whitespace, strip surrounding quotes/punctuation and a possessive ``'s``."""
    out = " ".join(name.split()).lstrip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)
    if out.endswith(("'s", "’s")):
        out = out[:-2]
    return out.rstrip(_TRAILING_PUNCT + " ")


def _ekey(entity: Entity) -> tuple[str, str]:
    return (gz.key(entity.name), entity.label)


@dataclass(frozen=True, slots=True)
class Extraction:
    """Entities and relations found in one text; every relation endpoint is in ``entities``."""

    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()

    @classmethod
    def build(cls, entities: Iterable[Entity], relations: Iterable[Relation] = ()) -> Extraction:
        """Normalise names, drop unknown labels/types and self-loops, dedupe (case-insensitively,
        first spelling wins) and add relation endpoints missing from ``entities``."""
        canon: dict[tuple[str, str], Entity] = {}

        def add(entity: Entity) -> Entity | None:
            name = normalize_name(entity.name)
            if not name or entity.label not in ENTITY_LABELS:
                return None
            ent = Entity(name, entity.label)
            return canon.setdefault(_ekey(ent), ent)

        for entity in entities:
            add(entity)
        rels: dict[tuple[tuple[str, str], str, tuple[str, str]], Relation] = {}
        for rel in relations:
            if rel.type not in RELATION_TYPES:
                continue
            src, tgt = add(rel.source), add(rel.target)
            if src is None or tgt is None or _ekey(src) == _ekey(tgt):
                continue
            rels.setdefault((_ekey(src), rel.type, _ekey(tgt)), Relation(src, rel.type, tgt))
        return cls(tuple(canon.values()), tuple(rels.values()))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Extraction:
        """Read the ``EXTRACTION_JSON_SCHEMA`` shape (e.g. a model's guided-JSON answer).

        Relations name their endpoints; a name resolves to the entity of that name (with
        ``source_label``/``target_label`` to disambiguate). Malformed items are dropped, not raised.
        """
        entities: list[Entity] = []
        by_name: dict[str, list[Entity]] = {}
        for item in data.get("entities") or ():
            if not isinstance(item, Mapping):
                continue
            name, label = item.get("name"), item.get("label")
            if isinstance(name, str) and label in ENTITY_LABELS and normalize_name(name):
                ent = Entity(normalize_name(name), label)
                entities.append(ent)
                by_name.setdefault(gz.key(ent.name), []).append(ent)

        def resolve(name: Any, label: Any) -> Entity | None:
            if not isinstance(name, str):
                return None
            found = by_name.get(gz.key(normalize_name(name)), [])
            if label in ENTITY_LABELS:
                found = [e for e in found if e.label == label] or [Entity(normalize_name(name), label)]
            return found[0] if found else None

        relations: list[Relation] = []
        for item in data.get("relations") or ():
            if not isinstance(item, Mapping) or item.get("type") not in RELATION_TYPES:
                continue
            src = resolve(item.get("source"), item.get("source_label"))
            tgt = resolve(item.get("target"), item.get("target_label"))
            if src is not None and tgt is not None:
                relations.append(Relation(src, item["type"], tgt))
        return cls.build(entities, relations)

    def to_dict(self) -> dict[str, Any]:
        """The ``EXTRACTION_JSON_SCHEMA`` shape; ``from_dict(to_dict())`` round-trips."""
        return {
            "entities": [{"name": e.name, "label": e.label} for e in self.entities],
            "relations": [
                {
                    "source": r.source.name,
                    "source_label": r.source.label,
                    "type": r.type,
                    "target": r.target.name,
                    "target_label": r.target.label,
                }
                for r in self.relations
            ],
        }


# JSON Schema for guided decoding by a model-backed extractor; ``Extraction.from_dict`` reads it.
EXTRACTION_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entities", "relations"],
    "properties": {
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "label"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "label": {"enum": list(ENTITY_LABELS)},
                },
            },
        },
        "relations": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["source", "type", "target"],
                "properties": {
                    "source": {"type": "string", "minLength": 1},
                    "source_label": {"enum": list(ENTITY_LABELS)},
                    "type": {"enum": list(RELATION_TYPES)},
                    "target": {"type": "string", "minLength": 1},
                    "target_label": {"enum": list(ENTITY_LABELS)},
                },
            },
        },
    },
}


@runtime_checkable
class GraphExtractor(Protocol):
    """Turns one chunk of text into typed entities and relations (labels/types from ``ports``)."""

    def extract(self, text: str) -> Extraction: ...


# --------------------------------------------------------------------------------------------
# Word classes
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\w+(?:[-'’.&]\w+)*['’]?|[^\w\s]")
_NUMBER_RE = re.compile(r"\d{1,4}(?:\.\d+)*[A-Za-z]{0,3}")
_YEAR_RE = re.compile(r"(?:1[89]|20)\d\d")
_WORDLIKE_RE = re.compile(r"[A-Za-z][A-Za-z-]*")
_CAMEL_RE = re.compile(r"[a-z][A-Z][a-z]")

_CONNECTORS = frozenset({"of", "de", "&", "van", "von", "der", "den", "del", "da", "di", "du"})
_SENT_END = frozenset({".", "!", "?"})
_CLOSERS = frozenset({'"', "'", "”", "’", ")", "]"})
_OPENERS = frozenset({'"', "“", "‘", "("})
_BULLETS = frozenset({"-", "*", "•", "▪", "◦", "–", "—"})
_NO_SPLIT_AFTER = frozenset(
    {t.lower() for t in gz.TITLES}
    | {"st", "mt", "ft", "no", "nos", "vol", "fig", "figs", "vs", "approx"}
    | {"gen", "sen", "rep", "gov", "lt", "col", "sgt", "capt", "hon", "e.g", "i.e", "cf", "al"}
)
_SOFT_SPLIT_AFTER = frozenset(
    {"inc", "corp", "ltd", "co", "llc", "plc", "jr", "sr", "bros", "u.s", "u.k", "etc", "d.c", "s.a"}
)
_JOIN_DOT = frozenset({"St", "Mt", "Ft", "Jr", "Sr"})
_ABBREV_DOT = frozenset({"Inc", "Corp", "Ltd", "Co", "Jr", "Sr", "Bros", "Mfg", "Intl"})
_LOCATION_SPLIT_SUFFIXES = frozenset({"based", "headquartered"})
_ARTICLES = frozenset({"a", "an", "the"})
_STOP_BREAK = gz.STOPWORDS - gz.NAME_INNER_WORDS
_BREAK_EXACT = gz.ROLE_WORDS | gz.MONTHS | gz.WEEKDAYS | gz.TITLES
_PERSON_STARTS = gz.GIVEN_NAMES | gz.FAMILY_FIRST
_NOT_PERSON_LAST = gz.ORG_SUFFIXES | gz.NON_PERSON_LAST | gz.PLACE_SUFFIXES | gz.ROLE_WORDS
_ORG_WORDS = gz.ORG_SUFFIXES | gz.ORG_HEADS
_CONTAINER_SUFFIXES = frozenset({"County", "Province", "Prefecture"})
_CONCEPT_CUES = gz.CONCEPT_NOUNS | gz.PART_NOUNS | gz.KIND_NOUNS

_MAX_NAME_WORDS = 6
_WRAP_WIDTH = 40  # a line at least this long, broken without punctuation, is a wrapped paragraph
_MAX_RELATES_PER_SENTENCE = 3


def _is_cap(tok: str) -> bool:
    first = tok[0]
    return first.isupper() or (first.islower() and _CAMEL_RE.match(tok) is not None)


def _breaks(tok: str) -> bool:
    """A capitalised token that never sits inside a name (stopword, month, job title...)."""
    if tok in _BREAK_EXACT:
        return True
    return tok.lower() in _STOP_BREAK and not (len(tok) > 1 and tok.isupper())


@lru_cache(maxsize=131072)
def _name_word(tok: str) -> bool:
    """A capitalised word that may be part of a name."""
    return _is_cap(tok) and not _breaks(tok)


def _is_possessive(tok: str) -> bool:
    return tok.endswith(("'s", "’s", "'", "’"))


def _strip_possessive(tok: str) -> str:
    if tok.endswith(("'s", "’s")):
        return tok[:-2]
    return tok.rstrip("'’")


def _is_number(tok: str) -> bool:
    return _NUMBER_RE.fullmatch(tok) is not None and _YEAR_RE.fullmatch(tok) is None


def _personish(words: list[str]) -> bool:
    """Shape of a person's name: 2-4 capitalised words, no digits, no organisation/place ending."""
    if not 2 <= len(words) <= 4 or words[-1] in _NOT_PERSON_LAST:
        return False
    for k, w in enumerate(words):
        if not w[0].isupper() or any(c.isdigit() for c in w):
            return False
        if len(w) > 1 and w.isupper() and (len(w) > 2 or k == len(words) - 1):
            return False  # an acronym, though "RJ Scaringe" has initials first
        if w in _BREAK_EXACT or w in _ORG_WORDS:
            return False
    return gz.key(" ".join(words)) not in gz.PLACES


# --------------------------------------------------------------------------------------------
# Sentences and mentions
# --------------------------------------------------------------------------------------------


class _Mention:
    __slots__ = ("i", "initial", "j", "key", "kind", "label", "name", "possessive", "words")

    def __init__(self, i: int, j: int, name: str, words: list[str], initial: bool, possessive: bool):
        self.i, self.j = i, j
        self.name = name
        self.key = gz.key(name)
        self.words = words  # content words, connectors and dots removed
        self.initial = initial
        self.possessive = possessive
        self.label: EntityLabel | None = None
        self.kind: str | None = None  # gazetteer kind for locations

    def can_be(self, label: EntityLabel) -> bool:
        if self.label is not None:
            return self.label == label
        has_digit = any(c.isdigit() for w in self.words for c in w)
        if label == "Person":
            return _personish(self.words)
        if label == "Location":
            return len(self.words) <= 4 and not has_digit
        return label in ("Organization", "Product")


class _Sentence:
    """One sentence: its tokens with offsets into the whole ``text``, then its mentions."""

    __slots__ = ("ends", "explicit", "first", "mentions", "nl", "skeleton", "starts", "text", "toks", "words")

    def __init__(self, text: str, toks: list[str], starts: list[int], ends: list[int], nl: list[bool]):
        self.text, self.toks, self.starts, self.ends, self.nl = text, toks, starts, ends, nl
        self.first = next((k for k, t in enumerate(toks) if t[0].isalnum()), len(toks))
        self.mentions: list[_Mention] = []
        self.skeleton = ""
        self.words: frozenset[str] = frozenset()
        self.explicit: list[tuple[_Mention, RelationType, _Mention]] = []


def _tokenize(text: str) -> tuple[list[str], list[int], list[int]]:
    found = list(_TOKEN_RE.finditer(text))
    toks = [m.group() for m in found]
    starts = [m.start() for m in found]
    ends = [m.end() for m in found]
    if "-based" not in text and "-headquartered" not in text:
        return toks, starts, ends
    # "Berlin-based" -> "Berlin", "-based"
    for k in range(len(toks) - 1, -1, -1):
        tok = toks[k]
        dash = tok.rfind("-")
        if dash > 0 and tok[0].isupper() and tok[dash + 1 :].lower() in _LOCATION_SPLIT_SUFFIXES:
            toks[k : k + 1] = [tok[:dash], tok[dash:].lower()]
            starts[k : k + 1] = [starts[k], starts[k] + dash]
            ends[k : k + 1] = [starts[k] + dash, ends[k]]
    return toks, starts, ends


_BOUNDARY_PREV = _SENT_END | _CLOSERS


def _split_sentences(text: str) -> list[_Sentence]:
    toks, starts, ends = _tokenize(text)
    n = len(toks)
    nl = [False] * n  # a line break before token k that no name may span
    bounds: list[int] = []
    has_newlines = "\n" in text
    for k in range(1, n):
        if has_newlines and ends[k - 1] != starts[k]:
            gap = text[ends[k - 1] : starts[k]]
            if "\n" in gap:
                line_start = text.rfind("\n", 0, ends[k - 1]) + 1
                line = text[line_start : ends[k - 1]].lstrip()
                # a long line before a single line break is a wrapped paragraph: keep going
                wrapped = gap.count("\n") == 1 and len(line) >= _WRAP_WIDTH and line[0] != "#"
                if wrapped and toks[k] not in _BULLETS and toks[k] != "#":
                    continue
                # otherwise (blank line, heading, list item, short line) the sentence ends here
                nl[k] = True
                bounds.append(k)
                continue
        prev = toks[k - 1]
        if prev not in _BOUNDARY_PREV:
            continue
        if prev in _CLOSERS and k >= 2:
            prev = toks[k - 2]
        if prev not in _SENT_END or ends[k - 1] == starts[k]:
            continue
        nxt = toks[k]
        if not (nxt[0].isupper() or nxt[0].isdigit() or nxt in _OPENERS):
            continue
        if prev == ".":
            dot_at = k - 1 if toks[k - 1] == "." else k - 2
            word = toks[dot_at - 1] if dot_at > 0 and ends[dot_at - 1] == starts[dot_at] else ""
            low = word.lower()
            if low in _NO_SPLIT_AFTER or (len(word) == 1 and word.isupper()):
                continue
            if low in _SOFT_SPLIT_AFTER and nxt.lower() not in gz.STOPWORDS:
                continue
        bounds.append(k)
    sentences: list[_Sentence] = []
    lo = 0
    for hi in [*bounds, n]:
        if hi > lo:
            sentences.append(
                _Sentence(text, toks[lo:hi], starts[lo:hi], ends[lo:hi], [False, *nl[lo + 1 : hi]])
            )
        lo = hi
    return sentences


class _Vocab:
    """Words of the whole text that help judge one sentence, computed on first use."""

    __slots__ = ("_lower", "_midcap", "_sentences")

    def __init__(self, sentences: list[_Sentence]) -> None:
        self._sentences = sentences
        self._lower: set[str] | None = None
        self._midcap: set[str] | None = None

    @property
    def lower(self) -> set[str]:
        """Words seen in lower case (so a capitalised sentence opener is a common word)."""
        if self._lower is None:
            self._lower = {t for s in self._sentences for t in s.toks if t.islower()}
        return self._lower

    @property
    def midcap(self) -> set[str]:
        """Capitalised words seen inside a sentence (so they are names, not concepts)."""
        if self._midcap is None:
            self._midcap = {
                t for s in self._sentences for k, t in enumerate(s.toks) if k != s.first and t[0].isupper()
            }
        return self._midcap


def _common(words: list[str], vocab: _Vocab) -> bool:
    """All words also appear in lower case in the text: a Title Case heading, not a name."""
    return all(w.lower() in vocab.lower for w in words)


def _classify(m: _Mention, raw: list[str], title: bool, vocab: _Vocab, whole: bool = False) -> None:
    """Type a phrase from its own words (an untyped "X of Y" is then split by the caller).

    ``whole``: the phrase is the entire sentence (a heading or list item, not running text).
    """
    words = m.words
    first, last = words[0], words[-1]
    if "of" in raw:
        head = raw[: raw.index("of")]
        if any(w in _ORG_WORDS for w in head):
            m.label = "Organization"
        elif m.key in gz.PLACES:
            m.label, m.kind = "Location", gz.PLACES[m.key]
        return
    if len(words) >= 2 and (
        last in gz.LEGAL_SUFFIXES
        or (last in gz.ORG_SUFFIXES and not _common(words[:-1], vocab))
        or (first in gz.ORG_HEADS and not _common(words[1:], vocab))
    ):
        m.label = "Organization"
    elif title:
        m.label = "Person" if len(words) <= 4 and not any(c.isdigit() for c in m.name) else None
    elif m.key in gz.PLACES:
        m.label, m.kind = "Location", gz.PLACES[m.key]
    elif len(words) >= 2 and (last in gz.PLACE_SUFFIXES or first in gz.PLACE_PREFIXES):
        m.label, m.kind = "Location", "region" if last in _CONTAINER_SUFFIXES else "city"
    elif first in _PERSON_STARTS and _personish(words):
        m.label = "Person"
    elif raw.count("&") == 1 and len(raw) == 3 and not whole and not _common(words, vocab):
        m.label = "Organization"  # "Johnson & Johnson", not "Releases & Versioning"
    elif len(words) >= 2 and first not in gz.NON_PRODUCT_HEADS and first.replace("-", "").isalpha():
        for k in range(1, len(words)):
            w = words[k]
            if (
                any(c.isdigit() for c in w)
                and words[k - 1] not in gz.NON_PRODUCT_HEADS
                and w.split("-")[0] not in gz.NON_PRODUCT_HEADS
            ):
                m.label = "Product"
                break


def _make(s: _Sentence, i: int, j: int, initial: bool) -> _Mention | None:
    raw = s.toks[i:j]
    possessive = _is_possessive(raw[-1])
    if possessive:
        raw = [*raw[:-1], _strip_possessive(raw[-1])]
    words = [w for w in raw if w not in _CONNECTORS and w not in {".", ",", "the"}]
    if not words or len(words) > _MAX_NAME_WORDS:
        return None
    name = normalize_name(s.text[s.starts[i] : s.ends[j - 1]])
    if not name:
        return None
    return _Mention(i, j, name, words, initial, possessive)


def _typed_parts(s: _Sentence, lo: int, hi: int, initial: bool, title: bool, vocab: _Vocab) -> list[_Mention]:
    """Type the phrase toks[lo:hi]; an untyped "X of Y" ("Jane Doe of the University of Oxford")
    is split at its first "of" and both sides typed on their own."""
    if lo < hi and s.toks[lo] == "the":
        lo += 1
    m = _make(s, lo, hi, initial) if lo < hi else None
    if m is None:
        return []
    raw = s.toks[lo:hi]
    whole = lo == s.first and not any(t[0].isalnum() for t in s.toks[hi:])
    _classify(m, raw, title, vocab, whole)
    if m.label is not None or "of" not in raw:
        return [m]
    cut = lo + raw.index("of")
    return _typed_parts(s, lo, cut, initial, title, vocab) + _typed_parts(s, cut + 1, hi, False, False, vocab)


def _opener(word: str, vocab: _Vocab) -> bool:
    """A capitalised common word at the start of a sentence ("Founded", "Finally", "Results")."""
    return (len(word) >= 5 and word.endswith(("ed", "ly"))) or word.lower() in vocab.lower


def _phrases(s: _Sentence, vocab: _Vocab) -> list[_Mention]:
    """Capitalised phrases of one sentence, typed from their own words."""
    toks, nl, n, ends = s.toks, s.nl, len(s.toks), s.ends
    out: list[_Mention] = []
    if s.first < n and toks[0] == "#":
        return out  # a Markdown heading
    i = 0
    while i < n:
        tok = toks[i]
        title = False
        if tok in gz.TITLES:
            k = i + 1 + (i + 1 < n and toks[i + 1] == ".")
            if k < n and _name_word(toks[k]):
                title, start = True, k
            else:
                i += 1
                continue
        elif _name_word(tok) and not (i == s.first and tok.lower() in gz.OPENER_VERBS):
            start = i
        else:
            i += 1
            continue
        j = start + 1
        while j < n and not nl[j] and not _is_possessive(toks[j - 1]):
            t = toks[j]
            nxt = toks[j + 1] if j + 1 < n and not nl[j + 1] else ""
            initial_dot = t == "." and (
                (len(toks[j - 1]) == 1 and toks[j - 1].isupper()) or toks[j - 1] in _JOIN_DOT
            )
            if _name_word(t):
                j += 1
            elif (initial_dot or t in _CONNECTORS) and nxt and _name_word(nxt):
                j += 2  # "John F. Kennedy", "St. Louis", "Bank of America", "Procter & Gamble"
            elif t == "of" and nxt == "the" and j + 2 < n and _name_word(toks[j + 2]):
                j += 3
            elif t == "," and nxt in gz.COMMA_SUFFIXES:
                j += 2
            elif _is_number(t) and not toks[j - 1][0].isdigit() and nxt not in {"%", "percent"}:
                j += 1
            else:
                break
        if j + 1 < n and toks[j] == "." and toks[j - 1] in _ABBREV_DOT and ends[j - 1] == s.starts[j]:
            j += 1  # "Acme Inc. launched ...": the abbreviation's dot belongs to the name
        parts = _typed_parts(s, start, j, start == s.first, title, vocab)
        if (
            start == s.first
            and len(parts) == 1
            and j - start >= 2
            and _name_word(toks[start + 1])
            and _opener(toks[start], vocab)
        ):
            # "Drop Python 3.7 support", "Update Acme Corp": a capitalised verb opens the sentence
            rest = _typed_parts(s, start + 1, j, False, False, vocab)
            if len(rest) == 1 and rest[0].label is not None:
                parts = rest
        out += parts
        i = j
    kept = []
    for m in out:
        if m.label is None and len(m.words) == 1:
            w = m.words[0]
            if w in _ORG_WORDS or w in gz.PLACE_SUFFIXES or w in gz.DEMONYMS:
                continue  # a lone suffix word or a nationality adjective
            if m.initial and _opener(w, vocab):
                continue  # a common word (or "Founded", "Finally") capitalised at sentence start
        if m.j < len(s.toks) and s.toks[m.j] == "$" and s.ends[m.j - 1] == s.starts[m.j]:
            continue  # "US$13 billion"
        kept.append(m)
    return kept


# --------------------------------------------------------------------------------------------
# Concepts: "X is a technique ...", "X is a subfield of Y", "X is part of Y" (X lower-case)
# --------------------------------------------------------------------------------------------


def _concept_np(toks: list[str], lo: int, hi: int, sentence_initial: bool, vocab: _Vocab) -> str | None:
    """Lower-case noun phrase of 1-4 words (first word may be capitalised at sentence start)."""
    words = toks[lo:hi]
    if not 1 <= len(words) <= 4:
        return None
    out = []
    for k, w in enumerate(words):
        if not _WORDLIKE_RE.fullmatch(w) or w.lower() in gz.STOPWORDS:
            return None
        if w.islower() or (len(w) > 1 and w.isupper()):
            out.append(w)
        elif k == 0 and sentence_initial and w[1:].islower():
            if w in _PERSON_STARTS or gz.key(w) in gz.PLACES or w in _ORG_WORDS or w in vocab.midcap:
                return None
            out.append(w.lower())
        else:
            return None
    return " ".join(out)


def _concepts(s: _Sentence, vocab: _Vocab) -> None:
    """Find a definitional sentence and add Concept mentions (and PART_OF/RELATES_TO) to it."""
    toks, n = s.toks, len(s.toks)
    lo = s.first
    if lo < n and toks[lo].lower() in _ARTICLES:
        lo += 1
    be = next((k for k in range(lo, min(n, lo + 5)) if toks[k] in ("is", "are")), -1)
    if be <= lo:
        return
    # the subject may not overlap a typed proper-noun mention
    if any(m.label is not None and m.i < be and m.j > lo for m in s.mentions):
        return
    x_name = _concept_np(toks, lo, be, lo == s.first, vocab)
    if x_name is None:
        return
    p = be + 1
    if p < n and toks[p].lower() in {"a", "an", "the", "one"}:
        p += 1
    noun_at = -1
    for k in range(p, min(n, p + 3)):
        low = toks[k].lower()
        if low in _CONCEPT_CUES:
            noun_at = k
            break
        if not toks[k].islower() or not _WORDLIKE_RE.fullmatch(toks[k]) or low in gz.STOPWORDS:
            return
    if noun_at < 0:
        return
    noun = toks[noun_at].lower()
    has_of = noun_at + 1 < n and toks[noun_at + 1] == "of"
    if noun not in gz.CONCEPT_NOUNS and not has_of:
        return
    y: _Mention | None = None
    if (has_of and noun not in gz.CONCEPT_NOUNS) or noun in {"subfield", "sub-field", "subdiscipline"}:
        r = noun_at + 2 if has_of else n
        if r < n and toks[r].lower() in _ARTICLES:
            r += 1
        proper = next((m for m in s.mentions if m.i == r), None)
        if proper is not None:
            if x_name[0].isupper() or (len(x_name.split()) == 1 and toks[lo][0].isupper()):
                return  # "Acme is part of Foo Group": leave proper names to the relation rules
            y = proper if proper.label is not None else None
        elif r < n:
            end = r
            while end < n and end - r < 4 and toks[end].islower() and _WORDLIKE_RE.fullmatch(toks[end]):
                if toks[end] in gz.STOPWORDS or (end > r and toks[end].endswith("ed") and len(toks[end]) > 4):
                    break
                end += 1
            nxt = toks[end] if end < n else "."
            stop_ok = not nxt[0].isalnum() or nxt.lower() in gz.STOPWORDS or nxt.endswith("ed")
            y_name = _concept_np(toks, r, end, False, vocab) if end > r and stop_ok else None
            if y_name is not None:
                y = _Mention(r, end, y_name, toks[r:end], False, False)
                y.label = "Concept"
    if y is None and noun not in gz.CONCEPT_NOUNS:
        return  # "X is part of <something unclear>": not enough to call X a concept
    x = _Mention(lo, be, x_name, toks[lo:be], lo == s.first, False)
    x.label = "Concept"
    added = [x] if y is None or y.label != "Concept" else [x, y]
    s.mentions = [m for m in s.mentions if not any(m.i < a.j and a.i < m.j for a in added)]
    s.mentions.extend(added)
    s.mentions.sort(key=lambda m: m.i)
    if y is not None:
        rel: RelationType = "RELATES_TO" if noun in gz.KIND_NOUNS else "PART_OF"
        s.explicit.append((x, rel, y))


# --------------------------------------------------------------------------------------------
# Skeleton patterns
# --------------------------------------------------------------------------------------------


def _alt(words: Iterable[str]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"


_MACROS = {
    "{S}": r"«(?P<s>\d+)»",
    "{T}": r"«(?P<t>\d+)»",
    "{E}": r"«\d+»",
    "{MORE}": r"(?P<more>(?: (?:,|and|, and|&|or) «\d+»)*)",
    # an appositive between a subject and its verb: "Jane Doe, the CEO of Acme, lives in ..."
    "{APPOS}": r"(?:, [^,;]{1,80}? , )?",
    "{BE}": r"(?:is|was|are|were|has been|had been|have been|will be|became|becomes|has become|"
    r"remains|remained)",
    "{ADV}": r"(?:(?:currently|now|still|also|previously|formerly|recently|later|then|once|already|"
    r"reportedly|officially|originally) )?",
    "{DET}": r"(?:(?:the|a|an|its|their|his|her|our) )?",
    # up to three lower-case modifiers, commas allowed: "a high-level , general-purpose"
    "{ADJ}": r"(?:(?:[a-z][a-z-]*|«\d+» -based) (?:, )?){0,3}?",
    "{ROLES}": r"{MOD}{ROLE}(?: (?:and|&|,) {MOD}{ROLE})*",
    "{MOD}": r"(?:(?:senior|junior|lead|chief|principal|staff|former|current|new|founding|managing|"
    r"executive|general|deputy|assistant|associate|vice|interim|acting|regional|global|technical|"
    r"software|research|data|product|marketing|sales|engineering|finance|financial|operating|"
    r"technology|security|design|hardware|legal|communications|policy|program|project|investment|"
    r"commercial|medical|scientific|creative|editorial|digital|information|ai|ml|head|first|longtime|"
    r"long-time|veteran|top) )*",
    "{ROLE}": r"(?:co-?founder|cofounder|founder|ceo|cto|cfo|coo|cio|cmo|cso|cpo|ciso|vp|svp|evp|"
    r"vice president|president|chairman|chairwoman|chairperson|chair|director|head|manager|engineer|"
    r"scientist|researcher|analyst|developer|designer|architect|consultant|partner|employee|"
    r"professor|lecturer|economist|lawyer|attorney|counsel|editor|reporter|correspondent|"
    r"spokesperson|spokesman|spokeswoman|officer|executive|lead|owner|intern|strategist|advisor|"
    r"adviser|treasurer|secretary|fellow|staffer|chief [a-z]+ officer|general manager|"
    r"managing director|managing partner|board member|programmer|technician|specialist|"
    r"coordinator|administrator|accountant|auditor|trader|banker|recruiter|physician|surgeon)",
    "{PMOD}": r"(?:(?:new|latest|next-generation|next-gen|updated|first|flagship|upcoming|"
    r"long-awaited|redesigned|open-source|free|second|third|own|popular|original) )*",
    "{PRODUCT}": _alt(gz.PRODUCT_NOUNS),
    "{ORGNOUN}": r"(?:company|firm|startup|start-up|organization|organisation|business|bank|university|"
    r"college|lab|laboratory|manufacturer|maker|provider|vendor|developer|group|agency|nonprofit|"
    r"non-profit|charity|retailer|institute|school|hospital|publisher|studio|conglomerate|"
    r"consultancy|insurer|airline|carrier|operator|supplier|distributor|club|ministry|foundation|"
    r"society|association|unicorn|lender|chain|museum|corporation|enterprise)",
    "{PLACENOUN}": r"(?:city|cities|town|village|capital|region|province|state|country|suburb|district|"
    r"municipality|port|island|county|neighbourhood|neighborhood|borough|area|commune|prefecture|"
    r"metropolis|hub|territory|emirate|canton)",
}


def _rx(pattern: str) -> re.Pattern[str]:
    for _ in range(3):  # macros may contain macros
        for name, body in _MACROS.items():
            pattern = pattern.replace(name, body)
    return re.compile(pattern)


@dataclass(frozen=True, slots=True)
class _Rule:
    """A skeleton pattern with slots ``s`` (source) and, for relations, ``t`` (target).

    A slot accepts mentions already typed with one of its labels, or an untyped mention that can
    take ``default`` (``None``: untyped mentions never fit; ``"same"``: take the other slot's label).
    """

    rx: re.Pattern[str]
    gate: frozenset[str]  # cheap pre-check: skeleton words the pattern cannot match without
    rel: RelationType | None
    src: tuple[EntityLabel, ...]
    src_default: str | None
    tgt: tuple[EntityLabel, ...] = ()
    tgt_default: str | None = None
    coordinated: bool = False  # "A and B work at C": A gets the relation too


def _rule(
    pattern: str,
    needs: str,
    rel: RelationType | None,
    src: str,
    src_default: str | None,
    tgt: str = "",
    tgt_default: str | None = None,
    coordinated: bool = False,
) -> _Rule:
    return _Rule(
        _rx(pattern),
        frozenset(needs.split()),
        rel,
        tuple(src.split()),  # type: ignore[arg-type]
        src_default,
        tuple(tgt.split()),  # type: ignore[arg-type]
        tgt_default,
        coordinated,
    )


_P, _O, _L, _PR = "Person", "Organization", "Location", "Product"
_BE_T = "is was are were be been became becomes become remains remained"
_LAUNCH_T = (
    "launched launches released releases unveiled unveils introduced introduces debuted debuts shipped "
    "ships rolled rolls"
)
_PRODUCT_T = " ".join(w.split()[-1] for w in gz.PRODUCT_NOUNS)
_ROLE_T = (
    "ceo cto cfo coo cio cmo cso cpo ciso vp svp evp president chairman chairwoman chairperson chair "
    "director head manager engineer scientist researcher analyst developer designer architect "
    "consultant partner employee professor lecturer economist lawyer attorney counsel editor reporter "
    "correspondent spokesperson spokesman spokeswoman officer executive lead owner intern strategist "
    "advisor adviser treasurer secretary fellow staffer member programmer technician specialist "
    "coordinator administrator accountant auditor trader banker recruiter physician surgeon founder "
    "co-founder cofounder minister governor mayor senator chancellor ambassador commissioner author "
    "writer novelist actor actress singer artist player coach journalist dr mr mrs ms"
)
_ANY = "Organization Product Location Concept"

# Context cues that type an untyped mention (no relation).
_TYPING_RULES: tuple[_Rule, ...] = (
    _rule(
        r"(?:the|its|their|our|his|her|a|an|new|latest) {PMOD}{S} {PRODUCT}(?= |$)",
        _PRODUCT_T,
        None,
        _PR,
        _PR,
    ),
    _rule(
        r"(?:launched|launches|released|releases|unveiled|unveils|introduced|introduces|debuted|debuts|"
        r"shipped|ships|rolled out|rolls out) {DET}{PMOD}{S}",
        _LAUNCH_T,
        None,
        _PR,
        _PR,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the) {ADJ}{PRODUCT}(?=$| [,.;:!?)]| (?:for|that|which|from|by|of|"
        r"made|developed|built|designed|used|with|to|and|available|sold|launched|released|aimed|"
        r"targeted|created|powered|running|written|based)\b)",
        _BE_T,
        None,
        _PR,
        _PR,
    ),
    _rule(
        r"(?:{ROLES}|minister|prime minister|governor|mayor|senator|chancellor|ambassador|commissioner|"
        r"author|writer|novelist|actor|actress|singer|artist|player|coach|journalist|dr|mr|mrs|ms) "
        r"(?:, )?{S}",
        _ROLE_T,
        None,
        _P,
        _P,
    ),
    _rule(r"{S} , {DET}(?:(?:{E}|[a-z]+) 's )?{ROLES}(?= |$)", _ROLE_T, None, _P, _P),
    _rule(
        r"(?:(?:based|headquartered|located|situated|born|raised|incorporated) (?:in|at|out of)"
        r"|(?:lives|lived|resides|resided|living|settled|grew up) in|emigrated to"
        r"|(?:offices?|campus|headquarters|hq|plant|factory|facility|branch|stores?|warehouse) (?:in|at)"
        r"|(?:city|town|village|state|province|capital|region) of) (?:the )?{S}{MORE}",
        "based headquartered located situated born raised incorporated lives lived resides resided living "
        "settled grew emigrated office offices campus headquarters hq plant factory facility branch store "
        "stores warehouse city town village state province capital region",
        None,
        _L,
        _L,
    ),
    _rule(r"{S} -(?:based|headquartered) {ADJ}{ORGNOUN}", "-based -headquartered", None, _L, _L),
    _rule(
        r"(?:held|took place|takes place|arrived|landed|stationed|stayed|met|died|opened (?:a|an|its|their) "
        r"(?:new |first |second )?(?:office|store|factory|plant|campus|branch|hub|headquarters|facility)) "
        r"(?:here )?in (?:the )?{S}{MORE}",
        "held took takes arrived landed stationed stayed met died opened",
        None,
        _L,
        _L,
    ),
)

_RELATION_RULES: tuple[_Rule, ...] = (
    # WORKS_FOR
    _rule(
        r"{S} {APPOS}(?:, |\( )?(?:who |which )?{ADV}(?:works|worked|working|work|has worked|had worked|"
        r"is working|was working|has been working|will work) (?:full-time |part-time |remotely |closely "
        r"|mainly |primarily )?(?:for|at) (?:the )?{T}",
        "works worked working work",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
        True,
    ),
    _rule(
        r"{S} (?:, |{BE} |, who is |, who was |(?:serves|served|serving|works|worked|working|acts|acted) "
        r"as |joined as ){DET}{ROLES}(?: (?:of|for|in) (?:[a-z]+|{E})(?: [a-z]+)?)?(?: ,)? "
        r"(?:of|at|for|with) (?:the )?{T}",
        _ROLE_T,
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(r"{T} (?:'s )?{ROLES} (?:, )?{S}", _ROLE_T, "WORKS_FOR", _P, _P, _O, _O),
    _rule(r"{S} (?:, )?of (?:the )?{T}", "of", "WORKS_FOR", _P, None, _O, None),
    _rule(r"{S} , {T} (?:'s )?{ROLES}(?= |$)", _ROLE_T, "WORKS_FOR", _P, _P, _O, _O),
    _rule(
        r"{S} {APPOS}(?:has |had |have |recently |officially |later )?(?:joined|joins|join|rejoined) "
        r"(?:the )?{T}",
        "joined joins join rejoined",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
        True,
    ),
    _rule(
        r"{T} {APPOS}(?:has |had |have |recently )?(?:hired|hires|appointed|appoints|named|names|recruited|"
        r"recruits|employs|employed|promoted|promotes|poached|taps|tapped) (?:{DET}{ROLES} |former "
        r"{ROLES} )?{S}{MORE}",
        "hired hires appointed appoints named names recruited recruits employs employed promoted promotes "
        "poached taps tapped",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:employed|hired|appointed|recruited|named|promoted|poached|tapped) "
        r"(?:as {DET}{ROLES} )?by (?:the )?{T}",
        "by",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"^(?:co-?founded|cofounded|founded|started|established|created|led|run|headed) by "
        r"{S}{MORE}(?: (?:in|during) \d+)? , {T}",
        "by",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:, )?(?:which |that )?(?:{BE} |, )?{ADV}(?:co-?founded|cofounded|founded|started|"
        r"established|created|led|run|headed) by {S}{MORE}",
        "by",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"{S} {APPOS}(?:co-?founded|cofounded|founded|leads|led|runs|ran|heads|headed|manages|managed|chairs|"
        r"chaired|directs|directed) (?:the )?{T}",
        "co-founded cofounded founded leads led runs ran heads headed manages managed chairs chaired "
        "directs directed",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
        True,
    ),
    # LOCATED_IN
    _rule(
        r"{S} {APPOS}(?:, (?:(?:which|that|who) {BE} )?|\( |{BE} )?{ADV}(?:based|headquartered|"
        r"incorporated|registered|domiciled|founded|established|set up) (?:in \d+ (?:, )?)?(?:in|at|out of) "
        r"(?:the )?(?:city of |town of |state of |province of )?{T}",
        "based headquartered incorporated registered domiciled founded established set",
        "LOCATED_IN",
        "Organization Person Location Product",
        _O,
        _L,
        _L,
        True,
    ),
    _rule(
        r"{S} {APPOS}(?:, (?:(?:which|that|who) {BE} )?|\( |{BE} )?{ADV}(?:located|situated|found|sited) "
        r"(?:in|at|on|near) (?:the )?(?:city of |town of |state of |province of )?{T}",
        "located situated found sited",
        "LOCATED_IN",
        "Organization Person Location Product",
        _L,
        _L,
        _L,
        True,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the|one of the) {ADJ}{ORGNOUN}s? (?:(?:based|headquartered|"
        r"located) )?(?:in|from) (?:the )?{T}",
        _BE_T,
        "LOCATED_IN",
        _O,
        _O,
        _L,
        _L,
    ),
    _rule(
        r"{S} {APPOS}{ADV}(?:has |have |had )?(?:lives|lived|resides|resided|is living|was living|settled|"
        r"grew up|emigrated|has lived) (?:back )?(?:in|to) (?:the )?{T}",
        "lives lived resides resided living settled grew emigrated",
        "LOCATED_IN",
        "Person Organization",
        _P,
        _L,
        _L,
        True,
    ),
    _rule(
        r"{S} {APPOS}{ADV}(?:has |have |had )?(?:relocated|moved|is moving|was moving) (?:back )?(?:in|to) "
        r"(?:the )?{T}",
        "relocated moved moving",
        "LOCATED_IN",
        "Person Organization",
        None,
        _L,
        None,
        True,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the|one of the) {ADJ}{PLACENOUN} (?:[a-z-]+ ){0,2}?(?:in|of|on) "
        r"(?:the )?{T}",
        _BE_T,
        "LOCATED_IN",
        _L,
        _L,
        _L,
        _L,
    ),
    _rule(r"{T} -headquartered (?:[a-z-]+ ){0,2}?{S}", "-headquartered", "LOCATED_IN", _O, _O, _L, _L),
    _rule(r"{T} -based (?:[a-z-]+ ){0,2}?{S}", "-based", "LOCATED_IN", _O, _O, _L, None),
    _rule(r"{S} , (?:a|an|the) {T} -headquartered", "-headquartered", "LOCATED_IN", _O, _O, _L, _L),
    _rule(r"{S} , (?:a|an|the) {T} -based", "-based", "LOCATED_IN", _O, _O, _L, None),
    # PART_OF
    _rule(
        r"{S} (?:, )?(?:which |that )?{BE} (?:now |also |still |officially )?(?:a |an |the )?"
        r"(?:[a-z-]+ ){0,2}?part of (?:the )?{T}",
        "part",
        "PART_OF",
        _ANY,
        "same",
        _ANY,
        "same",
    ),
    _rule(
        r"{S} (?:, |\( )?(?:which |that )?(?:{BE} |operates as |, )?(?:now |also |still |officially )?"
        r"(?:a|an|the) (?:[a-z-]+ ){0,2}?(?:division|subsidiary|unit|arm|branch|department|affiliate|"
        r"spin-off|spinoff|spin-out|business unit|sister company|imprint|label|lab|laboratory|"
        r"research lab|research arm|subdivision|entity|agency|office) of (?:the )?{T}",
        "of",
        "PART_OF",
        "Organization Product",
        _O,
        _O,
        _O,
    ),
    _rule(
        r"{S} (?:, )?(?:{BE} )?(?:a|an|the) (?:[a-z-]+ ){0,2}?(?:product|brand|offering) (?:of|from|by|"
        r"made by|developed by|built by) (?:the )?{T}",
        "product brand offering",
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:has |had |have |recently |officially |quietly )?(?:launched|launches|released|releases|"
        r"unveiled|unveils|introduced|introduces|debuted|debuts|shipped|ships|rolled out|rolls out) "
        r"{DET}{PMOD}{S}",
        _LAUNCH_T,
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:has |had |have |recently |officially )?(?:announced|announces) {DET}{PMOD}{S}",
        "announced announces",
        "PART_OF",
        _PR,
        None,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:made|developed|built|manufactured|produced|created|designed|sold|marketed|"
        r"offered|published|maintained|launched|released) by (?:the )?{T}",
        "by",
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the) {ADJ}{PRODUCT} (?:(?:that|which) (?:is|was) )?{ADV}(?:made|developed|"
        r"built|manufactured|produced|created|designed|sold|offered|published|maintained) by (?:the )?{T}",
        "by",
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:owned|operated|run|controlled) by (?:the )?{T}",
        "by",
        "PART_OF",
        "Organization Product",
        _O,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:has |had |have |recently |officially )?(?:(?:agreed|agrees|plans|is set|was set|moved|"
        r"moves|offered|offers) to |will )?(?:acquired|acquires|acquire|bought|buys|buy|purchased|"
        r"purchases|purchase|took over|takes over|take over|absorbed|absorbs) (?:the )?(?:[a-z-]+ ){0,2}?{S}",
        "acquired acquires acquire bought buys buy purchased purchases purchase took takes take absorbed "
        "absorbs",
        "PART_OF",
        _O,
        _O,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:acquired|bought|purchased|taken over|absorbed) by (?:the )?{T}",
        "by",
        "PART_OF",
        _O,
        _O,
        _O,
        _O,
    ),
)

_RULES_BY_WORD: dict[str, tuple[int, ...]] = {}
for _k, _r in enumerate(_RELATION_RULES):
    for _w in _r.gate:
        _RULES_BY_WORD[_w] = (*_RULES_BY_WORD.get(_w, ()), _k)


def _assign(m: _Mention, label: EntityLabel | None) -> None:
    """Type a mention by context; a place typed this way counts as a city."""
    if label is not None and m.label is None:
        m.label = label
        if label == "Location" and m.kind is None:
            m.kind = "city"


# "in Springfield, Illinois": a city (or untyped name after a place preposition) then a region.
_PLACE_PAIR_RX = re.compile(
    r"(?:(?P<p>in|from|near|at|outside|to|of|across|around|throughout) )?«(?P<s>\d+)» , «(?P<t>\d+)»"
)
_COORD_TAIL_RX = re.compile(r"(?:«\d+» (?:, and |, |and |& ))+$")
_PLACEHOLDER_RX = re.compile(r"«(\d+)»")
_ACRONYM_RX = re.compile(r"«(\d+)» \( «(\d+)» \)")


# --------------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------------


class RuleExtractor:
    """Deterministic, offline ``GraphExtractor``: English rules plus bundled word lists.

    Precision over recall: a capitalised phrase becomes an entity only when its words or its
    context give it a type, and relations need an explicit cue (or share a sentence: RELATES_TO).
    """

    def __init__(self, max_relates_per_sentence: int = _MAX_RELATES_PER_SENTENCE) -> None:
        self.max_relates_per_sentence = max_relates_per_sentence

    def extract(self, text: str) -> Extraction:
        if not text or not any(c.isupper() for c in text):
            return Extraction()
        sentences = _split_sentences(text)
        vocab = _Vocab(sentences)
        for s in sentences:
            s.mentions = _phrases(s, vocab)
            _concepts(s, vocab)
            s.skeleton = self._skeleton(s)
            s.words = frozenset(s.skeleton.split())
            self._type_by_context(s)

        names, _ = self._propagate(sentences, {})
        relations: dict[tuple[str, str, str, str, str], tuple[_Mention, RelationType, _Mention]] = {}
        todo = [s for s in sentences if len(s.mentions) >= 2]
        for _ in range(2):  # a second round revisits sentences typed by the first round's slots
            for s in todo:
                for rel in s.explicit:
                    self._keep(relations, *rel)
                for k in sorted({k for w in s.words & _RULES_BY_WORD.keys() for k in _RULES_BY_WORD[w]}):
                    self._apply(s, _RELATION_RULES[k], relations)
            names, changed = self._propagate(sentences, names)
            todo = [s for s in changed if len(s.mentions) >= 2]
            if not todo:
                break

        explicit_pairs = {frozenset((a.key, b.key)) for a, _, b in relations.values()}
        relates: list[Relation] = []
        for s in sentences:
            relates += self._relates_to(s, explicit_pairs)

        entities = [Entity(m.name, m.label) for s in sentences for m in s.mentions if m.label]
        found = [
            Relation(Entity(a.name, a.label), r, Entity(b.name, b.label))  # type: ignore[arg-type]
            for a, r, b in relations.values()
        ]
        return Extraction.build(entities, found + relates)

    # -- per sentence ------------------------------------------------------------------------

    @staticmethod
    def _skeleton(s: _Sentence) -> str:
        starts = {m.i: (k, m) for k, m in enumerate(s.mentions)}
        parts: list[str] = []
        k = 0
        n = len(s.toks)
        while k < n:
            hit = starts.get(k)
            if hit is None:
                parts.append(s.toks[k].lower())
                k += 1
                continue
            idx, m = hit
            parts.append(f"«{idx}»")
            if m.possessive:
                parts.append("'s")
            k = m.j
        return " ".join(parts)

    @staticmethod
    def _fit(
        m: _Mention, allowed: tuple[EntityLabel, ...], default: str | None, other: EntityLabel | None
    ) -> EntityLabel | None:
        """The label ``m`` takes in a slot: its own if allowed, else the slot's default if it can
        take it (``"same"``: the other endpoint's label), else None (the slot does not fit)."""
        if m.label is not None:
            return m.label if m.label in allowed else None
        label = other if default == "same" else default
        for candidate in allowed:
            if candidate == label and m.can_be(candidate):
                return candidate
        return None

    def _type_by_context(self, s: _Sentence) -> None:
        if not s.mentions:
            return
        sk = s.skeleton
        words = s.words
        for rule in _TYPING_RULES:
            if rule.gate.isdisjoint(words):
                continue
            for match in rule.rx.finditer(sk):
                targets = [int(match.group("s"))]
                if "more" in rule.rx.groupindex and match.group("more"):
                    targets += [int(x) for x in _PLACEHOLDER_RX.findall(match.group("more"))]
                for idx in targets:
                    m = s.mentions[idx]
                    if m.label is None:
                        _assign(m, self._fit(m, rule.src, rule.src_default, None))
        for match in _PLACE_PAIR_RX.finditer(sk):
            a, b = s.mentions[int(match.group("s"))], s.mentions[int(match.group("t"))]
            if b.label != _L or b.kind not in ("region", "country"):
                continue
            if a.label is None and match.group("p") and a.can_be(_L):
                _assign(a, _L)
            if a.label == _L and (a.kind == "city" or (a.kind == "region" and b.kind == "country")):
                s.explicit.append((a, "LOCATED_IN", b))

    def _apply(self, s: _Sentence, rule: _Rule, out: dict[Any, Any]) -> None:
        sk = s.skeleton
        for match in rule.rx.finditer(sk):
            src, tgt = s.mentions[int(match.group("s"))], s.mentions[int(match.group("t"))]
            if src is tgt or src.key == tgt.key or rule.rel is None:
                continue
            tgt_label = self._fit(tgt, rule.tgt, rule.tgt_default, src.label)
            src_label = self._fit(src, rule.src, rule.src_default, tgt_label)
            if tgt_label is None or src_label is None:
                continue
            _assign(tgt, tgt_label)
            _assign(src, src_label)
            self._keep(out, src, rule.rel, tgt)
            # coordinated sources: "A and B work at C", "founded by A and B"
            extra: list[str] = []
            if rule.coordinated:
                tail = _COORD_TAIL_RX.search(sk, 0, match.start())
                extra += _PLACEHOLDER_RX.findall(tail.group()) if tail else ()
            if "more" in rule.rx.groupindex and match.group("more"):
                extra += _PLACEHOLDER_RX.findall(match.group("more"))
            for idx in extra:
                other = s.mentions[int(idx)]
                label = self._fit(other, rule.src, rule.src_default, tgt_label)
                if other is not tgt and label is not None:
                    _assign(other, label)
                    self._keep(out, other, rule.rel, tgt)

    @staticmethod
    def _keep(out: dict[Any, Any], a: _Mention, rel: RelationType, b: _Mention) -> None:
        if a.label and b.label and a.key != b.key:
            out.setdefault((a.key, a.label, rel, b.key, b.label), (a, rel, b))

    def _relates_to(self, s: _Sentence, explicit: set[frozenset[str]]) -> list[Relation]:
        seen: dict[str, _Mention] = {}
        for m in s.mentions:
            if m.label is not None:
                seen.setdefault(m.key, m)
        typed = list(seen.values())
        pairs = [
            (b.i - a.j, k, a, b)
            for k, (a, b) in enumerate((a, b) for x, a in enumerate(typed) for b in typed[x + 1 :])
            if frozenset((a.key, b.key)) not in explicit
        ]
        pairs.sort(key=lambda p: (p[0], p[1]))
        return [
            Relation(Entity(a.name, a.label), "RELATES_TO", Entity(b.name, b.label))  # type: ignore[arg-type]
            for _, _, a, b in pairs[: self.max_relates_per_sentence]
        ]

    # -- across sentences ----------------------------------------------------------------------

    @staticmethod
    def _propagate(
        sentences: list[_Sentence], names: dict[str, tuple[str, str]]
    ) -> tuple[dict[str, tuple[str, str]], list[_Sentence]]:
        """Give untyped mentions the type (and full name) of a typed mention they name.

        ``names`` maps a key to (label, canonical name): the same name typed elsewhere, a person's
        surname ("Smith" after "Jane Smith"), a company's name without its legal suffix ("Acme"
        after "Acme Corp"). Ambiguous short forms are left alone. Also returns the sentences
        in which some mention was typed.
        """
        names = dict(names)
        short: dict[str, tuple[str, str] | None] = {}
        for s in sentences:
            for m in s.mentions:
                if m.label is None or m.label == "Concept":
                    continue
                names.setdefault(m.key, (m.label, m.name))
                alias = None
                if m.label == _P and len(m.words) >= 2:
                    alias = gz.key(m.words[-1])
                elif m.label == _O and len(m.words) >= 2 and m.words[-1] in gz.ORG_SUFFIXES:
                    core = list(m.words)
                    while len(core) > 1 and core[-1] in gz.ORG_SUFFIXES:
                        core.pop()
                    c0 = core[0]
                    if (
                        c0 not in _ORG_WORDS
                        and c0 not in _PERSON_STARTS
                        and gz.key(" ".join(core)) not in gz.PLACES
                    ):
                        alias = gz.key(" ".join(core))
                if alias is not None and alias != m.key:
                    prev = short.get(alias, (m.label, m.name))
                    short[alias] = prev if prev == (m.label, m.name) else None
        for s in sentences:  # "European Central Bank (ECB)"
            for match in _ACRONYM_RX.finditer(s.skeleton):
                full, acro = s.mentions[int(match.group(1))], s.mentions[int(match.group(2))]
                letters = "".join(w[0] for w in full.words if w[0].isupper())
                if full.label and acro.name.isupper() and acro.name == letters:
                    short.setdefault(acro.key, (full.label, full.name))
        for alias, target in short.items():
            if target is not None:
                names.setdefault(alias, target)
        changed: list[_Sentence] = []
        for s in sentences:
            touched = False
            for m in s.mentions:
                hit = names.get(m.key)
                if hit is None:
                    continue
                label, name = hit
                single_title_person = m.label == _P and len(m.words) == 1 and label == _P
                if m.label is None or (single_title_person and name != m.name):
                    m.label = label  # type: ignore[assignment]
                    m.name, m.key = name, gz.key(name)
                    touched = True
            if touched:
                changed.append(s)
        return names, changed

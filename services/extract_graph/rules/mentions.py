"""Sentences and mentions: the text tokenised once, split into sentences (abbreviation-aware, blank
lines, headings, short lines), and the capitalised phrases of each typed from their own words."""

from __future__ import annotations

from services.extract_graph import gazetteer as gz
from services.extract_graph.extraction import normalize_name
from services.extract_graph.rules.words import (
    _ABBREV_DOT,
    _BULLETS,
    _CLOSERS,
    _CONNECTORS,
    _CONTAINER_SUFFIXES,
    _JOIN_DOT,
    _LOCATION_SPLIT_SUFFIXES,
    _MAX_NAME_WORDS,
    _NO_SPLIT_AFTER,
    _OPENERS,
    _ORG_WORDS,
    _PERSON_STARTS,
    _SENT_END,
    _SOFT_SPLIT_AFTER,
    _TOKEN_RE,
    _WRAP_WIDTH,
    _is_number,
    _is_possessive,
    _item_code,
    _name_word,
    _personish,
    _strip_possessive,
)
from services.stores.ports import (
    EntityLabel,
    RelationType,
)


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
    elif _item_code(first):
        m.label = "Product"  # "the KX-011", "KX-022 Tessel Gateway Pro"
    elif raw.count("&") == 1 and len(raw) == 3 and not whole and not _common(words, vocab):
        m.label = "Organization"  # "Johnson & Johnson", not "Releases & Versioning"
    elif (
        len(words) >= 2
        and first not in gz.NON_PRODUCT_HEADS
        and first not in gz.CURRENCY_CODES  # "EUR 48" is a price
        and first.replace("-", "").isalpha()
    ):
        for k in range(1, len(words)):
            w = words[k]
            if (
                any(c.isdigit() for c in w)
                and words[k - 1] not in gz.NON_PRODUCT_HEADS
                and w.split("-")[0] not in gz.NON_PRODUCT_HEADS
                and w.split("-")[0] not in gz.NON_PRODUCT_CODES
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
            if tok.lower() in gz.NAME_INNER_WORDS and i + 1 < n and _item_code(toks[i + 1]):
                i += 1  # "One KX-021 serves 40 sensors": a count, not part of the name
                continue
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

"""Concepts: "X is a technique ...", "X is a subfield of Y", "X is part of Y" (X lower-case)."""

from __future__ import annotations

from services.extract_graph import gazetteer as gz
from services.extract_graph.rules.mentions import _Mention, _Sentence, _Vocab
from services.extract_graph.rules.words import (
    _ARTICLES,
    _CONCEPT_CUES,
    _ORG_WORDS,
    _PERSON_STARTS,
    _WORDLIKE_RE,
)
from services.stores.ports import (
    RelationType,
)


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

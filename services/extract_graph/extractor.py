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

from typing import Any

from services.extract_graph import gazetteer as gz
from services.extract_graph.extraction import (
    EXTRACTION_JSON_SCHEMA,
    Extraction,
    GraphExtractor,
    normalize_name,
)
from services.extract_graph.rules.concepts import _concepts
from services.extract_graph.rules.mentions import _Mention, _phrases, _Sentence, _split_sentences, _Vocab
from services.extract_graph.rules.patterns import (
    _ACRONYM_RX,
    _COORD_TAIL_RX,
    _L,
    _O,
    _P,
    _PLACE_PAIR_RX,
    _PLACEHOLDER_RX,
    _assign,
    _Rule,
)
from services.extract_graph.rules.table import _RELATION_RULES, _RULES_BY_WORD, _TYPING_RULES
from services.extract_graph.rules.words import _MAX_RELATES_PER_SENTENCE, _ORG_WORDS, _PERSON_STARTS
from services.stores.ports import (
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

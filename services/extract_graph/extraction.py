"""The graph extraction port and its result: ``GraphExtractor.extract(text) -> Extraction``, the
normalisation every extractor's output goes through (``Extraction.build``, ``from_dict``), and the
JSON Schema a model-backed extractor is asked to follow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from services.extract_graph import gazetteer as gz
from services.stores.ports import (
    ENTITY_LABELS,
    RELATION_TYPES,
    Entity,
    Relation,
)

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

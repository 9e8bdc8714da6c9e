"""The offline graph extractor: names, invariants on any text, and the result type it shares with
a model-backed extractor."""

from __future__ import annotations

import json

from services.extract_graph.extractor import (
    EXTRACTION_JSON_SCHEMA,
    Extraction,
    GraphExtractor,
    RuleExtractor,
    normalize_name,
)
from services.stores.ports import ENTITY_LABELS, RELATION_TYPES, Entity
from tests.unit.extractor.support import CORPUS, entities, explicit

# --- names, aliases, dedup --------------------------------------------------------------------


def test_names_are_normalized(extractor: RuleExtractor) -> None:
    """Possessive 's and trailing punctuation are stripped from names."""
    found = entities(extractor, "Acme Corp's new chip shipped. Shares of Initech LLC. rose.")
    assert found == {("Acme Corp", "Organization"), ("Initech LLC", "Organization")}


def test_entities_are_deduplicated_case_insensitively(extractor: RuleExtractor) -> None:
    """Repeated mentions of one entity, in any case, yield one entity with the first spelling."""
    text = "Acme Corp grew. ACME CORP hired. Acme Corp's shares rose in Berlin and Berlin."
    result = extractor.extract(text)
    assert result.entities == (Entity("Acme Corp", "Organization"), Entity("Berlin", "Location"))


def test_short_forms_resolve_to_the_full_name(extractor: RuleExtractor) -> None:
    """Short forms ("Acme" after "Acme Corp", "Doe" after "Jane Doe") resolve to the full names."""
    text = "Jane Doe met investors of Acme Corp. Later, Acme hired Doe."
    assert explicit(extractor, text) == {("Jane Doe", "WORKS_FOR", "Acme Corp")}
    assert {e.name for e in extractor.extract(text).entities} == {"Jane Doe", "Acme Corp"}


def test_acronym_in_parentheses_resolves_to_the_full_name(extractor: RuleExtractor) -> None:
    """An acronym in parentheses after a name makes later uses of it the same organisation."""
    text = "The European Central Bank (ECB) met. Christine Lagarde is President of the ECB."
    assert explicit(extractor, text) == {("Christine Lagarde", "WORKS_FOR", "European Central Bank")}


def test_name_split_at_of_when_the_whole_is_untyped(extractor: RuleExtractor) -> None:
    """An untyped "X of Y" phrase ("Jane Doe of Acme Corp") is split into its typed parts."""
    assert entities(extractor, "Jane Doe of Acme Corp spoke.") == {
        ("Jane Doe", "Person"),
        ("Acme Corp", "Organization"),
    }


# --- invariants -------------------------------------------------------------------------------


def test_relation_endpoints_are_always_entities_and_schema_is_respected(extractor: RuleExtractor) -> None:
    """On any text, labels and types are allowed ones and every relation endpoint is an entity."""
    for text in [*CORPUS, " ".join(CORPUS), "\n\n".join(CORPUS)]:
        result = extractor.extract(text)
        assert all(e.label in ENTITY_LABELS and e.name for e in result.entities)
        assert all(r.type in RELATION_TYPES for r in result.relations)
        assert {r.source for r in result.relations} | {r.target for r in result.relations} <= set(
            result.entities
        )
        assert all(r.source != r.target for r in result.relations)
        assert len({(e.name.casefold(), e.label) for e in result.entities}) == len(result.entities)


def test_extraction_is_deterministic(extractor: RuleExtractor) -> None:
    """The same text gives the same extraction, in the same order, from any instance."""
    text = " ".join(CORPUS)
    first = extractor.extract(text)
    assert extractor.extract(text) == first
    assert RuleExtractor().extract(text) == first


def test_many_chunks_are_processed_independently(extractor: RuleExtractor) -> None:
    """A batch of chunks (throughput sanity, untimed) leaks no state from one chunk to the next."""
    alone = [RuleExtractor().extract(c) for c in CORPUS]
    batch = [extractor.extract(c) for c in CORPUS * 20]
    assert batch == alone * 20


def test_rule_extractor_satisfies_the_port() -> None:
    """RuleExtractor is a GraphExtractor."""
    assert isinstance(RuleExtractor(), GraphExtractor)


# --- the result type (shared with a model-backed extractor) -----------------------------------


def test_from_dict_validates_and_normalizes_model_output() -> None:
    """Model JSON is read with unknown labels, types and dangling relations dropped."""
    data = {
        "entities": [
            {"name": " Acme Corp's ", "label": "Organization"},
            {"name": "Jane Doe", "label": "Person"},
            {"name": "Berlin", "label": "City"},
            {"name": "acme corp", "label": "Organization"},
            "garbage",
        ],
        "relations": [
            {"source": "Jane Doe", "type": "WORKS_FOR", "target": "Acme Corp"},
            {"source": "Jane Doe", "type": "LIKES", "target": "Acme Corp"},
            {"source": "Nobody", "type": "WORKS_FOR", "target": "Acme Corp"},
            {"source": "Jane Doe", "type": "LOCATED_IN", "target": "Oslo", "target_label": "Location"},
        ],
    }
    result = Extraction.from_dict(data)
    assert result.entities == (
        Entity("Acme Corp", "Organization"),
        Entity("Jane Doe", "Person"),
        Entity("Oslo", "Location"),
    )
    assert {(r.source.name, r.type, r.target.name) for r in result.relations} == {
        ("Jane Doe", "WORKS_FOR", "Acme Corp"),
        ("Jane Doe", "LOCATED_IN", "Oslo"),
    }


def test_to_dict_round_trips_through_json(extractor: RuleExtractor) -> None:
    """to_dict output survives JSON and from_dict unchanged."""
    result = extractor.extract(" ".join(CORPUS))
    assert Extraction.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_json_schema_lists_exactly_the_allowed_labels_and_types() -> None:
    """The guided-decoding schema enumerates the port's entity labels and relation types."""
    props = EXTRACTION_JSON_SCHEMA["properties"]
    assert props["entities"]["items"]["properties"]["label"]["enum"] == list(ENTITY_LABELS)
    assert props["relations"]["items"]["properties"]["type"]["enum"] == list(RELATION_TYPES)


def test_normalize_name() -> None:
    """normalize_name trims whitespace, quotes, trailing punctuation and possessives."""
    assert normalize_name('  "Acme   Corp\'s",  ') == "Acme Corp"
    assert normalize_name("Initech LLC.") == "Initech LLC"
    assert normalize_name("Jones’") == "Jones"

"""The offline graph extractor: relations between the entities of a sentence."""

from __future__ import annotations

import pytest

from services.extract_graph.extractor import (
    Extraction,
    RuleExtractor,
)
from services.stores.ports import Entity, Relation
from tests.unit.extractor.support import Fact, entities, explicit, relations

# --- relations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("Jane Doe works for Acme Corp.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Jane Doe, who works at Acme Corp, agreed.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Jane Doe, the CEO of Acme Corp, agreed.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Jane Doe is a senior engineer at Acme Corp.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Jane Doe, head of research at Acme Corp, agreed.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Jane Doe joined Acme Corp last year.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Acme Corp hired Jane Doe as CTO.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Jane Doe is employed by Acme Corp.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Acme Corp CEO Jane Doe agreed.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Jane Doe, Acme Corp's CTO, agreed.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Acme Corp was founded by Jane Doe.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Founded by Jane Doe in 1994, Acme Corp grew.", ("Jane Doe", "WORKS_FOR", "Acme Corp")),
        ("Prof. Jane Doe of the University of Oslo spoke.", ("Jane Doe", "WORKS_FOR", "University of Oslo")),
    ],
)
def test_works_for_patterns(extractor: RuleExtractor, text: str, fact: Fact) -> None:
    """Each employment phrasing yields Person WORKS_FOR Organization."""
    assert fact in explicit(extractor, text)


def test_works_for_types_an_unknown_employer(extractor: RuleExtractor) -> None:
    """The object of "works for" is typed as an Organization even without a suffix."""
    text = "Jane Doe works for Zentrix."
    assert extractor.extract(text) == Extraction(
        entities=(Entity("Jane Doe", "Person"), Entity("Zentrix", "Organization")),
        relations=(Relation(Entity("Jane Doe", "Person"), "WORKS_FOR", Entity("Zentrix", "Organization")),),
    )


def test_coordinated_subjects_share_the_relation(extractor: RuleExtractor) -> None:
    """Coordinated subjects ("A and B work at C") both get the WORKS_FOR relation."""
    assert explicit(extractor, "Jane Doe and John Roe work at Hooli Inc.") == {
        ("Jane Doe", "WORKS_FOR", "Hooli Inc"),
        ("John Roe", "WORKS_FOR", "Hooli Inc"),
    }


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("Acme Corp is based in Berlin.", ("Acme Corp", "LOCATED_IN", "Berlin")),
        ("Acme Corp is headquartered in Zorvia.", ("Acme Corp", "LOCATED_IN", "Zorvia")),
        ("Acme Corp, based in Oslo, agreed.", ("Acme Corp", "LOCATED_IN", "Oslo")),
        ("Acme Corp is a software company based in Lima.", ("Acme Corp", "LOCATED_IN", "Lima")),
        ("Berlin-based startup Quantix raised money.", ("Quantix", "LOCATED_IN", "Berlin")),
        ("Zeta Labs, a Paris-based firm, agreed.", ("Zeta Labs", "LOCATED_IN", "Paris")),
        ("Munich is a city in Bavaria.", ("Munich", "LOCATED_IN", "Bavaria")),
        ("Paris is the capital of France.", ("Paris", "LOCATED_IN", "France")),
        ("The plant opened in Springfield, Illinois.", ("Springfield", "LOCATED_IN", "Illinois")),
        ("Jane Doe lives in Toronto.", ("Jane Doe", "LOCATED_IN", "Toronto")),
        ("Jane Doe, the CEO of Acme Corp, lives in Toronto.", ("Jane Doe", "LOCATED_IN", "Toronto")),
    ],
)
def test_located_in_patterns(extractor: RuleExtractor, text: str, fact: Fact) -> None:
    """Each location phrasing yields X LOCATED_IN Location."""
    assert fact in explicit(extractor, text)


def test_appositive_subject_does_not_take_the_main_verb(extractor: RuleExtractor) -> None:
    """In "The company, led by X, is based in Y" the person X is not located in Y."""
    text = "The company, led by Jensen Huang, is based in Santa Clara."
    assert ("Jensen Huang", "LOCATED_IN", "Santa Clara") not in explicit(extractor, text)


def test_technology_based_is_not_a_location(extractor: RuleExtractor) -> None:
    """A technology before "-based" ("a Rust-based tool") is not a place."""
    assert entities(extractor, "Velox is a Rust-based tool.") == {("Velox", "Product")}


def test_list_of_places_is_not_nested(extractor: RuleExtractor) -> None:
    """A comma list of states is not read as one state located in the next."""
    assert explicit(extractor, "We sell in Texas, Ohio and Utah.") == set()


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("Bavaria is part of Germany.", ("Bavaria", "PART_OF", "Germany")),
        ("Acme Cloud is a division of Acme Corp.", ("Acme Cloud", "PART_OF", "Acme Corp")),
        ("Acme Cloud is a wholly owned subsidiary of Acme Corp.", ("Acme Cloud", "PART_OF", "Acme Corp")),
        ("Falcon Router 9 is a product of Acme Analytics.", ("Falcon Router 9", "PART_OF", "Acme Analytics")),
        ("Acme Analytics launched the Falcon Router 9.", ("Falcon Router 9", "PART_OF", "Acme Analytics")),
        ("The Orion is a drone made by Acme Corp.", ("Orion", "PART_OF", "Acme Corp")),
        ("Initech LLC acquired Acme Corp.", ("Acme Corp", "PART_OF", "Initech LLC")),
        ("Acme Corp was acquired by Initech LLC.", ("Acme Corp", "PART_OF", "Initech LLC")),
    ],
)
def test_part_of_patterns(extractor: RuleExtractor, text: str, fact: Fact) -> None:
    """Each containment phrasing yields X PART_OF Y (products PART_OF their maker)."""
    assert fact in explicit(extractor, text)


def test_relates_to_for_other_co_occurring_entities(extractor: RuleExtractor) -> None:
    """Typed entities sharing a sentence without an explicit relation get RELATES_TO."""
    assert relations(extractor, "Jane Doe met Acme Corp staff.") == {("Jane Doe", "RELATES_TO", "Acme Corp")}


def test_relates_to_is_not_added_beside_an_explicit_relation(extractor: RuleExtractor) -> None:
    """A pair linked by an explicit relation gets no extra RELATES_TO."""
    assert relations(extractor, "Jane Doe works for Acme Corp.") == {("Jane Doe", "WORKS_FOR", "Acme Corp")}


def test_relates_to_is_capped_per_sentence(extractor: RuleExtractor) -> None:
    """A sentence with many entities yields at most the configured number of RELATES_TO pairs."""
    text = "Alice Wong, Bob Li, Carol Diaz and Dan Cho met Eve Park in Oslo, Rome, Lima and Cairo."
    assert len(relations(extractor, text)) == 3
    assert len(relations(RuleExtractor(max_relates_per_sentence=5), text)) == 5
    assert relations(RuleExtractor(max_relates_per_sentence=0), text) == set()

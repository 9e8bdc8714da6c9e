"""Behaviour of the offline graph extractor (``services.extract_graph.extractor``)."""

from __future__ import annotations

import json

import pytest

from services.extract_graph.extractor import (
    EXTRACTION_JSON_SCHEMA,
    Extraction,
    GraphExtractor,
    RuleExtractor,
    normalize_name,
)
from services.stores.ports import ENTITY_LABELS, RELATION_TYPES, Entity, Relation

Fact = tuple[str, str, str]


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    return RuleExtractor()


def entities(extractor: RuleExtractor, text: str) -> set[tuple[str, str]]:
    return {(e.name, e.label) for e in extractor.extract(text).entities}


def relations(extractor: RuleExtractor, text: str) -> set[Fact]:
    return {(r.source.name, r.type, r.target.name) for r in extractor.extract(text).relations}


def explicit(extractor: RuleExtractor, text: str) -> set[Fact]:
    return {f for f in relations(extractor, text) if f[1] != "RELATES_TO"}


# A small mixed corpus for invariants that must hold on any text.
CORPUS = [
    "Dr. Jane Smith, the CEO of Acme Corp, lives in Springfield, Illinois.",
    "Maria Garcia joined Globex Corporation in 2019. Globex hired John Smith as CTO.",
    "Acme Cloud is a division of Acme Corp. Acme Corp was acquired by Initech LLC.",
    "Munich is a city in Bavaria. Bavaria is part of Germany.",
    "Berlin-based startup Quantix raised money. Zeta Labs, a Paris-based firm, released Orion 2.",
    "Machine learning is a subfield of artificial intelligence.",
    "Apple Inc. launched the iPhone 15 in September. The iPhone 15 is a smartphone made by Apple.",
    "Bank of America is headquartered in Charlotte, North Carolina.",
    "Satya Nadella, Microsoft's chief executive, spoke in Redmond on Tuesday.",
    "Toyota Motor Corporation is a Japanese manufacturer headquartered in Toyota City, Aichi, Japan.",
    "The European Central Bank (ECB) is in Frankfurt. Christine Lagarde is President of the ECB.",
    "Alice Wong, Bob Li, Carol Diaz and Dan Cho met Eve Park in Oslo, Rome, Lima and Cairo.",
    "## Releases & Versioning\nWe publish releases and versioning notes for every version.",
    "Our Q3 revenue grew 12%. Section 3 and Table 2 list the results of Phase 3.",
]


# --- candidates, stopwords and negatives ------------------------------------------------------


def test_lowercase_text_yields_nothing(extractor: RuleExtractor) -> None:
    """Text without capital letters yields no entities and no relations."""
    result = extractor.extract("acme corp hired jane doe, who works in berlin. gradient descent is a method.")
    assert result == Extraction()


def test_empty_and_blank_text_yield_nothing(extractor: RuleExtractor) -> None:
    """Empty, blank and punctuation-only texts yield an empty extraction."""
    for text in ("", "   \n\t ", "... !!! ???", "12 345 6.7"):
        assert extractor.extract(text) == Extraction()


def test_sentence_openers_months_and_weekdays_are_not_entities(extractor: RuleExtractor) -> None:
    """Capitalised sentence openers ("The", "However"), months and weekdays never become entities."""
    text = (
        "The company reported strong results. However, Monday was slow. In March the board met. "
        "On Friday, September 5 the team left. Yesterday was Sunday."
    )
    assert extractor.extract(text).entities == ()


def test_common_word_capitalised_at_sentence_start_is_dropped(extractor: RuleExtractor) -> None:
    """A sentence-initial capitalised word that the text also uses in lower case is not a name."""
    text = "Researchers at Acme Corp agree. Many researchers disagree."
    assert entities(extractor, text) == {("Acme Corp", "Organization")}


def test_nationality_adjectives_and_currency_prefixes_are_not_entities(extractor: RuleExtractor) -> None:
    """Demonyms ("Japanese") and currency prefixes ("US$") are not extracted as names or places."""
    text = "Kenta Motors is a Japanese maker. It bought a plant for US$13 billion."
    assert entities(extractor, text) == {("Kenta Motors", "Organization")}


def test_markdown_heading_and_title_case_fragments_are_skipped(extractor: RuleExtractor) -> None:
    """Markdown headings and "&"-joined Title Case phrases of common words yield no organisation."""
    text = "## Acme Corp\nIssues & Limitations are listed below, with issues and limitations explained."
    assert entities(extractor, text) == set()


def test_line_break_after_a_short_line_splits_names(extractor: RuleExtractor) -> None:
    """A heading line does not merge with the capitalised words that open the next line."""
    text = "Introduction\nAcme Corp is headquartered in Berlin."
    assert entities(extractor, text) == {("Acme Corp", "Organization"), ("Berlin", "Location")}


def test_wrapped_paragraph_keeps_names_across_line_breaks(extractor: RuleExtractor) -> None:
    """A single line break inside a long wrapped line does not cut a name in two."""
    text = "The quarterly report was signed yesterday by the chief executive Jane\nDoe of Acme Corp."
    assert ("Jane Doe", "Person") in entities(extractor, text)


# --- entity typing ----------------------------------------------------------------------------


def test_organization_by_suffix_or_keyword(extractor: RuleExtractor) -> None:
    """Company suffixes and institution keywords make a capitalised phrase an Organization."""
    text = (
        "Acme Corp, Globex Corporation, Initech LLC, Zeta Labs, Umbrella Analytics, Siemens AG, "
        "Stanford University and the Bank of America signed. So did the University of Oxford."
    )
    found = entities(extractor, text)
    for name in (
        "Acme Corp",
        "Globex Corporation",
        "Initech LLC",
        "Zeta Labs",
        "Umbrella Analytics",
        "Siemens AG",
        "Stanford University",
        "Bank of America",
        "University of Oxford",
    ):
        assert (name, "Organization") in found


def test_weak_suffix_after_common_words_is_not_an_organization(extractor: RuleExtractor) -> None:
    """A weak suffix ("Data Analytics") after words the text uses in lower case is no company."""
    text = "We store the data twice. Data Analytics is covered later."
    assert entities(extractor, text) == set()


def test_ampersand_names_are_organizations(extractor: RuleExtractor) -> None:
    """Two single names joined by "&" ("Procter & Gamble") form an Organization."""
    assert entities(extractor, "Shares of Procter & Gamble rose.") == {("Procter & Gamble", "Organization")}


def test_locations_from_gazetteer(extractor: RuleExtractor) -> None:
    """Countries, US states and major cities are Locations without any cue."""
    text = "Sales grew in Brazil, Texas, Nairobi, New York City and the United Kingdom."
    assert entities(extractor, text) == {
        ("Brazil", "Location"),
        ("Texas", "Location"),
        ("Nairobi", "Location"),
        ("New York City", "Location"),
        ("United Kingdom", "Location"),
    }


def test_location_from_context_cue(extractor: RuleExtractor) -> None:
    """An unknown name after "headquartered in" or "offices in" is typed as a Location."""
    found = entities(extractor, "The firm is headquartered in Zorvia and has offices in Quell and Brint.")
    assert found == {("Zorvia", "Location"), ("Quell", "Location"), ("Brint", "Location")}


def test_plain_in_does_not_make_a_location(extractor: RuleExtractor) -> None:
    """A bare "in X" is not enough to call an unknown name a place."""
    assert entities(extractor, "The service is written in Zorvia and runs in Quell.") == set()


def test_person_from_given_name(extractor: RuleExtractor) -> None:
    """A known given name followed by a capitalised word is a Person, across cultures."""
    text = "Maria Garcia, Kwame Mensah, Li Wei and Guido van Rossum spoke."
    assert entities(extractor, text) == {
        ("Maria Garcia", "Person"),
        ("Kwame Mensah", "Person"),
        ("Li Wei", "Person"),
        ("Guido van Rossum", "Person"),
    }


def test_person_from_title_and_initials(extractor: RuleExtractor) -> None:
    """Titles (Dr., Prof., Ms.) mark a Person and middle initials stay inside the name."""
    text = "Dr. Zorba Quill met Prof. Anika Vell and Ms. Oduya. John F. Kennedy was there."
    assert entities(extractor, text) == {
        ("Zorba Quill", "Person"),
        ("Anika Vell", "Person"),
        ("Oduya", "Person"),
        ("John F. Kennedy", "Person"),
    }


def test_person_from_job_title_cue(extractor: RuleExtractor) -> None:
    """A two-word capitalised name right after a job title is a Person."""
    assert ("Zorba Quill", "Person") in entities(extractor, "Acme named founder Zorba Quill as chair.")


def test_product_from_model_number(extractor: RuleExtractor) -> None:
    """Capitalised names ending in a model number are Products; sections, tables and years are not."""
    text = "Section 3 compares the Falcon Router 9 with Windows 11 in Table 2 of Phase 3 during 2024."
    assert entities(extractor, text) == {("Falcon Router 9", "Product"), ("Windows 11", "Product")}


def test_product_from_cues(extractor: RuleExtractor) -> None:
    """Product cues ("launched X", "the X platform", "X is a ... app") type X as a Product."""
    text = "Yesterday they launched Zephyr. Users love the Nimbus platform. Quanta is a mobile app for notes."
    assert entities(extractor, text) == {
        ("Zephyr", "Product"),
        ("Nimbus", "Product"),
        ("Quanta", "Product"),
    }


def test_concept_from_definition(extractor: RuleExtractor) -> None:
    """A lower-case subject defined as a technique/method/field is a Concept."""
    text = "Gradient descent is an optimisation technique. Retrieval-augmented generation is a method."
    assert entities(extractor, text) == {
        ("gradient descent", "Concept"),
        ("retrieval-augmented generation", "Concept"),
    }


def test_concept_subfield_and_part_of(extractor: RuleExtractor) -> None:
    """Lower-case "X is a subfield of Y" and "X is part of Y" give Concept PART_OF Concept."""
    text = (
        "Machine learning is a subfield of artificial intelligence. "
        "Tokenization is part of text preprocessing."
    )
    assert explicit(extractor, text) == {
        ("machine learning", "PART_OF", "artificial intelligence"),
        ("tokenization", "PART_OF", "text preprocessing"),
    }


def test_vague_definitions_are_not_concepts(extractor: RuleExtractor) -> None:
    """Sentences that merely describe ("is a hobby", "It is part of it") yield no Concept."""
    text = "Gardening is a hobby. It is part of the plan. This is a method."
    assert extractor.extract(text).entities == ()


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

"""The offline graph extractor: which phrases are entities, and their types."""

from __future__ import annotations

from services.extract_graph.extractor import (
    Extraction,
    RuleExtractor,
)
from tests.unit.extractor.support import entities, explicit

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


def test_item_codes_are_products_and_prices_are_not(extractor: RuleExtractor) -> None:
    """A catalogue names its products by item code, alone or before the name ("KX-022 Tessel Gateway
    Pro"), after a count ("One KX-021"): each a Product, the count left out. "EUR 48" is a price;
    standards, vulnerabilities and ciphers with a code are not products."""
    catalogue = (
        "KX-022 Tessel Gateway Pro gateway EUR 610\n"
        "The KX-011 measures temperature only. One KX-021 serves up to 40 sensors.\n"
        "Prices start at EUR 48 per unit; support costs USD 20 a month."
    )
    assert entities(extractor, catalogue) == {
        ("KX-022 Tessel Gateway Pro", "Product"),
        ("KX-011", "Product"),
        ("KX-021", "Product"),
    }
    assert entities(extractor, "Patch CVE-2021-44228, follow ISO-27001 and keep SHA-256 hashes.") == set()
    assert entities(extractor, "Two Sigma Investments hired Ada Lovelace.") == {
        ("Two Sigma Investments", "Organization"),
        ("Ada Lovelace", "Person"),
    }


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

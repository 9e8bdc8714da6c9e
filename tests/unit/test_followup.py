"""Follow-up questions made to stand alone, with the entity extractor the product uses."""

from __future__ import annotations

import pytest

from services.agent.followup import rewrite
from services.agent.wiring import referent_finder
from services.extract_graph.extractor import RuleExtractor

referents_in = referent_finder(RuleExtractor())  # as the product wires it


def test_referents_are_names_and_identifiers_in_text_order() -> None:
    found = referents_in("Set compress_checkpoints on the KX-012 that Priya Venkataraman ordered in 2022.")
    assert [r.name for r in found] == ["compress_checkpoints", "KX-012", "Priya Venkataraman"]
    assert [r.person for r in found] == [False, False, True]  # 2022 is a year: what is asked, not a subject


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # an identifier no name list knows, from the question before (the answer names other things)
        (
            [
                ("user", "What does the KX-012 measure?"),
                ("assistant", "Temperature and humidity, in Tallinn. [1]"),
            ],
            "How much does it cost?",
            "How much does KX-012 cost?",
        ),
        # a possessive
        (
            [("user", "What does the KX-012 measure?")],
            "And what is its battery life?",
            "And what is KX-012's battery life?",
        ),
        # "her" takes a person, and "her team" is hers
        (
            [
                ("user", "Who leads the Insight team?"),
                ("assistant", "Priya Venkataraman leads the Insight team. [1]"),
            ],
            "Which product does her team own?",
            "Which product does Priya Venkataraman's team own?",
        ),
        # "she" is resolved although the question names a company: it names no person
        (
            [
                ("user", "Who leads the Insight team?"),
                ("assistant", "Priya Venkataraman leads the Insight team. [1]"),
            ],
            "When did she join Hollowquay?",
            "When did Priya Venkataraman join Hollowquay?",
        ),
        # "her" as an object stays a name, not a possessive
        (
            [("assistant", "Orla Brennan catalogued the archive.")],
            "Where can I find her?",
            "Where can I find Orla Brennan?",
        ),
        # an older turn when the latest names nothing
        (
            [
                ("user", "When was Hollowquay Technologies founded?"),
                ("assistant", "On 14 March 2011. [1]"),
                ("user", "Where was it founded?"),
                ("assistant", "in the capital. [1]"),
            ],
            "Who founded it?",
            "Who founded Hollowquay Technologies?",
        ),
        # a question that names its own subject is left alone
        (
            [("user", "What does the KX-012 measure?")],
            "Is the KX-013 cheaper than it?",
            "Is the KX-013 cheaper than it?",
        ),
        # no pronoun, nothing to do
        (
            [("user", "What does the KX-012 measure?")],
            "What does the KX-013 cost?",
            "What does the KX-013 cost?",
        ),
    ],
)
def test_a_pronoun_becomes_what_it_refers_to(
    history: list[tuple[str, str]], question: str, expected: str
) -> None:
    assert rewrite(question, history, referents_in) == expected

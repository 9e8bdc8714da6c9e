"""What `ragstream eval` computes, on known outcomes: facts on word boundaries, the "I don't know"
check, ranks, per-kind summaries, thresholds; a broken retriever scores lower than a working one."""

from __future__ import annotations

import pytest

from services.eval import GOLDEN_DIR
from services.eval.golden import GoldenItem, load, sessions
from services.eval.metrics import Outcome, above, below, contains, parse_threshold, score, summarise

BATTERY = GoldenItem(
    "q1", "What is the battery life of the KX-011?", "named", ("catalogue.html",), ("5 years",)
)
NOWHERE = GoldenItem("q2", "What does the KX-014 cost?", "unanswerable", (), ())
FOLLOW = GoldenItem("q3", "Where was it founded?", "followup", ("history.md",), ("Tallinn",), "c1", 2)


def test_facts_match_on_word_boundaries_whatever_the_case_and_spacing() -> None:
    assert contains("The KX-011 runs for 5\n years [1]", "5 years")
    assert contains("founded in TALLINN.", "Tallinn")
    assert not contains("it runs for 15 years", "5 years")
    assert not contains("EUR 950", "EUR 95")
    assert contains("price: EUR 95.", "EUR 95")


def test_a_right_answer_a_wrong_one_and_i_dont_know() -> None:
    right = score(BATTERY, Outcome("It lasts 5 years [1].", ["catalogue.html"], ["catalogue.html"], 0.2))
    assert (right.rank, right.fact, right.cites, right.idk) == (1, True, True, False)
    neighbour = score(
        BATTERY, Outcome("It lasts 15 years [1].", ["catalogue.html"], ["x.md", "catalogue.html"])
    )
    assert (neighbour.rank, neighbour.fact, neighbour.cites) == (2, False, True)
    refused = score(BATTERY, Outcome("I don't know: nothing in the indexed documents answers that."))
    assert (refused.rank, refused.fact, refused.idk) == (None, False, True)
    honest = score(NOWHERE, Outcome("I don't know: nothing in the indexed documents answers that."))
    assert honest.idk
    assert not honest.fact


def test_summaries_count_each_question_where_it_belongs() -> None:
    scores = [
        score(BATTERY, Outcome("5 years [1]", ["catalogue.html"], ["catalogue.html"], 0.1)),
        score(NOWHERE, Outcome("I don't know", [], [], 0.3)),
        score(FOLLOW, Outcome("It was founded in Tallinn [1]", ["history.md"], [], 0.2)),
    ]
    summary = summarise(scores)
    assert summary["hit@1"] == 1.0  # the follow-up's words are not a query: not ranked
    assert summary["fact"] == 1.0
    assert summary["cites"] == 1.0
    assert summary["idk"] == 1.0
    assert summary["false_idk"] == 0.0
    assert summary["p50_s"] == 0.2


def test_a_broken_retriever_scores_lower() -> None:
    items = [i for i in load(GOLDEN_DIR) if i.answerable and i.turn == 1]
    working = [score(i, Outcome(" ".join(i.facts), list(i.sources), list(i.sources))) for i in items]
    broken = [score(i, Outcome("I don't know", [], ["noise/recipe.md"] * 5)) for i in items]
    good, bad = summarise(working), summarise(broken)
    assert good["hit@1"] == good["fact"] == good["cites"] == 1.0
    assert bad["hit@5"] == bad["fact"] == bad["cites"] == 0.0


def test_thresholds_name_what_they_miss() -> None:
    assert parse_threshold("fact=0.9") == ("fact", 0.9)
    with pytest.raises(ValueError, match="METRIC=VALUE"):
        parse_threshold("accuracy=0.9")
    assert below({"fact": 0.8, "hit@1": 0.97}, [("fact", 0.9), ("hit@1", 0.95)]) == ["fact = 0.8 < 0.9"]
    assert above({"false_idk": 0.2, "errors": 0.0}, [("false_idk", 0.1), ("errors", 0)]) == [
        "false_idk = 0.2 > 0.1"
    ]
    assert above({"faithfulness": None}, [("faithfulness", 1.0)]) == [
        "faithfulness: not measured: the run has no answers graded by an LLM judge (configure an LLM)"
    ]
    unmeasured = "idk: not measured: the run has no unanswerable questions"
    assert below({"idk": None}, [("idk", 0.85)]) == [unmeasured]


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know: nothing in the indexed documents answers that.",
        "I don\u2019t know.",
        "Sorry, I do not know. [1]",
        "The passages do not say how long the warranty is.",
        "  I cannot answer that from these documents.",
    ],
)
def test_a_refusal_is_an_answer_that_opens_with_one(answer: str) -> None:
    assert score(NOWHERE, Outcome(answer)).idk
    assert not score(BATTERY, Outcome(answer)).fact


@pytest.mark.parametrize(
    "answer",
    [
        "If you don't know your password, use the reset link; it lasts 5 years [1].",
        "The KX-011 lasts 5 years [1]. I don't know its price.",
    ],
)
def test_an_answer_that_says_i_dont_know_about_something_else_answers(answer: str) -> None:
    """The first form found the phrase anywhere: these counted as refusals (and a made-up answer to
    an unanswerable question as a right one)."""
    assert not score(NOWHERE, Outcome(answer)).idk
    assert score(BATTERY, Outcome(answer)).fact


def test_conversations_are_asked_together_in_turn_order() -> None:
    first = GoldenItem("q4", "When was Hollowquay founded?", "named", ("history.md",), ("2011",), "c1", 1)
    order = [[i.id for i in s] for s in sessions([FOLLOW, BATTERY, first])]
    assert order == [["q1"], ["q4", "q3"]]


def test_latency_quantiles_are_nearest_rank() -> None:
    """Of 100 latencies p95 is the 95th, of 4 the median is the 2nd (the first form took the 96th and
    the 3rd)."""
    timed = [score(BATTERY, Outcome("5 years [1]", seconds=float(n))) for n in range(1, 101)]
    assert (summarise(timed)["p50_s"], summarise(timed)["p95_s"]) == (50.0, 95.0)
    assert summarise(timed[:4])["p50_s"] == 2.0

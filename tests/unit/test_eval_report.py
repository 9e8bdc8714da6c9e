"""The eval's HTML report and the LLM judge's reading of replies (pure: no stack, no model)."""

from __future__ import annotations

import re

from services.eval.judge import rating_score, share_supported, statements
from services.eval.report import render


def run(at: float, hit1: float, fact: float, false_idk: float) -> dict[str, object]:
    summary = {"questions": 10, "hit@1": hit1, "hit@5": 1.0, "mrr": 0.9, "fact": fact, "cites": 0.9,
               "idk": 0.5, "false_idk": false_idk, "p50_s": 0.2, "faithfulness": None,
               "relevancy": None}  # fmt: skip
    return {"at": at, "golden": "set", "seconds": 12.0, "summary": summary,
            "by_kind": {"named": summary, "graph": {"questions": 0}}}  # fmt: skip


def test_report_plots_every_run_and_marks_a_regression_red() -> None:
    runs = [run(1_800_000_000, 0.8, 0.7, 0.1), run(1_800_000_600, 0.9, 0.6, 0.2)]
    questions = [
        {"id": "q1", "kind": "named", "question": "Who <script>?", "fact": False, "cites": True, "idk": False,
         "answer": "Bob <b>", "error": None},
        {"id": "q2", "kind": "named", "question": "Fine?", "fact": True, "cites": True, "idk": False},
        {"id": "q3", "kind": "unanswerable", "question": "Nothing?", "fact": False, "cites": False,
         "idk": False, "answer": "Made up"},
    ]  # fmt: skip
    page = render(runs, questions)
    # one line per plotted metric that has values, two points each
    assert page.count("<path ") == 6
    assert len(re.findall(r"<circle [^>]*><title>hit@1 ", page)) == 2
    assert '<span class="up">+10 pt</span>' in page  # hit@1 went up
    assert '<span class="down">−10 pt</span>' in page  # fact went down
    assert '<span class="down">+10 pt</span>' in page  # false "I don't know" went up: worse
    assert "<script>" not in page
    assert "Who &lt;script&gt;?" in page
    assert "Fine?" not in page  # passed: not a miss
    assert "answered instead of" in page
    assert "graph" not in page.split("Latest run by kind")[1].split("</table>")[0]  # no questions: no row


def test_report_of_one_run_has_no_changes() -> None:
    page = render([run(1_800_000_000, 0.8, 0.7, 0.1)])
    assert "<svg" in page
    assert 'class="up"' not in page
    assert 'class="down"' not in page
    assert "Misses" not in page


def test_judge_statements_drop_markers_and_split_sentences() -> None:
    text = "Bob leads billing [1]. He joined in 2019 [2].\nThe office is in Leeds."
    assert statements(text) == ["Bob leads billing.", "He joined in 2019.", "The office is in Leeds."]


def test_judge_replies_in_another_shape_are_unjudged_not_scored() -> None:
    assert share_supported({"verdicts": ["yes", "no", "yes", "yes"]}, 4) == 0.75
    assert share_supported({"verdicts": ["yes"]}, 2) is None  # one verdict short
    assert share_supported({"verdicts": ["maybe", "yes"]}, 2) is None
    assert share_supported(["yes"], 1) is None
    assert rating_score({"rating": 5}) == 1.0
    assert rating_score({"rating": 1}) == 0.0
    assert rating_score({"rating": 6}) is None
    assert rating_score({"rating": True}) is None
    assert rating_score("5") is None

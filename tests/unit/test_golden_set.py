"""The bundled golden evaluation set (services/eval/golden/) is well-formed and honest.

Every fact of an answerable question is in the visible text of one of its sources, and no fact appears
in any noise document, so an answer built from noise can never pass.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

GOLDEN = Path(__file__).resolve().parents[2] / "services" / "eval" / "golden"
DOCS = GOLDEN / "docs"
NOISE = DOCS / "noise"

KEYS = {"id", "question", "kind", "sources", "facts", "conversation", "turn"}
MINIMUMS = {"named": 15, "paraphrase": 12, "graph": 6, "followup": 8, "unanswerable": 6}
DOC_SUFFIXES = {".md", ".html", ".txt"}


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


@cache
def visible_text(path: Path) -> str:
    """What a reader sees: HTML through BeautifulSoup, other formats as they are; normalised."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        raw = BeautifulSoup(raw, "lxml").get_text(" ")
    return _normalise(raw)


@cache
def load() -> tuple[dict, ...]:
    lines = (GOLDEN / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def noise_docs() -> list[Path]:
    return sorted(p for p in NOISE.rglob("*") if p.is_file())


def reference_docs() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*") if p.is_file() and NOISE not in p.parents)


def answerable() -> list[dict]:
    return [item for item in load() if item["kind"] != "unanswerable"]


def test_size_keys_and_unique_ids() -> None:
    items = load()
    assert len(items) >= 60
    for item in items:
        assert set(item) == KEYS, item
        assert isinstance(item["id"], str)
        assert item["id"]
        assert isinstance(item["question"], str)
        assert item["question"].strip()
        assert isinstance(item["sources"], list)
        assert isinstance(item["facts"], list)
        assert item["conversation"] is None or isinstance(item["conversation"], str)
        assert isinstance(item["turn"], int)
        assert item["turn"] >= 1
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids))


def test_kinds_and_minimum_counts() -> None:
    counts = Counter(item["kind"] for item in load())
    assert set(counts) <= set(MINIMUMS), counts
    for kind, minimum in MINIMUMS.items():
        assert counts[kind] >= minimum, (kind, counts[kind])


def test_corpus_shape() -> None:
    refs, noise = reference_docs(), noise_docs()
    assert len(refs) >= 14
    assert len(noise) >= 35
    for path in refs + noise:
        assert path.suffix in DOC_SUFFIXES, path
        assert visible_text(path), path


@pytest.mark.parametrize("item", answerable(), ids=lambda item: item["id"])
def test_sources_exist_and_contain_every_fact(item: dict) -> None:
    assert item["sources"], "an answerable question names its sources"
    assert item["facts"], "an answerable question names the facts of its answer"
    paths = [DOCS / name for name in item["sources"]]
    for path in paths:
        assert path.is_file(), path
        assert NOISE not in path.parents, f"{path} is a noise document"
    for fact in item["facts"]:
        assert 1 <= len(fact.split()) <= 6, fact
        assert any(_normalise(fact) in visible_text(path) for path in paths), (item["id"], fact)


def test_unanswerable_items_have_no_sources_or_facts() -> None:
    for item in load():
        if item["kind"] == "unanswerable":
            assert item["sources"] == [], item["id"]
            assert item["facts"] == [], item["id"]


def test_conversations_are_contiguous_and_followups_have_history() -> None:
    turns: dict[str, list[int]] = defaultdict(list)
    for item in load():
        if item["conversation"] is None:
            assert item["turn"] == 1, item["id"]
            assert item["kind"] != "followup", item["id"]
        else:
            turns[item["conversation"]].append(item["turn"])
            if item["kind"] == "followup":
                assert item["turn"] >= 2, item["id"]
            else:
                assert item["turn"] == 1, f"{item['id']}: later turns are followups"
    assert turns
    for conversation, seen in turns.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), conversation


def test_no_noise_document_contains_any_fact() -> None:
    facts = {_normalise(fact) for item in answerable() for fact in item["facts"]}
    leaks = [
        (path.relative_to(DOCS).as_posix(), fact)
        for path in noise_docs()
        for fact in sorted(facts)
        if fact in visible_text(path)
    ]
    assert not leaks

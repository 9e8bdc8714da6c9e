"""Markdown headings and front matter as the parser reads them, and lines crafted against the regexes
that used to read them: "# a", 100,000 spaces, "b" took minutes (time quadratic in the spaces; a
150 KB file used the whole parse time limit and was dead-lettered as a timeout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.parse.parsers import parse_document
from services.parse.text import _atx


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("# Title", (1, "Title")),
        ("## Setup ##", (2, "Setup")),
        ("# C#", (1, "C#")),
        ("   ### spaced  #  ", (3, "spaced")),
        ("#", (1, "")),
        ("#hello", None),
        ("####### seven", None),
        ("    # indented code", None),
    ],
)
def test_atx_headings(line: str, heading: tuple[int, str] | None) -> None:
    assert _atx(line) == heading


@pytest.mark.timeout(30)  # the old regexes: minutes
def test_lines_of_spaces_are_read_in_linear_time(tmp_path: Path) -> None:
    spaces = " " * 100_000
    doc = tmp_path / "crafted.md"
    doc.write_text(f"---\ntitle: a{spaces}b\n---\n# a{spaces}b\n\nBody text.\n# a{spaces}b #\n")
    parsed = parse_document(doc, doc.name)
    assert parsed.title == f"a{spaces}b"
    assert [s.title for s in parsed.sections] == ["a b"]
    assert "Body text." in parsed.sections[0].text

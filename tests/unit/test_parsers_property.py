"""Whatever bytes arrive under whatever name, a parser returns sections or raises ParseError with a
known reason: never another exception (which would dead-letter as a generic failure after retries)."""

from __future__ import annotations

import re
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.parse.parsers import PARSE_ERROR_REASONS, ParseError, parse_document

NAMES = ("a.txt", "a.md", "a.html", "a.pdf", "a.docx", "noext")
CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd]")
HEADS = (b"", b"%PDF-1.7\n", b"PK\x03\x04", b"<html><body>", b"# Title\n\n", b"\xef\xbb\xbf", b"\xff\xfe")


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(NAMES), st.sampled_from(HEADS), st.binary(max_size=2000))
def test_any_bytes_parse_or_fail_with_a_known_reason(name: str, head: bytes, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(head + body)
        try:
            parsed = parse_document(path, name)
        except ParseError as exc:
            failed = exc.reason
        else:
            failed = None
            assert parsed.sections
        assert failed is None or failed in PARSE_ERROR_REASONS
        if failed:
            return
        assert all(s.text.strip() for s in parsed.sections)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000))
@example("o\ufb00ice")  # found by CI: the ligature is read as "ff"
@example("wo\x00rd")  # a control character inside a word is dropped
def test_any_text_in_markdown_html_or_txt_keeps_its_words(text: str) -> None:
    """Text that parses keeps its letters: nothing silently dropped beyond markup and whitespace.
    The parser maps compatibility forms on purpose (the ligature "\ufb00" reads as "ff", so a search
    for "office" finds it) and drops control characters, so a word may come from the text with those
    two rules applied instead."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.txt"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            parsed = parse_document(path, "t.txt")
        except ParseError as exc:
            reason = exc.reason
        else:
            reason = ""
        assert reason in ("", "empty", "unsupported_type")
        if reason:
            return
        words = [w for w in parsed.text.split() if w.isalpha() and w.isascii()]
        compatible = CONTROLS.sub("", unicodedata.normalize("NFKC", text))
        for word in words:
            assert word in text or word in compatible

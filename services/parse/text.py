"""Markdown (ATX and setext headings, fences, a front-matter title) and plain text; binary content
named as text is refused."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from services.parse.document import (
    MARKDOWN,
    SNIFF_BYTES,
    TEXT,
    ParsedDocument,
    ParseError,
    Section,
    _collapse,
    _decode,
    _sections_or_empty,
    _stem,
    binary_kind,
    normalize_text,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Markdown and plain text
# --------------------------------------------------------------------------------------------------

# A heading's opening run; its text and closing run are cut with string operations: the one regex
# that did it all ("(.*?)" then optional spaces and #s to the end) took time quadratic in a line of
# spaces ("# a" + 16,000 spaces + "b": 3.4 s; a 150 KB file used the whole parse time limit).
_ATX_OPEN = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_TITLE = re.compile(r"title\s*:(.*)", re.I)


def _read_text(path: Path, filename: str) -> str:
    data = path.read_bytes()
    kind = binary_kind(data[:SNIFF_BYTES])
    if kind is not None:
        raise ParseError("unsupported_type", f"{filename}: {kind}, not text")
    return _decode(data)


def _atx(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and text ("## Setup ##": 2, "Setup"; "# C#": 1, "C#"), or None."""
    m = _ATX_OPEN.match(line)
    if m is None:
        return None
    text = line[m.end() :].strip(" \t")
    unclosed = text.rstrip("#")
    if unclosed != text and (not unclosed or unclosed[-1] in " \t"):
        text = unclosed.rstrip(" \t")
    return len(m.group(1)), text


def _parse_markdown(path: Path, filename: str) -> ParsedDocument:
    text = _read_text(path, filename).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")

    front_title: str | None = None
    if lines and lines[0].strip() == "---":  # YAML front matter
        for end in range(1, min(len(lines), 200)):
            if lines[end].strip() in ("---", "..."):
                for line in lines[1:end]:
                    if m := _FRONT_TITLE.match(line):
                        front_title = m.group(1).strip().strip("'\"") or None
                lines = lines[end + 1 :]
                break

    sections: list[Section] = []
    body: list[str] = []
    current: str | None = None
    first_h1: str | None = None
    fence: str | None = None

    def flush() -> None:
        content = normalize_text("\n".join(body))
        if content:
            sections.append(Section(content, None, current))
        body.clear()

    for line in lines:
        if fence is not None:
            body.append(line)
            if line.strip().startswith(fence):
                fence = None
            continue
        if m := _FENCE.match(line):
            fence = m.group(1)[:3]
            body.append(line)
            continue
        if atx := _atx(line):
            level, text = atx
            heading = _collapse(text)
            flush()
            current = heading or None
            if level == 1 and first_h1 is None and heading:
                first_h1 = heading
            continue
        if (
            (m := _SETEXT.match(line))
            and body
            and body[-1].strip()
            and not body[-1].lstrip().startswith(("-", "*", "+", ">"))
        ):
            heading = _collapse(body.pop())
            flush()
            current = heading
            if m.group(1).startswith("=") and first_h1 is None:
                first_h1 = heading
            continue
        body.append(line)
    flush()
    title = front_title or first_h1 or _stem(filename)
    return ParsedDocument(title, MARKDOWN, _sections_or_empty(sections, filename), None)


def _parse_text(path: Path, filename: str) -> ParsedDocument:
    text = normalize_text(_read_text(path, filename))
    sections = [Section(text, None, None)] if text else []
    return ParsedDocument(_stem(filename), TEXT, _sections_or_empty(sections, filename), None)

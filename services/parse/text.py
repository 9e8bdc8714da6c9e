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

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_TITLE = re.compile(r"^title\s*:\s*(.+?)\s*$", re.I)


def _read_text(path: Path, filename: str) -> str:
    data = path.read_bytes()
    kind = binary_kind(data[:SNIFF_BYTES])
    if kind is not None:
        raise ParseError("unsupported_type", f"{filename}: {kind}, not text")
    return _decode(data)


def _parse_markdown(path: Path, filename: str) -> ParsedDocument:
    text = _read_text(path, filename).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")

    front_title: str | None = None
    if lines and lines[0].strip() == "---":  # YAML front matter
        for end in range(1, min(len(lines), 200)):
            if lines[end].strip() in ("---", "..."):
                for line in lines[1:end]:
                    if m := _FRONT_TITLE.match(line):
                        front_title = m.group(1).strip("'\"") or None
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
        if m := _ATX.match(line):
            heading = _collapse(m.group(2) or "")
            flush()
            current = heading or None
            if len(m.group(1)) == 1 and first_h1 is None and heading:
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

"""HTML → sections in one pass over lxml's tree: linear in the input, whatever its shape.

The BeautifulSoup version walked the tree once per rule (find_all, find_parent per chrome tag,
insert_before per block): 20k nested divs took 17.6 s, 40k sibling paragraphs 43 s, and a 2.2 MB page
of 200k nested divs did not finish in 300 s, stalling every document behind it. Here libxml2 builds
the tree and one ``iterwalk`` emits the text with markers for paragraphs, lines, table cells and
headings; noise (scripts, navigation, forms, hidden elements, site chrome outside the article) is
skipped as a whole subtree. A page with more than ``max_elements`` elements is ``too_complex``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from services.parse.document import (
    HTML,
    SNIFF_BYTES,
    ParsedDocument,
    ParseError,
    Section,
    _collapse,
    _sections_or_empty,
    _stem,
    binary_kind,
    normalize_text,
)

NOISE = frozenset(
    {"script", "style", "nav", "aside", "noscript", "form", "template", "iframe", "svg", "canvas",
     "button", "select", "head"}
)  # fmt: skip
CHROME = frozenset({"header", "footer"})  # site chrome, unless inside the article itself
ARTICLE = frozenset({"article", "main"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCKS = frozenset(
    {"address", "article", "blockquote", "caption", "dd", "details", "dialog", "div", "dl", "dt",
     "fieldset", "figcaption", "figure", "header", "footer", "hr", "li", "main", "ol", "p", "pre",
     "section", "summary", "table", "tr", "ul"}
)  # fmt: skip
MAX_ELEMENTS = 1_000_000
# Permalink marks next to headings and definitions (Sphinx/MkDocs, Jupyter, anchor.js, VitePress,
# Docusaurus): a "¶" or "#" that belongs to no sentence.
ANCHOR_CLASSES = frozenset({"headerlink", "anchor-link", "anchorjs-link", "header-anchor", "hash-link"})
_DECLARED = re.compile(rb"<meta[^>]+charset|^\xef\xbb\xbf|^\xff\xfe|^\xfe\xff", re.I)

# private-use code points: cannot come from the document once normalize_text-ed input is parsed
_PARA, _LINE, _CELL, _HEAD = "\ue000", "\ue001", "\ue002", "\ue003"
_PRIVATE = re.compile("[\ue000-\ue003]")


def _tag(element: Any) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""  # comments and PIs have a callable tag


def parse_html(path: Path, filename: str, max_elements: int = MAX_ELEMENTS) -> ParsedDocument:
    data = path.read_bytes()
    kind = binary_kind(data[:SNIFF_BYTES])
    if kind is not None:
        raise ParseError("unsupported_type", f"{filename}: {kind}, not HTML")
    # huge_tree: libxml2 otherwise stops nesting at depth 256 and silently drops the rest of the text.
    # A page that declares no charset is read as UTF-8 when it is valid UTF-8 (libxml2 would assume
    # Latin-1 and turn every "¶" or "é" into two characters).
    parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, huge_tree=True,
                                  encoding=_undeclared_utf8(data))  # fmt: skip
    try:
        root = lxml_html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError("corrupt", f"{filename}: unreadable HTML: {type(exc).__name__}: {exc}") from exc
    del data
    # libxml2 stops nesting at depth 2048 and drops the rest of the text: refuse rather than lose it
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        raise ParseError("too_complex", f"{filename}: HTML nested deeper than the parser's limit (2048)")
    title_el = root.find(".//title")
    page_title = _collapse(title_el.text_content()) if title_el is not None else ""
    body = root.find("body")
    headings, first_h1, flat = _walk(body if body is not None else root, filename, max_elements)
    flat = " ".join(flat.split())  # HTML whitespace is insignificant outside markers
    flat = re.sub(rf"\s*{_CELL}\s*(?={_PARA}|$)", "", flat)  # a row's trailing cell separator
    flat = re.sub(rf"\s*{_CELL}\s*", " | ", flat)
    flat = re.sub(rf"\s*{_LINE}\s*", "\n", flat)
    flat = re.sub(rf"\s*{_PARA}[\s{_PARA}]*", "\n\n", flat)

    sections: list[Section] = []
    current: str | None = None
    for i, part in enumerate(re.split(rf"{_HEAD}(\d+){_HEAD}", flat)):
        if i % 2 == 1:
            current = headings[int(part)]
            continue
        text = normalize_text(part)
        if text:
            sections.append(Section(text, None, current))
    title = page_title or first_h1 or _stem(filename)
    return ParsedDocument(title, HTML, _sections_or_empty(sections, filename), None)


def _undeclared_utf8(data: bytes) -> str | None:
    """ "utf-8" for a page without a BOM or a <meta> charset that decodes as UTF-8; else None (libxml2
    follows the declaration)."""
    if _DECLARED.search(data[:4096]):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "utf-8"


def _is_permalink(el: Any) -> bool:
    return bool(ANCHOR_CLASSES.intersection((el.get("class") or "").split()))


def _walk(top: Any, filename: str, max_elements: int) -> tuple[list[str], str | None, str]:
    """One pass: the text with markers, the headings it refers to, and the first h1's text."""
    out: list[str] = []
    headings: list[str] = []
    first_h1: str | None = None
    skipping: Any = None  # the element whose subtree is being skipped
    in_article = 0
    heading: list[str] | None = None  # the text of the heading being read
    heading_el: Any = None
    seen = 0

    def emit(text: str | None) -> None:
        if text:
            clean = _PRIVATE.sub("", text)
            (heading if heading is not None else out).append(clean)

    def mark(marker: str) -> None:
        # inside a heading a marker is only a word break: the heading becomes one line
        (heading if heading is not None else out).append(" " if heading is not None else marker)

    for event, el in etree.iterwalk(top, events=("start", "end")):
        tag = _tag(el)
        if event == "start":
            seen += 1
            if seen > max_elements:
                raise ParseError("too_complex", f"{filename}: more than {max_elements} HTML elements")
            if skipping is not None or not tag:
                continue
            chrome = tag in CHROME and not in_article
            if tag in NOISE or el.get("hidden") is not None or chrome or (tag == "a" and _is_permalink(el)):
                skipping = el
                continue
            if tag in ARTICLE:
                in_article += 1
            if tag in HEADINGS and heading is None:
                heading, heading_el = [], el
            elif tag == "br":
                mark(_LINE)
            elif tag in BLOCKS:
                mark(_PARA)
            emit(el.text)
            continue
        # end
        if skipping is not None:
            if el is skipping:
                skipping = None
                emit(el.tail)
            continue
        if not tag:
            emit(el.tail)
            continue
        if tag in ARTICLE:
            in_article -= 1
        if el is heading_el and heading is not None:
            text = _collapse("".join(heading))
            heading, heading_el = None, None
            if text:
                if tag == "h1" and first_h1 is None:
                    first_h1 = text
                out.append(f"{_PARA}{_HEAD}{len(headings)}{_HEAD}{_PARA}")
                headings.append(text)
        elif tag in ("td", "th"):
            mark(_CELL)
        elif tag in BLOCKS:
            mark(_PARA)
        emit(el.tail)
    return headings, first_h1, "".join(out)

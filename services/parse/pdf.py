"""PDF: pypdf, pdfminer.six as a fallback when it is installed; outline headings become sections,
wrapped lines are reflowed."""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from services.parse.document import (
    PDF,
    ParsedDocument,
    ParseError,
    Section,
    _collapse,
    _sections_or_empty,
    _stem,
    normalize_text,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------

_SENTENCE_END = (".", "!", "?", ":", ";", '"', "'", ")", "\u201d", "\u2019")
_BAD_PDF_TITLES = re.compile(r"^(untitled|microsoft word - .*|.*\.(docx?|pdf|rtf|odt|tex|indd))$", re.I)


def _reflow(lines: list[str]) -> str:
    """Join visually wrapped PDF lines into paragraphs.

    pypdf emits one line per text line and no blank lines between paragraphs. A line ends a
    paragraph when it is short compared with the page's longest line (a last line, a heading, a
    list item); long lines are joined with a space (no space after a trailing hyphen).
    """
    lines = [" ".join(line.split()) for line in lines]
    widest = max((len(line) for line in lines), default=0)
    short = widest * 0.7
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
                current = ""
            continue
        if not current:
            current = line
        elif current.endswith("-") and not current.endswith(" -"):
            current += line
        else:
            current += " " + line
        if len(line) < short:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


@dataclass(slots=True)
class _Heading:
    page: int  # 0-based
    top: float
    title: str
    order: int


def _pdf_headings(reader: Any) -> list[_Heading]:
    """The outline (bookmarks) flattened to headings sorted in reading order; [] when unusable."""
    found: list[_Heading] = []

    def walk(items: Any) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
                continue
            try:
                title = _collapse(str(item.title or ""))
                page = reader.get_destination_page_number(item)
            except MemoryError:
                raise  # over the parse worker's memory limit: services/parse/isolation.py
            except Exception:  # a dangling or malformed bookmark: ignore it
                continue
            if not title or page is None or page < 0:
                continue
            try:
                top = float(item.top) if item.top is not None else float("inf")
            except MemoryError:
                raise  # over the parse worker's memory limit: services/parse/isolation.py
            except Exception:
                top = float("inf")
            found.append(_Heading(page, top, title, len(found)))

    try:
        walk(reader.outline)
    except MemoryError:
        raise  # over the parse worker's memory limit: services/parse/isolation.py
    except Exception as exc:
        log.debug("pdf outline unreadable: %s", exc)
        return []
    # PDF y grows upwards: a larger top is higher on the page, hence earlier
    found.sort(key=lambda h: (h.page, -h.top, h.order))
    return found


def _find_heading(lines: list[str], start: int, wanted: str) -> tuple[int, int] | None:
    """First run of 1-3 lines from ``start`` that spells the heading (long headings wrap)."""
    for i in range(start, len(lines)):
        for span in (1, 2, 3):
            if i + span > len(lines):
                break
            joined = _collapse(" ".join(lines[i : i + span])).casefold()
            if joined == wanted:
                return i, i + span
            if not wanted.startswith(joined):
                break
    return None


def _pdf_page_sections(
    raw: str, page_no: int, headings: list[_Heading], current: str | None
) -> tuple[list[Section], str | None]:
    """Split one page's text at the headings that point at it; return sections and the title in force."""
    lines = normalize_text(raw).split("\n")
    sections: list[Section] = []
    start = 0
    for heading in headings:
        hit = _find_heading(lines, start, heading.title.casefold())
        if hit is None:
            # not visible as its own line(s): the rest of the page goes under it
            current = heading.title
            continue
        body = _reflow(lines[start : hit[0]])
        if body:
            sections.append(Section(body, page_no, current))
        current = heading.title
        start = hit[1]
    body = _reflow(lines[start:])
    if body:
        sections.append(Section(body, page_no, current))
    return sections, current


def _pdf_title(reader: Any, headings: list[_Heading], filename: str) -> str:
    try:
        meta = reader.metadata
        title = _collapse(str(meta.title)) if meta is not None and meta.title else ""
    except MemoryError:
        raise  # over the parse worker's memory limit: services/parse/isolation.py
    except Exception:
        title = ""
    if title and not _BAD_PDF_TITLES.match(title):
        return title
    if headings:
        return headings[0].title
    return _stem(filename)


def _parse_pdf(path: Path, filename: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    # Hand pypdf an open file: given a path it would read the whole file into a BytesIO first.
    with path.open("rb") as fh:
        try:
            reader = PdfReader(fh, strict=False)
            encrypted = reader.is_encrypted
        except MemoryError:
            raise  # over the parse worker's memory limit: services/parse/isolation.py
        except Exception as exc:
            return _pdfminer_or_raise(fh, filename, exc)
        if encrypted:
            try:
                opened = reader.decrypt("")  # owner-password-only PDFs open with an empty password
            except (DependencyError, NotImplementedError) as exc:
                raise ParseError("encrypted", f"{filename}: encrypted PDF ({exc})") from exc
            except MemoryError:
                raise  # over the parse worker's memory limit: services/parse/isolation.py
            except Exception as exc:
                raise ParseError(
                    "encrypted", f"{filename}: encrypted PDF that cannot be opened: {exc}"
                ) from exc
            if not opened:
                raise ParseError("encrypted", f"{filename}: PDF is password-protected")
        try:
            page_count = len(reader.pages)
        except FileNotDecryptedError as exc:
            raise ParseError("encrypted", f"{filename}: PDF is password-protected") from exc
        except MemoryError:
            raise  # over the parse worker's memory limit: services/parse/isolation.py
        except Exception as exc:
            return _pdfminer_or_raise(fh, filename, exc)
        if page_count == 0:
            raise ParseError("empty", f"{filename}: PDF has no pages")

        headings = _pdf_headings(reader)
        by_page: dict[int, list[_Heading]] = {}
        for h in headings:
            by_page.setdefault(h.page, []).append(h)

        sections: list[Section] = []
        current: str | None = None
        failures = 0
        first_error: Exception | None = None
        for index in range(page_count):
            try:
                raw = reader.pages[index].extract_text() or ""
            except MemoryError:
                raise  # over the parse worker's memory limit: services/parse/isolation.py
            except Exception as exc:  # one bad page must not sink the document
                failures += 1
                first_error = first_error or exc
                log.warning("pdf %s: page %d unreadable: %s", filename, index + 1, exc)
                raw = ""
            page_sections, current = _pdf_page_sections(raw, index + 1, by_page.get(index, []), current)
            sections.extend(page_sections)

        if failures == page_count and first_error is not None:
            return _pdfminer_or_raise(fh, filename, first_error)
        if not sections and _pdfminer_available():
            return _pdfminer_or_raise(fh, filename, None)
        title = _pdf_title(reader, headings, filename)
    return ParsedDocument(title, PDF, _sections_or_empty(sections, filename), page_count)


def _pdfminer_available() -> bool:
    return importlib.util.find_spec("pdfminer") is not None


def _pdfminer_or_raise(fh: IO[bytes], filename: str, error: Exception | None) -> ParsedDocument:
    """Second opinion from pdfminer.six when installed; else ``corrupt`` (or ``empty``)."""
    if _pdfminer_available():  # pragma: no cover - pdfminer.six is optional and not installed in CI
        try:
            from pdfminer.high_level import extract_pages
            from pdfminer.layout import LTTextContainer

            fh.seek(0)
            sections = []
            page_count = 0
            for page_count, layout in enumerate(extract_pages(fh), start=1):
                text = "\n\n".join(
                    " ".join(el.get_text().split()) for el in layout if isinstance(el, LTTextContainer)
                )
                text = normalize_text(text)
                if text:
                    sections.append(Section(text, page_count, None))
            if sections:
                return ParsedDocument(_stem(filename), PDF, sections, page_count)
        except MemoryError:
            raise  # over the parse worker's memory limit: services/parse/isolation.py
        except Exception as exc:
            log.debug("pdfminer fallback failed for %s: %s", filename, exc)
    if error is None:
        raise ParseError("empty", f"{filename}: no text could be extracted (scanned PDF?)")
    raise ParseError("corrupt", f"{filename}: unreadable PDF: {type(error).__name__}: {error}") from error

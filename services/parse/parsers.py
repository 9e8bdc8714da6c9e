"""Pure document parsing: bytes on disk -> a title and a list of text sections.

No Kafka, no I/O besides reading the one file. Every failure a caller should route to a dead-letter
topic is a :class:`ParseError` with a machine-readable ``reason``; anything else (a missing file,
``MemoryError``) propagates unchanged.

Supported types (see :func:`detect_content_type`): PDF (pypdf, pdfminer.six as a fallback when it
is installed), DOCX (python-docx), HTML (beautifulsoup4 + lxml), Markdown and plain text.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

log = logging.getLogger(__name__)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
SUPPORTED_CONTENT_TYPES: frozenset[str] = frozenset({PDF, DOCX, HTML, MARKDOWN, TEXT})

ParseErrorReason = Literal[
    "unsupported_type", "empty", "corrupt", "encrypted", "too_large", "too_complex", "timeout"
]
PARSE_ERROR_REASONS: tuple[ParseErrorReason, ...] = (
    "unsupported_type",
    "empty",
    "corrupt",
    "encrypted",
    "too_large",
    "too_complex",  # over a structural limit (HTML elements)
    "timeout",  # over the parse time limit (services/parse/isolation.py)
)

#: Files above this size are refused with ``too_large`` unless the caller passes another limit.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: How many leading bytes :func:`parse_document` reads to sniff the type.
SNIFF_BYTES = 8192

_EXTENSIONS: dict[str, str] = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".mdown": MARKDOWN,
    ".mkd": MARKDOWN,
    ".txt": TEXT,
    ".text": TEXT,
}
# MIME aliases a caller (an upload form, a blob store) may hand us.
_CONTENT_TYPE_ALIASES: dict[str, str] = {
    "application/xhtml+xml": HTML,
    "text/x-markdown": MARKDOWN,
    "text/md": MARKDOWN,
    "application/x-pdf": PDF,
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text under one heading. ``page`` is 1-based (PDF only); ``title`` is the heading."""

    text: str
    page: int | None
    title: str | None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    content_type: str
    sections: list[Section] = field(default_factory=list)
    page_count: int | None = None

    @property
    def text(self) -> str:
        """All section texts joined by blank lines (titles left out)."""
        return "\n\n".join(s.text for s in self.sections)


class ParseError(Exception):
    """A document that cannot be turned into text, with a machine-readable ``reason``."""

    def __init__(self, reason: ParseErrorReason, message: str) -> None:
        if reason not in PARSE_ERROR_REASONS:
            raise ValueError(f"unknown parse error reason {reason!r}")
        super().__init__(message)
        self.reason: ParseErrorReason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:  # keep it picklable for process pools
        return (type(self), (self.reason, self.message))


# --------------------------------------------------------------------------------------------------
# Type detection
# --------------------------------------------------------------------------------------------------


def _strip_bom(head: bytes) -> bytes:
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):
            return head[len(bom) :]
    return head


def _looks_like_html(head: bytes) -> bool:
    start = _strip_bom(head).lstrip()[:1024].lower()
    # utf-16 html: drop the NULs before looking
    if b"\x00" in start[:64]:
        start = start.replace(b"\x00", b"")
    if start.startswith((b"<!doctype html", b"<html")):
        return True
    # an XML prolog or a leading comment, then an <html> element
    return start.startswith((b"<?xml", b"<!--")) and b"<html" in start


def _sniff(head: bytes) -> str | None:
    """What the leading bytes say for sure: PDF, ``zip``, ``ole``, HTML, or nothing."""
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole"
    if _looks_like_html(head):
        return HTML
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sniffed window is fine
        return exc.start >= len(head) - 3
    return True


def normalize_content_type(content_type: str | None) -> str | None:
    """``"text/html; charset=utf-8"`` -> ``"text/html"``; aliases mapped; ``None`` for blanks."""
    if not content_type:
        return None
    ct = content_type.split(";", 1)[0].strip().lower()
    if not ct or ct == "application/octet-stream":
        return None
    return _CONTENT_TYPE_ALIASES.get(ct, ct)


def detect_content_type(filename: str, head: bytes) -> str:
    """Return the content type of a file from its name and first bytes.

    Magic bytes win over the extension when they positively identify a type (``%PDF-``, a zip
    holding ``word/``, an ``<html>`` document), so a PDF named ``.txt`` is a PDF. Otherwise the
    extension decides; a file whose extension promises a binary type but whose bytes disagree keeps
    that type and fails later as ``corrupt``. Unknown extensions raise ``unsupported_type``; a file
    without an extension is plain text when its head decodes as UTF-8.
    """
    ext = Path(filename).suffix.lower()
    sniffed = _sniff(head)
    if sniffed == PDF:
        return PDF
    if sniffed == "zip":
        if b"word/" in head or ext == ".docx":
            return DOCX
        raise ParseError("unsupported_type", f"{filename}: a zip archive that is not a Word document")
    if sniffed == "ole":
        if ext == ".docx":
            return DOCX  # a password-protected .docx is an OLE container; the parser says so
        raise ParseError(
            "unsupported_type", f"{filename}: legacy OLE compound file (.doc/.xls/.ppt) is not supported"
        )
    if sniffed == HTML:
        return HTML
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if not ext and _looks_like_text(head):
        return TEXT
    raise ParseError("unsupported_type", f"{filename}: unsupported file type {ext or '(no extension)'!r}")


# --------------------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------------------

_LIGATURES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
        "\u00a0": " ",  # no-break space
        "\u2007": " ",
        "\u202f": " ",
        "\u00ad": None,  # soft hyphen
        "\u200b": None,  # zero-width space
        "\ufeff": None,  # BOM / zero-width no-break space
        "\t": " ",
        "\f": "\n",
        "\v": "\n",
        "\u2028": "\n",
        "\u2029": "\n\n",
        "\x85": "\n",
    }
)
# C0/C1 controls other than \n (tabs, form feeds are mapped above), and the replacement char.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd]")
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NL = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFC, ligatures and odd spaces mapped, controls dropped, runs of spaces collapsed, lines
    stripped, at most one blank line between paragraphs, no leading/trailing whitespace."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    text = _CONTROL.sub("", text)
    text = _INLINE_SPACE.sub(" ", text)
    text = _SPACE_AROUND_NL.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _collapse(text: str) -> str:
    """Everything on one line: every whitespace run becomes one space."""
    return " ".join(normalize_text(text).split())


def _decode(data: bytes) -> str:
    """UTF-8 (BOM tolerated), UTF-16 with a BOM, then cp1252, then latin-1 (never fails)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _stem(filename: str) -> str:
    stem = Path(filename).stem.strip()
    return stem or filename or "untitled"


def _sections_or_empty(sections: Iterable[Section], filename: str) -> list[Section]:
    kept = [s for s in sections if s.text]
    if not kept:
        raise ParseError("empty", f"{filename}: no text could be extracted")
    return kept


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def parse_document(
    path: str | Path,
    filename: str,
    content_type: str | None = None,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> ParsedDocument:
    """Parse the file at ``path`` (originally called ``filename``) into sections of text.

    ``content_type`` is the caller's claim (an upload's MIME type, parameters and
    ``application/octet-stream`` ignored); it is used when supported and the magic bytes say
    nothing (a PDF, zip, OLE or ``<html>`` head is always trusted over the claim). Without a usable
    claim the type comes from :func:`detect_content_type`. Raises :class:`ParseError`; a missing
    file raises ``FileNotFoundError``. ``max_bytes=None`` lifts the size limit.
    """
    path = Path(path)
    size = path.stat().st_size  # a missing file is the caller's bug: FileNotFoundError propagates
    if size == 0:
        raise ParseError("empty", f"{filename}: file is empty (0 bytes)")
    if max_bytes is not None and size > max_bytes:
        raise ParseError("too_large", f"{filename}: {size} bytes is over the limit of {max_bytes} bytes")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)

    claimed = normalize_content_type(content_type)
    sniffed = _sniff(head)
    if (sniffed is None and claimed in SUPPORTED_CONTENT_TYPES) or (sniffed == "zip" and claimed == DOCX):
        ctype = claimed
    else:
        ctype = detect_content_type(filename, head)

    if ctype == PDF:
        return _parse_pdf(path, filename)
    if ctype == DOCX:
        return _parse_docx(path, filename, head)
    if ctype == HTML:
        return _parse_html(path, filename)
    if ctype == MARKDOWN:
        return _parse_markdown(path, filename)
    if ctype == TEXT:
        return _parse_text(path, filename)
    raise ParseError("unsupported_type", f"{filename}: unsupported content type {ctype!r}")


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


# --------------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def _ole_is_encrypted(path: Path) -> bool:
    """Password-protected OOXML files are OLE containers with an ``EncryptionInfo`` stream."""
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    return "EncryptionInfo".encode("utf-16-le") in head


def _table_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats; keep it once
                continue
            previous = cell._tc
            text = _collapse(cell.text)
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def _parse_docx(path: Path, filename: str, head: bytes) -> ParsedDocument:
    import docx

    if head.startswith(_OLE_MAGIC):
        if _ole_is_encrypted(path):
            raise ParseError("encrypted", f"{filename}: password-protected Word document")
        raise ParseError("corrupt", f"{filename}: legacy OLE file (.doc?) named .docx")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError("corrupt", f"{filename}: not a valid .docx (zip) file: {exc}") from exc
    if "word/document.xml" not in names and not any(n.startswith("word/") for n in names):
        raise ParseError("corrupt", f"{filename}: zip archive without word/document.xml")
    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
    except MemoryError:
        raise  # over the parse worker's memory limit: services/parse/isolation.py
    except Exception as exc:
        raise ParseError("corrupt", f"{filename}: unreadable .docx: {type(exc).__name__}: {exc}") from exc

    from docx.table import Table

    sections: list[Section] = []
    paragraphs: list[str] = []
    current: str | None = None
    title_style: str | None = None
    first_heading: str | None = None

    def flush() -> None:
        text = normalize_text("\n\n".join(paragraphs))
        if text:
            sections.append(Section(text, None, current))
        paragraphs.clear()

    try:
        for block in blocks:
            if isinstance(block, Table):
                paragraphs.append("\n".join(_table_rows(block)))
                continue
            text = _collapse(block.text)
            if not text:
                continue
            style = (block.style.name or "") if block.style is not None else ""
            if style.strip().lower() == "title":
                title_style = title_style or text
                continue
            if _HEADING_STYLE.match(style.strip()):
                flush()
                current = text
                first_heading = first_heading or text
                continue
            paragraphs.append(text)
        flush()
    except MemoryError:
        raise  # over the parse worker's memory limit: services/parse/isolation.py
    except Exception as exc:
        raise ParseError("corrupt", f"{filename}: unreadable .docx: {type(exc).__name__}: {exc}") from exc

    try:
        core_title = _collapse(document.core_properties.title or "")
    except MemoryError:
        raise  # over the parse worker's memory limit: services/parse/isolation.py
    except Exception:
        core_title = ""
    title = core_title or title_style or first_heading or _stem(filename)
    return ParsedDocument(title, DOCX, _sections_or_empty(sections, filename), None)


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------


def _parse_html(path: Path, filename: str) -> ParsedDocument:
    from services.parse.html import parse_html  # one pass over lxml's tree (linear in the input)

    return parse_html(path, filename)


# --------------------------------------------------------------------------------------------------
# Markdown and plain text
# --------------------------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_TITLE = re.compile(r"^title\s*:\s*(.+?)\s*$", re.I)


# Bytes text never holds: C0 controls but tab, newlines, form feed, backspace and escape; and DEL.
_NOT_TEXT = bytes(sorted(set(range(32)) - {8, 9, 10, 12, 13, 27} | {127}))


def binary_kind(sample: bytes) -> str | None:
    """What a would-be text file really is, if it is binary: a known format by its magic number
    (``filetype``: archives, images, audio, video, executables, fonts), or "binary data" when over
    5% of its bytes are control bytes and it is not UTF-8/UTF-16 text. None for text."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 with a BOM: NULs are expected
    import filetype

    kind = filetype.guess(sample)
    if kind is not None:
        return f"{kind.mime} data"
    if not sample:
        return None
    controls = len(sample) - len(sample.translate(None, _NOT_TEXT))
    return "binary data" if controls > len(sample) // 20 else None


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

"""What a parsed document is (a title and text sections), the reasons a parse fails, how a file's type
is told (magic bytes, the caller's claim, the name), and the text clean-up every parser applies.
The parsers of each format (``pdf``, ``word``, ``html``, ``text``) build on it; ``parsers.parse_document``
picks one."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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

"""Pure document parsing: bytes on disk -> a title and a list of text sections.

No Kafka, no I/O besides reading the one file. Every failure a caller should route to a dead-letter
topic is a :class:`ParseError` with a machine-readable ``reason``; anything else (a missing file,
``MemoryError``) propagates unchanged.

Supported types (see :func:`detect_content_type`): PDF (pypdf, pdfminer.six as a fallback when it
is installed), DOCX (python-docx), HTML (beautifulsoup4 + lxml), Markdown and plain text.
"""

from __future__ import annotations

from pathlib import Path

from services.parse.document import (
    DEFAULT_MAX_BYTES,
    DOCX,
    HTML,
    MARKDOWN,
    PARSE_ERROR_REASONS,
    PDF,
    SNIFF_BYTES,
    SUPPORTED_CONTENT_TYPES,
    TEXT,
    ParsedDocument,
    ParseError,
    Section,
    _sniff,
    binary_kind,
    detect_content_type,
    normalize_content_type,
    normalize_text,
)
from services.parse.html import parse_html
from services.parse.pdf import _parse_pdf
from services.parse.text import _parse_markdown, _parse_text
from services.parse.word import _parse_docx

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DOCX",
    "HTML",
    "MARKDOWN",
    "PARSE_ERROR_REASONS",
    "PDF",
    "SUPPORTED_CONTENT_TYPES",
    "TEXT",
    "ParseError",
    "ParsedDocument",
    "Section",
    "binary_kind",
    "detect_content_type",
    "normalize_content_type",
    "normalize_text",
    "parse_document",
]

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
        return parse_html(path, filename)  # one pass over lxml's tree (linear in the input)
    if ctype == MARKDOWN:
        return _parse_markdown(path, filename)
    if ctype == TEXT:
        return _parse_text(path, filename)
    raise ParseError("unsupported_type", f"{filename}: unsupported content type {ctype!r}")

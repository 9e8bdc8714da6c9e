"""DOCX (python-docx): heading styles become sections, tables become rows of text; an encrypted
(OLE) file is refused as such."""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.parse.document import (
    _OLE_MAGIC,
    DOCX,
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

"""A stand-in parser that never finishes (importable by the spawned parse workers), and the hostile
files of bench/hostile_files.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.hostile_files import nested_html, zip_bomb_docx
from services.parse.parsers import parse_document

__all__ = ["nested_html", "never_finishes", "stalls_on_slow", "zip_bomb_docx"]


def never_finishes(path: Path, filename: str, content_type: str | None, **_: Any) -> Any:
    time.sleep(3600)


def stalls_on_slow(path: Path, filename: str, content_type: str | None, **kwargs: Any) -> Any:
    """Parses like the product, except that a file named slow* never finishes."""
    if filename.startswith("slow"):
        never_finishes(path, filename, content_type)
    return parse_document(path, filename, content_type, **kwargs)

"""A stand-in parser that never finishes (importable by the spawned parse workers), and the hostile
files of bench/hostile_files.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.hostile_files import nested_html, zip_bomb_docx

__all__ = ["nested_html", "never_finishes", "zip_bomb_docx"]


def never_finishes(path: Path, filename: str, content_type: str | None, **_: Any) -> Any:
    time.sleep(3600)

"""Measuring answers: the bundled golden set (``golden/``) and what ``ragstream eval`` computes on it."""

from __future__ import annotations

from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"

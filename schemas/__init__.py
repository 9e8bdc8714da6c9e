"""The Avro schemas: ``*.avsc`` in this folder are the only place a message shape is written.

``history/`` keeps every earlier published version (``<name>.v<N>.avsc``) so tests can prove each
new version reads old data and old readers read new data, and the registry-free decoder can still
read records written with them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastavro.schema import load_schema, parse_schema

SCHEMA_DIR = Path(__file__).parent
HISTORY_DIR = SCHEMA_DIR / "history"
NAMESPACE = "ragstream"


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob(f"{NAMESPACE}.*.avsc"))


def record_names() -> list[str]:
    """Full names of every record schema (enums and other named types excluded)."""
    names = []
    for path in schema_files():
        if json.loads(path.read_text())["type"] == "record":
            names.append(path.name.removesuffix(".avsc"))
    return names


@cache
def load(full_name: str) -> Any:
    """The parsed schema of ``full_name`` (e.g. ``ragstream.ChunkCreated``), named references resolved
    from sibling files."""
    return load_schema(str(SCHEMA_DIR / f"{full_name}.avsc"), _write_hint=False)


def expanded_json(full_name: str) -> str:
    """The schema with every named reference inlined: what a Schema Registry is given."""
    return json.dumps(load(full_name))


def history(full_name: str) -> list[Any]:
    """Earlier versions of a record, oldest first. History files are self-contained (references
    inlined, as ``expanded_json`` writes them), so they never change when a sibling schema does."""
    paths = HISTORY_DIR.glob(f"{full_name}.v*.avsc")
    ordered = sorted(paths, key=lambda p: int(p.name.removesuffix(".avsc").rsplit(".v", 1)[1]))
    return [parse_schema(json.loads(p.read_text()), _write_hint=False) for p in ordered]

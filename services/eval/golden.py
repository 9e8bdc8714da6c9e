"""A golden set on disk: ``golden.jsonl`` (one question per line) beside the ``docs/`` it is asked
about (services/eval/golden/README.md has the format)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

KINDS = ("named", "paraphrase", "graph", "followup", "unanswerable")


@dataclass(frozen=True)
class GoldenItem:
    id: str
    question: str
    kind: str
    sources: tuple[str, ...]  # file names relative to docs/
    facts: tuple[str, ...]
    conversation: str | None = None
    turn: int = 1

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load(root: Path, questions: Path | None = None) -> list[GoldenItem]:
    """The questions of the set in ``root``, or of another file about its documents (a clear
    ValueError for a malformed line)."""
    items = []
    path = questions or root / "golden.jsonl"
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = GoldenItem(
                id=str(raw["id"]),
                question=str(raw["question"]),
                kind=str(raw["kind"]),
                sources=tuple(raw.get("sources") or ()),
                facts=tuple(raw.get("facts") or ()),
                conversation=raw.get("conversation"),
                turn=int(raw.get("turn") or 1),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path.name} line {number}: {exc}") from exc
        if item.kind not in KINDS:
            raise ValueError(f"{path.name} line {number}: kind {item.kind!r} is not one of {KINDS}")
        items.append(item)
    return items


def documents(root: Path) -> list[Path]:
    """Every document to publish (noise included), in a stable order."""
    return sorted(p for p in (root / "docs").rglob("*") if p.is_file() and not p.name.startswith("."))


def sessions(items: list[GoldenItem]) -> Iterator[list[GoldenItem]]:
    """The questions in asking order: a standalone question alone, a conversation's turns together
    and in turn order (one chat session each)."""
    standalone = [[i] for i in items if i.conversation is None]
    talks = sorted((i for i in items if i.conversation is not None), key=lambda i: (i.conversation, i.turn))
    yield from standalone
    for _, turns in groupby(talks, key=lambda i: i.conversation):
        yield list(turns)


def gate(root: Path) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The set's ``gate.json``: (floors, ceilings) as (metric, value) pairs; a clear error without one."""
    path = root / "gate.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{root} has no gate.json (floors and ceilings for --gate)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return ([(k, float(v)) for k, v in raw.get("min", {}).items()],
            [(k, float(v)) for k, v in raw.get("max", {}).items()])  # fmt: skip

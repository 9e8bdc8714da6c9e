"""Has a new index generation caught up with the live one, and may it replace it?

One answer for both ways of reindexing: the embedded stack's (``Stack.reindex`` starts generation
N+1 in its own process and waits on this) and a cluster's (generation N+1 runs as its own workers,
``RAGSTREAM_GENERATION=vN+1``, and an operator swaps through the API's ``/v1/generations``). A
generation is its private topics under ``<prefix><label>.`` (the chunk topic it replays and the
topics publishers watch stay shared), its consumer groups suffixed ``.<label>``, and its collection
``<alias>_<label>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import topics
from services.common.settings import Settings
from services.ops import backlog
from services.roles import GENERATION_STAGES
from services.stores.ports import VectorIndex
from topics import TopicNames

SHARED = (topics.INGEST, topics.PARSED, topics.CHUNKS, topics.INDEXED)
LABEL = re.compile(r"^v\d+$")


class ReindexRefused(RuntimeError):
    """The new generation cannot replace the live one (nothing to replay, fewer chunks, not caught up)."""


def check_label(label: str) -> str:
    if not LABEL.fullmatch(label):
        raise ValueError(f"a generation label is v<number> (v2, v3, ...), not {label!r}")
    return label


def generation_names(names: TopicNames, label: str) -> TopicNames:
    """The topic and group names of generation ``label`` ("" = the first, unlabelled generation)."""
    return names.generation(label, SHARED) if label else names


def group_suffix(label: str) -> str:
    return f".{label}" if label else ""


def _label_file(settings: Settings) -> Path:
    return settings.data_dir / "index" / "live-generation.json"


def read_live_label(settings: Settings) -> str:
    """The label of the generation a reindex last swapped in on this home ("" for the first)."""
    try:
        return str(json.loads(_label_file(settings).read_text())["label"])
    except FileNotFoundError:
        return ""


def write_live_label(settings: Settings, label: str) -> None:
    path = _label_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"label": label}))
    os.replace(tmp, path)


def serving_names(settings: Settings, names: TopicNames) -> TopicNames:
    """The topic names of the generation searches read on this home: after a reindex its private
    topics (and their dead letters) carry its label."""
    return generation_names(names, read_live_label(settings))


def collection_of(alias: str, label: str) -> str:
    return f"{alias}_{label}" if label else f"{alias}_v1"


def label_of(alias: str, collection: str) -> str:
    """The generation label of a collection (``collection_of``'s inverse): "chunks_v1" → "",
    "chunks_v3" → "v3"."""
    return "" if collection == f"{alias}_v1" else collection.removeprefix(f"{alias}_")


@dataclass(frozen=True, slots=True)
class CatchUp:
    """A snapshot of generation ``target`` against the live collection ``previous``."""

    target: str
    previous: str | None
    lag: int  # messages its groups have yet to commit
    started: bool  # every group with something to read has committed something
    replayable: int  # messages in the chunk topic it replays
    live: int  # chunks in the live collection
    fresh: int  # chunks in the new one

    @property
    def caught_up(self) -> bool:
        return self.lag == 0 and self.started

    def refusal(self) -> str | None:
        """Why swapping this generation in would lose documents, or None."""
        if self.live and not self.replayable:
            return (
                f"nothing to replay: docs.chunks is empty while {self.previous} holds {self.live} chunks "
                "(was the broker's storage lost?); publish the documents again to rebuild"
            )
        if self.caught_up and self.fresh < self.live:
            return (
                f"{self.target} replayed all of docs.chunks but holds {self.fresh} chunks, {self.previous} "
                f"holds {self.live}: the replay source lacks documents, refusing to swap"
            )
        return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"caught_up": self.caught_up, "refusal": self.refusal()}


async def measure(bootstrap: str, names: TopicNames, label: str, vectors: VectorIndex, alias: str) -> CatchUp:
    """Where generation ``label`` stands (``names``: the live, unlabelled names)."""
    own = generation_names(names, label)
    rows = await asyncio.to_thread(backlog, bootstrap, own, group_suffix(label), GENERATION_STAGES)
    target = collection_of(alias, label)
    previous = await vectors.resolve(alias)
    collections = await vectors.collections()
    return CatchUp(
        target=target,
        previous=previous,
        lag=sum(r.lag for r in rows),
        started=all(r.committed > 0 for r in rows if r.end > 0),
        replayable=sum(r.end for r in rows if r.stage == "embed"),
        live=await vectors.count(previous, must={}) if previous else 0,
        fresh=await vectors.count(target, must={}) if target in collections else 0,
    )


async def swap(state: CatchUp, vectors: VectorIndex, alias: str) -> None:
    """Point the alias at the new generation, or refuse and say why."""
    if state.previous == state.target:
        raise ReindexRefused(f"{state.target} is already live")
    if reason := state.refusal():
        raise ReindexRefused(reason)
    if not state.caught_up:
        raise ReindexRefused(
            f"{state.target} is still catching up (lag {state.lag}, {state.fresh} of {state.live} chunks)"
        )
    await vectors.set_alias(alias, state.target)


class Generations:
    """Where a cluster's generations stand, and the swap, for an API process holding the vectors."""

    def __init__(self, bootstrap: str, names: TopicNames, vectors: VectorIndex, alias: str) -> None:
        self.bootstrap = bootstrap
        self.names = names
        self.vectors = vectors
        self.alias = alias

    async def state(self, label: str) -> CatchUp:
        return await measure(self.bootstrap, self.names, check_label(label), self.vectors, self.alias)

    async def swap(self, label: str) -> CatchUp:
        """Swap generation ``label`` in (ReindexRefused, saying why, when it may not)."""
        state = await self.state(label)
        await swap(state, self.vectors, self.alias)
        return state

"""A golden set asked of the agent graph in this process: no Kafka, no gateway, conversations in order
with their history, as a chat session would send it. What ``bench.answers``, ``bench.cache`` and the
answer tests share; ``ragstream eval`` asks a running deployment instead (``runner.py``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from services.agent.wiring import ask_inprocess, new_state
from services.common.messages import AgentState
from services.eval.golden import GoldenItem, sessions


@dataclass(frozen=True)
class Answered:
    item: GoldenItem
    state: AgentState  # the final state: answer, citations, the query searched, the passages, cached
    seconds: float


async def ask_golden(graph: Any, tenant: str, items: list[GoldenItem]) -> AsyncIterator[Answered]:
    """Every question through ``graph`` (``build_graph(deps)``), a conversation's turns in order, each
    with the turns before it as history."""
    for session in sessions(items):
        history: list[tuple[str, str]] = []
        for item in session:
            state = new_state(uuid.uuid4().hex, tenant, item.question, history)
            started = time.perf_counter()
            final = None
            async for event in ask_inprocess(graph, state):
                if event["type"] == "final":
                    final = event["state"]
            if final is None:
                raise RuntimeError(f"{item.id}: the graph ended without a final state")
            history += [("user", item.question), ("assistant", final.answer)]
            yield Answered(item, final, time.perf_counter() - started)

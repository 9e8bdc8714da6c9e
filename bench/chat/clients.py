"""The two executors a chat is timed on: the in-process agent graph (``ask_local``) and a websocket
to the gateway (``ask_remote``), each recording one question as a ``Run``."""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

TENANT = "bench"
SECRET = "bench-secret-" + uuid.uuid4().hex  # the gateway's secret: one per bench process
QUESTIONS = (
    "Who works for Helios Labs?",
    "Where is Helios Labs headquartered?",
    "What is 12 * 7?",
    "Which company makes the Jackal Ledger?",
    "Who works for Riverstone Biotech?",
    "Where does Quentin Eriksen live?",
    "Where is Juniper Networks headquartered?",
    "What does Helios Labs invest in?",
    "What is (250 + 17) / 3?",
    "Who works for Larkspur Robotics?",
)


@dataclass
class Run:
    """One question on one executor. Times are wall clock (``time.time()``) so they line up with the
    ``emitted_at`` of the reply events; ``start`` is when the question left the client."""

    question: str
    start: float
    statuses: list[tuple[str, float]] = field(default_factory=list)  # (step, received)
    tokens: list[float] = field(default_factory=list)
    final: float = math.nan
    answer: str = ""
    error: str = ""
    connect_s: float = math.nan
    accepted: float = math.nan
    request_id: str = ""
    received: dict[int, float] = field(default_factory=dict)  # seq -> client receive time

    @property
    def ttft(self) -> float:
        return self.tokens[0] - self.start if self.tokens else math.nan

    @property
    def ttlt(self) -> float:
        return self.final - self.start

    def status_at(self, step: str) -> float:
        return next((t for s, t in self.statuses if s == step), math.nan)

    @property
    def middle(self) -> str:
        """The step between plan and respond (retrieve or tool)."""
        return next((s for s, _ in self.statuses if s not in ("plan", "respond")), "")


async def ask_local(stack: Any, question: str) -> Run:
    from services.agent.wiring import ask_inprocess, new_state

    run = Run(question, time.time())
    state = new_state(uuid.uuid4().hex, TENANT, question)
    async for event in ask_inprocess(stack.agent, state):
        now = time.time()
        kind = event["type"]
        if kind == "status":
            run.statuses.append((event["step"], now))
        elif kind == "token":
            run.tokens.append(now)
        elif kind == "final":
            run.final = now
            run.answer = event["state"].answer
    return run


async def ask_remote(url: str, question: str, user: str, ws: Any = None) -> Run:
    """One question over the gateway, on ``ws`` if given (already open) else on a new socket."""
    from websockets.asyncio.client import connect

    from services.gateway import issue_token

    async with contextlib.AsyncExitStack() as stack:
        if ws is None:
            t = time.perf_counter()
            token = issue_token(SECRET, TENANT, user, 3600)
            ws = await stack.enter_async_context(connect(f"{url}?token={token}", ping_interval=None))
            connect_s = time.perf_counter() - t
        else:
            connect_s = math.nan
        run = Run(question, time.time(), connect_s=connect_s)
        await ws.send(json.dumps({"type": "ask", "question": question}))
        pieces: list[str] = []
        async for raw in ws:
            now = time.time()
            frame = json.loads(raw)
            kind = frame["type"]
            if "seq" in frame:
                run.received[frame["seq"]] = now
            if kind == "accepted":
                run.accepted, run.request_id = now, frame["request_id"]
            elif kind == "status":
                run.statuses.append((frame["step"], now))
            elif kind == "token":
                run.tokens.append(now)
                pieces.append(frame["text"])
            elif kind == "final":
                run.final, run.answer = now, frame["text"]
                if "".join(pieces) != run.answer:
                    run.error = "tokens do not add up to the final answer"
                break
            elif kind == "error":
                run.final, run.error = now, f"{frame.get('code')}: {frame.get('message')}"
                break
        else:
            run.error = "socket closed before final"
    return run

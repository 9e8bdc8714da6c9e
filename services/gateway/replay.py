"""The gateway's replay logic, free of sockets and Kafka: each request's event log (``RequestLog``)
and each socket's cursors into the logs it holds (``ClientSocket``). Replay after ``resume`` and live
delivery are one read path; a socket that falls too far behind is flagged, never blocks others."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from services.common.messages import Citation
from services.gateway.auth import Principal

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from services.gateway.feedback import Answered


@dataclass
class RequestLog:
    """One question's events as the gateway keeps them for its socket and for ``resume``.

    Events get an absolute index in arrival order (``base`` is the index of ``events[0]``); a socket's
    cursor is the index of the next event to send, so replay and live delivery are one read path.
    """

    request_id: str
    principal: Principal
    events: deque[tuple[int, str]] = field(default_factory=deque)  # (seq, frame) in seq order
    base: int = 0
    last_seq: int = -1  # highest seq received (later ones with seq <= this are redeliveries)
    dropped_upto: int = -1  # highest seq evicted from ``events``
    done: bool = False
    touched: float = field(default_factory=time.monotonic)
    holder: ClientSocket | None = None
    asked_at: float = field(default_factory=time.monotonic)  # the ask reached the gateway
    heard_at: float = field(default_factory=time.monotonic)  # published, or the agent's last event
    first_token: bool = False
    followed: bool = False  # adopted from another instance: its events come from a _Follower only
    question: str = ""
    session_id: str = ""
    citations: list[Citation] = field(default_factory=list)  # from the CITATIONS event
    answered: Answered | None = None  # set by the FINAL event: what a rating of it records

    @property
    def end(self) -> int:
        return self.base + len(self.events)

    def index_after(self, after_seq: int) -> int:
        """The index of the first kept event with seq > after_seq."""
        for i, (seq, _frame) in enumerate(self.events):
            if seq > after_seq:
                return self.base + i
        return self.end


class ClientSocket:
    """One socket: control frames in a queue, request events read through per-request cursors.

    ``lag_frames``/``lag_bytes`` count live events (those that arrived while this socket held the
    request) not yet written; over the budget, the socket is too slow and is closed with 1013.
    A replay at ``resume`` is read from the request's log as the socket drains and never counts.
    """

    def __init__(self, ws: ServerConnection, principal: Principal, max_frames: int, max_bytes: int) -> None:
        self.ws = ws
        self.principal = principal
        self.control: deque[str] = deque()
        self.cursors: dict[str, int] = {}  # request_id -> index of the next event to send
        self.live_from: dict[str, int] = {}  # request_id -> first index that counts as lag
        self.wake = asyncio.Event()
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.lag_frames = 0
        self.lag_bytes = 0
        self.overflowed = False

    @property
    def requests(self) -> list[str]:
        return list(self.cursors)

    def push(self, frame: str) -> bool:
        """Queue a control frame (pong, accepted, an error); False when that puts the socket over its
        budget: a client that sends pings and never reads is as slow as one that never reads answers."""
        self.control.append(frame)
        return self.add_lag(frame)

    def add_lag(self, frame: str) -> bool:
        """Count a live event; False when that puts the socket over its budget."""
        self.lag_frames += 1
        self.lag_bytes += len(frame)
        self.wake.set()
        return self.lag_frames <= self.max_frames and self.lag_bytes <= self.max_bytes

    def next_frame(self, requests: dict[str, RequestLog]) -> str | None:
        if self.control:
            frame = self.control.popleft()
            self.lag_frames -= 1
            self.lag_bytes -= len(frame)
            return frame
        for rid, cursor in list(self.cursors.items()):
            req = requests.get(rid)
            if req is None or req.holder is not self:
                self.drop(rid)
                continue
            if cursor < req.end:
                _seq, frame = req.events[cursor - req.base]
                if cursor >= self.live_from[rid]:
                    self.lag_frames -= 1
                    self.lag_bytes -= len(frame)
                if req.done and cursor + 1 == req.end:  # all sent: the socket lets go of it
                    req.holder = None
                    self.drop(rid)
                else:  # to the back: requests sharing a socket take turns
                    del self.cursors[rid]
                    self.cursors[rid] = cursor + 1
                return frame
        return None

    def drop(self, rid: str) -> None:
        self.cursors.pop(rid, None)
        self.live_from.pop(rid, None)

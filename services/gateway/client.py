"""A client of the chat protocol (docs/gateway-protocol.md): ask one question over the websocket and
collect the answer, its citations and timings. Used by `ragstream ask`/`chat` and `ragstream eval`.

A ``rate_limited`` error is not a failure: the client waits the ``retry_after_s`` the gateway names
and asks again (up to ``max_waits`` times and ``max_wait_s`` of waiting), so a long run of questions
from one user slows down to the allowed rate instead of failing from the first refusal on.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class AskFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass
class Answer:
    request_id: str = ""
    text: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # sent → final, without the time spent waiting out a rate limit
    first_token_s: float | None = None
    rate_limited_s: float = 0.0  # how long the client waited for the gateway's rate limit


def _auth(token: str) -> dict[str, str]:
    """The token in a header, not the URL: query strings end up in proxies' access logs."""
    return {"Authorization": f"Bearer {token}"}


def retry_after(event: dict[str, Any]) -> float | None:
    """The wait a ``rate_limited`` error frame names, in seconds (never negative); None for any other
    error, or a hint that is no number."""
    if event.get("code") != "rate_limited":
        return None
    try:
        return max(0.0, float(event.get("retry_after_s")))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


async def ask(
    gateway_url: str,
    token: str,
    question: str,
    session_id: str,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    max_waits: int = 20,
    timeout_s: float = 120.0,
    max_wait_s: float = 600.0,
) -> Answer:
    """The final answer to ``question`` (``AskFailed`` on an error frame other than a rate limit, or
    when the waits would pass ``max_wait_s`` in all). ``timeout_s`` bounds each asking, not the
    waits between them; each wait is the gateway's hint plus up to 10% (clients refused together
    do not all ask again at once)."""
    from websockets.asyncio.client import connect

    answer = Answer()
    async with connect(gateway_url, additional_headers=_auth(token), open_timeout=10, max_size=None) as ws:
        for _ in range(max_waits + 1):
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "ask", "question": question, "session_id": session_id}))
            wait: float | None = None
            async with asyncio.timeout(timeout_s):
                async for raw in ws:
                    event = json.loads(raw)
                    if on_event is not None:
                        on_event(event)
                    kind = event["type"]
                    if kind == "accepted":
                        answer.request_id = str(event["request_id"])
                    elif kind == "token" and answer.first_token_s is None:
                        answer.first_token_s = time.perf_counter() - sent
                    elif kind == "citations":
                        answer.citations = list(event["citations"])
                    elif kind == "final":
                        answer.text = event["text"]
                        answer.seconds = time.perf_counter() - sent
                        return answer
                    elif kind == "error":
                        wait = retry_after(event)
                        if wait is None:
                            raise AskFailed(str(event.get("code")), str(event.get("message")))
                        break  # ask again, after the wait
            if wait is None:
                raise AskFailed("closed", "the gateway closed the socket before answering")
            if answer.rate_limited_s + wait > max_wait_s:
                raise AskFailed(
                    "rate_limited",
                    f"the gateway asks for {wait:.0f}s more after {answer.rate_limited_s:.0f}s of waiting "
                    f"(at most {max_wait_s:.0f}s)",
                )
            wait *= 1 + random.uniform(0, 0.1)
            answer.rate_limited_s += wait
            await asyncio.sleep(wait)
    raise AskFailed("rate_limited", f"still rate-limited after waiting {answer.rate_limited_s:.0f}s")


async def rate(gateway_url: str, token: str, request_id: str, rating: str, comment: str = "") -> str:
    """Rate an answer ("up" or "down", with an optional comment); the feedback id it was recorded under."""
    from websockets.asyncio.client import connect

    frame = {"type": "feedback", "request_id": request_id, "rating": rating, "comment": comment}
    dial = connect(gateway_url, additional_headers=_auth(token), open_timeout=10)
    async with dial as ws, asyncio.timeout(30):
        await ws.send(json.dumps(frame))
        async for raw in ws:
            event = json.loads(raw)
            if event["type"] == "feedback_recorded":
                return str(event["feedback_id"])
            if event["type"] == "error":
                raise AskFailed(str(event.get("code")), str(event.get("message")))
    raise AskFailed("closed", "the gateway closed the socket before recording the rating")

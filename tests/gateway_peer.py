"""A stand-in for the agent and client helpers for the gateway's tests on a real broker and Redis.

A ``Responder`` is a real Kafka peer: it consumes ``chat.requests`` and publishes ``ReplyEvent``s to
each request's ``reply_to`` topic, scripted by words in the question (``n=<tokens>``, ``size=<chars
per token>``, ``gate=<name>`` + ``at=<seq>`` to pause before that seq until the test opens the gate,
``dup`` to publish every event twice). The fixtures that start them live in tests/integration/conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.common.codec import SingleObjectCodec
from services.common.messages import AgentState, Citation, ReplyEvent
from services.gateway import Gateway, issue_token
from topics import CHAT_REQUESTS, TopicNames

SECRET = "test-secret-" + uuid.uuid4().hex
CODEC = SingleObjectCodec()


class Responder:
    """Answers every AgentState on chat.requests with scripted ReplyEvents on its reply_to topic."""

    def __init__(self, bootstrap: str, names: TopicNames) -> None:
        self.topic = names(CHAT_REQUESTS)
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"responder-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,  # Tansu answers an empty fetch only when this expires
            }
        )
        meta = self.consumer.list_topics(self.topic, timeout=15).topics[self.topic]
        self.consumer.assign([TopicPartition(self.topic, p, 0) for p in meta.partitions])
        self.gates: dict[str, threading.Event] = {}
        self.seen: list[AgentState] = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(8)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def gate(self, name: str) -> threading.Event:
        return self.gates.setdefault(name, threading.Event())

    def close(self) -> None:
        self._stop.set()
        for gate in self.gates.values():
            gate.set()
        self._thread.join(10)
        self._pool.shutdown(wait=True)
        self.producer.flush(10)
        self.consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self.consumer.consume(50, 0.1):
                if msg.error():
                    continue
                state = CODEC.decode(msg.value() or b"", AgentState, self.topic)
                self.seen.append(state)
                self._pool.submit(self._answer, state)

    def _answer(self, state: AgentState) -> None:
        words: dict[str, str] = {}
        for word in state.question.split():
            name, _, value = word.partition("=")
            words[name] = value or "1"
        n, size = int(words.get("n", "5")), int(words.get("size", "0"))
        tokens = [f"t{i}" + "x" * size + " " for i in range(n)]
        script: list[tuple[str, dict[str, Any]]] = [
            ("STATUS", {"step": "plan"}),
            ("STATUS", {"step": "retrieve"}),
            *[("TOKEN", {"text": t}) for t in tokens],
            (
                "CITATIONS",
                {"citations": [Citation(n=1, chunk_id="c1", doc_id="d1", title="T", source_uri="u")]},
            ),
            ("FINAL", {"text": "".join(tokens)}),
        ]
        gate = self.gates.get(words["gate"]) if "gate" in words else None
        events = list(enumerate(script))
        if "rerun" in words:  # the step died before its end and ran again on another path: fewer events
            again = [("TOKEN", {"text": "again "}), script[-2], ("FINAL", {"text": "again "})]
            events = [*events[:-2], *enumerate(again, start=2)]
        for seq, (kind, fields) in events:
            if gate is not None and seq == int(words.get("at", "0")):
                self.producer.flush(10)
                gate.wait(30)
            event = ReplyEvent.model_validate(
                {"request_id": state.request_id, "seq": seq, "type": kind, "emitted_at": datetime.now(UTC)}
                | fields
            )
            data = CODEC.encode(event, state.reply_to)
            for _ in range(2 if "dup" in words else 1):
                self.producer.produce(state.reply_to, key=state.request_id.encode(), value=data)
                self.producer.poll(0)
        self.producer.flush(10)


StartGateway = Callable[..., Awaitable[Gateway]]


def token(tenant: str = "acme", user: str = "alice", ttl_s: float = 600, ops: bool = False) -> str:
    return issue_token(SECRET, tenant, user, ttl_s, ops=ops)


def dial(gw: Gateway, tok: str | None = None, **kwargs: Any) -> Any:
    url = gw.url if tok is None else f"{gw.url}?token={tok}"
    return connect(url, open_timeout=10, **kwargs)


async def recv(ws: ClientConnection, timeout: float = 15.0) -> dict[str, Any]:
    data = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert isinstance(data, dict)
    return data


async def ask(ws: ClientConnection, question: str) -> str:
    await ws.send(json.dumps({"type": "ask", "question": question}))
    msg = await recv(ws)
    assert msg["type"] == "accepted", msg
    return str(msg["request_id"])


async def until_final(ws: ClientConnection, timeout: float = 30.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not events or events[-1]["type"] not in ("final", "error"):
        events.append(await recv(ws, max(0.1, deadline - time.monotonic())))
    return events


async def close_code(ws: ClientConnection, timeout: float = 15.0) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None

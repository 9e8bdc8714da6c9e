"""The websocket gateway's resume on a real broker and real Redis: a client whose socket dropped gets
what it missed without gaps, on the same instance or another (even after the first is gone), a slow
client is closed for resume without stalling others, and finished requests expire.

In place of the agent workers, a ``Responder`` (tests/gateway_peer.py) is a real Kafka peer answering
``chat.requests`` with scripted ``ReplyEvent``s.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from tests.gateway_peer import (
    Responder,
    StartGateway,
    ask,
    close_code,
    dial,
    recv,
    token,
    until_final,
)

pytestmark = pytest.mark.integration


async def test_resume_after_a_dropped_socket_replays_missed_events_without_gaps(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """A new socket of the same user resumes after its last seq, no gap or duplicate; others are refused."""
    gw = await start_gateway()
    gate = responder.gate("g1")
    async with dial(gw, token()) as ws:
        rid = await ask(ws, "n=8 gate=g1 at=5")
        seen = [await recv(ws) for _ in range(5)]  # seq 0..4: two statuses, three tokens
    assert [e["seq"] for e in seen] == [0, 1, 2, 3, 4]
    gate.set()  # the rest is published while no socket holds the request
    await asyncio.sleep(0.5)
    async with dial(gw, token(user="mallory")) as other:
        await other.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": 4}))
        assert (await recv(other))["code"] == "forbidden"
    async with dial(gw, token()) as ws:
        await ws.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": 4}))
        assert await recv(ws) == {"type": "resumed", "request_id": rid, "after_seq": 4}
        rest = await until_final(ws)
    assert [e["seq"] for e in rest] == list(range(5, 12))
    tokens = [e["text"] for e in seen + rest if e["type"] == "token"]
    assert tokens == [f"t{i} " for i in range(8)]
    assert rest[-1]["text"] == "".join(tokens)


async def test_resume_continues_live_events(start_gateway: StartGateway, responder: Responder) -> None:
    """Resuming a request that is still running replays what was missed and then streams live events."""
    gw = await start_gateway()
    gate = responder.gate("g2")
    async with dial(gw, token()) as ws:
        rid = await ask(ws, "n=4 gate=g2 at=4")
        first = await recv(ws)
    async with dial(gw, token()) as ws:
        await ws.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": first["seq"]}))
        assert (await recv(ws))["type"] == "resumed"
        replayed = [await recv(ws) for _ in range(3)]  # seq 1..3 were published before the gate
        gate.set()
        live = await until_final(ws)
    assert [e["seq"] for e in [first, *replayed, *live]] == list(range(8))


async def test_a_client_resumes_on_another_instance_even_after_the_first_is_gone(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """Asked on gateway A, resumed on gateway B after A stopped: B follows A's reply topic from the
    ask and delivers the missed events, no gap or duplicate; another user is refused there too."""
    a, b = await start_gateway(), await start_gateway()
    gate = responder.gate("g-cross")
    async with dial(a, token()) as ws:
        rid = await ask(ws, "n=8 gate=g-cross at=5")
        seen = [await recv(ws) for _ in range(5)]
    await a.stop()
    gate.set()  # the rest lands on A's reply topic while nobody reads it
    await asyncio.sleep(0.5)
    async with dial(b, token(user="mallory")) as other:
        await other.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": 4}))
        assert (await recv(other))["code"] == "forbidden"
    async with dial(b, token()) as ws:
        await ws.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": 4}))
        assert await recv(ws) == {"type": "resumed", "request_id": rid, "after_seq": 4}
        rest = await until_final(ws)
    assert [e["seq"] for e in seen + rest] == list(range(12))
    tokens = [e["text"] for e in seen + rest if e["type"] == "token"]
    assert tokens == [f"t{i} " for i in range(8)]


async def test_resume_on_another_live_instance_streams_what_follows(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """Resumed on B while the agent is still answering A's question: the replay, then live events."""
    a, b = await start_gateway(), await start_gateway()
    gate = responder.gate("g-live")
    async with dial(a, token()) as ws:
        rid = await ask(ws, "n=4 gate=g-live at=3")
        first = await recv(ws)
    async with dial(b, token()) as ws:
        await ws.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": first["seq"]}))
        assert (await recv(ws))["type"] == "resumed"
        replayed = [await recv(ws) for _ in range(2)]  # seq 1..2 were published before the gate
        gate.set()
        live = await until_final(ws)
    assert [e["seq"] for e in [first, *replayed, *live]] == list(range(8))
    async with dial(b, token()) as ws:
        await ws.send(json.dumps({"type": "resume", "request_id": "never-asked"}))
        assert (await recv(ws))["code"] == "not_found"


def slow_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


async def test_slow_client_does_not_stall_another_and_is_closed_for_resume(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """A client that stops reading is closed with 1013 and can resume; the other client streams on."""
    gw = await start_gateway(send_queue_bytes=128 * 1024)
    gate = responder.gate("big")
    async with (
        dial(gw, token(user="slow"), sock=slow_socket(gw.port), max_queue=1) as slow,
        dial(gw, token(user="fast")) as fast,
    ):
        rid_slow = await ask(slow, "n=300 size=2000 gate=big at=0")
        gate.set()
        await asyncio.sleep(0.2)  # the big answer is streaming towards a socket that reads nothing
        started = time.monotonic()
        await ask(fast, "n=20")
        events = await until_final(fast, timeout=15)
        assert events[-1]["type"] == "final"
        assert time.monotonic() - started < 10
        assert await close_code(slow, timeout=60) == 1013
    async with dial(gw, token(user="slow"), max_size=None) as again:
        await again.send(json.dumps({"type": "resume", "request_id": rid_slow, "after_seq": -1}))
        assert (await recv(again))["type"] == "resumed"
        replay = await until_final(again, timeout=60)
    assert [e["seq"] for e in replay] == list(range(304))


async def test_finished_requests_expire_after_retention(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """A finished request can be resumed (full replay) until retention_s passes, then it is not_found."""
    gw = await start_gateway(retention_s=1.0)
    async with dial(gw, token()) as ws:
        rid = await ask(ws, "n=2")
        first = await until_final(ws)
    async with dial(gw, token()) as ws:
        await ws.send(json.dumps({"type": "resume", "request_id": rid}))
        assert (await recv(ws))["type"] == "resumed"
        assert await until_final(ws) == first
        await asyncio.sleep(2.0)
        await ws.send(json.dumps({"type": "resume", "request_id": rid}))
        assert (await recv(ws))["code"] == "not_found"

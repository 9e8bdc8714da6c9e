"""The gateway's replay logic without sockets or Kafka: a socket's cursor reads a request's log from
after the resumed seq, control frames go first, requests sharing a socket take turns, a finished
request is let go once sent, and only live events count against the slow-client budget."""

from __future__ import annotations

from typing import Any, cast

from services.gateway.auth import Principal
from services.gateway.replay import ClientSocket, RequestLog

WHO = Principal("acme", "alice")


def log_of(rid: str, seqs: range, done: bool = False) -> RequestLog:
    req = RequestLog(rid, WHO)
    for seq in seqs:
        req.events.append((seq, f"{rid}:{seq}"))
        req.last_seq = seq
    req.done = done
    return req


def socket(max_frames: int = 100) -> ClientSocket:
    return ClientSocket(cast(Any, None), WHO, max_frames, 1 << 20)


def drain(client: ClientSocket, logs: dict[str, RequestLog]) -> list[str]:
    frames = []
    while (frame := client.next_frame(logs)) is not None:
        frames.append(frame)
    return frames


def test_resume_reads_from_after_the_given_seq_and_lets_a_finished_request_go() -> None:
    """After seq 2 the cursor starts at seq 3; once the last event of a done request is sent the
    socket no longer holds it."""
    req = log_of("r", range(6), done=True)
    client = socket()
    req.holder = client
    client.cursors["r"] = req.index_after(2)
    client.live_from["r"] = req.end
    assert drain(client, {"r": req}) == ["r:3", "r:4", "r:5"]
    assert req.holder is None
    assert client.requests == []


def test_control_frames_first_and_requests_take_turns() -> None:
    """A pong goes before queued events; two requests on one socket alternate."""
    a, b = log_of("a", range(2)), log_of("b", range(2))
    client = socket()
    for req in (a, b):
        req.holder = client
        client.cursors[req.request_id] = req.base
        client.live_from[req.request_id] = req.end
    client.push("pong")
    assert drain(client, {"a": a, "b": b}) == ["pong", "a:0", "b:0", "a:1", "b:1"]


def test_only_live_events_count_against_the_budget() -> None:
    """Replayed events never count; live ones do, and past the budget the socket is over it."""
    client = socket(max_frames=2)
    assert client.add_lag("x")
    assert client.add_lag("y")
    assert not client.add_lag("z")


def test_control_frames_count_against_the_budget_until_sent() -> None:
    """A client that sends pings and reads nothing is as slow as one that reads no answers: its pongs
    count (the first form queued them without a bound), and each one sent counts no more."""
    client = socket(max_frames=2)
    assert client.push("pong")
    assert client.push("pong")
    assert not client.push("pong")
    assert drain(client, {}) == ["pong"] * 3
    assert (client.lag_frames, client.lag_bytes) == (0, 0)
    assert client.push("pong")


def test_an_evicted_prefix_moves_the_base() -> None:
    """index_after counts from the first kept event; seqs already evicted are not found."""
    req = log_of("r", range(10))
    for _ in range(4):
        req.dropped_upto = req.events.popleft()[0]
        req.base += 1
    assert req.index_after(1) == req.base
    assert req.index_after(6) == req.base + 3
    assert req.index_after(9) == req.end


def test_the_request_table_never_forgets_the_new_request_nor_one_a_socket_reads() -> None:
    """Over max_requests the oldest unread requests go, ended ones first. The first form could forget
    the request just asked (before a socket held it) or a finished one a socket was still replaying:
    that client waited for events that never came, with no timeout to end it."""
    from redis.asyncio import Redis

    from services.gateway.config import GatewayConfig
    from services.gateway.server import Gateway
    from topics import TopicNames

    gw = Gateway("127.0.0.1:9", TopicNames(), "secret", Redis(), GatewayConfig(max_requests=2))
    reader = socket()
    replaying, running = log_of("replaying", range(3), done=True), log_of("running", range(1))
    for req in (replaying, running):
        gw._remember(req)
        gw._hold(req, reader, -1)
    new = RequestLog("new", WHO)
    gw._remember(new)
    assert set(gw._requests) == {"replaying", "running", "new"}  # over the bound: all are being read
    gw._hold(new, reader, -1)  # published: its socket reads it
    old = log_of("old", range(2), done=True)
    gw._requests["old"] = old
    gw._requests.move_to_end("old", last=False)
    gw._remember(RequestLog("newer", WHO))
    assert "old" not in gw._requests
    assert {"replaying", "running", "new", "newer"} <= set(gw._requests)

"""The websocket gateway on a real broker and real Redis: auth, streaming, routing between gateway
instances, rate limits, bad frames, timeouts, metrics and socket limits (resume and slow clients:
test_gateway_resume.py).

In place of the agent workers, a ``Responder`` (tests/gateway_peer.py) is a real Kafka peer answering
``chat.requests`` with scripted ``ReplyEvent``s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from confluent_kafka import Consumer, TopicPartition
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from services.gateway import Gateway, issue_token
from services.gateway.auth import CLOSE_UNAUTHENTICATED
from tests.gateway_peer import (
    SECRET,
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

# ---------------------------------------------------------------------------- tests


async def test_auth_refusals_close_with_documented_codes(start_gateway: StartGateway) -> None:
    """Missing/expired tokens close with 4401, forged/claim-less ones with 4403; a header token works."""
    gw = await start_gateway()
    forged = issue_token("another-secret-of-32-bytes-or-more!", "acme", "alice", 600)
    claimless = jwt.encode({"sub": "alice", "exp": int(time.time()) + 600, "iat": int(time.time())}, SECRET)
    # a tenant with a NUL: ids join the tenant to a document's uri with one ("a\0b" + "c" = "a" + "b\0c")
    joined = token(tenant="acme\x00b")
    cases = [(None, 4401), (token(ttl_s=-60), 4401), (forged, 4403), (claimless, 4403), ("junk", 4403),
             (joined, 4403)]  # fmt: skip
    for tok, code in cases:
        async with dial(gw, tok) as ws:
            assert await close_code(ws) == code, tok
    headers = {"Authorization": f"Bearer {token()}"}
    async with connect(gw.url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}


async def test_health_and_readiness_over_plain_http(start_gateway: StartGateway) -> None:
    """/healthz and /readyz answer 200 over plain HTTP once the gateway has started."""
    gw = await start_gateway()
    async with httpx.AsyncClient() as http:
        for path in ("/healthz", "/readyz"):
            response = await http.get(f"http://127.0.0.1:{gw.port}{path}")
            assert response.status_code == 200, path


async def test_ask_streams_status_tokens_citations_final_in_order(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """An ask is published as an AgentState and its events stream back in seq order, redeliveries dropped."""
    gw = await start_gateway()
    async with dial(gw, token()) as ws:
        await ws.send(json.dumps({"type": "ask", "question": "n=6 dup", "history": [["user", "hi"]]}))
        accepted = await recv(ws)
        assert accepted["type"] == "accepted"
        rid = accepted["request_id"]
        events = await until_final(ws)
    assert [e["type"] for e in events] == ["status", "status"] + ["token"] * 6 + ["citations", "final"]
    assert [e["seq"] for e in events] == list(range(10))
    assert all(e["request_id"] == rid for e in events)
    assert events[0]["step"] == "plan"
    assert events[-1]["text"] == "".join(e["text"] for e in events if e["type"] == "token")
    assert events[-2]["citations"][0]["doc_id"] == "d1"
    [state] = [s for s in responder.seen if s.request_id == rid]
    assert (state.tenant, state.user, state.reply_to, state.seq) == ("acme", "alice", gw.reply_topic, 0)
    assert [(t.role, t.content) for t in state.history] == [("user", "hi")]


async def test_two_gateways_each_receive_only_their_own_replies(
    start_gateway: StartGateway, responder: Responder, kafka_bootstrap: str
) -> None:
    """Each gateway's questions are answered on its own reply topic and reach only its own client."""
    gw_a, gw_b = await start_gateway(), await start_gateway()
    assert gw_a.reply_topic != gw_b.reply_topic
    async with dial(gw_a, token()) as ws_a, dial(gw_b, token()) as ws_b:
        rid_a, rid_b = await ask(ws_a, "n=3 size=1"), await ask(ws_b, "n=4 size=2")
        events_a, events_b = await asyncio.gather(until_final(ws_a), until_final(ws_b))
    assert {e["request_id"] for e in events_a} == {rid_a}
    assert {e["request_id"] for e in events_b} == {rid_b}
    assert events_a[-1]["text"] == "t0x t1x t2x "

    def keys_on(topic: str) -> set[str]:
        consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": uuid.uuid4().hex})
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        keys: set[str] = set()
        for msg in consumer.consume(100, 3):
            if not msg.error():
                keys.add((msg.key() or b"").decode())
        consumer.close()
        return keys

    assert await asyncio.to_thread(keys_on, gw_a.reply_topic) == {rid_a}
    assert await asyncio.to_thread(keys_on, gw_b.reply_topic) == {rid_b}


async def test_rate_limit_in_redis_refuses_the_next_ask_with_retry_after(
    start_gateway: StartGateway, responder: Responder, redis: tuple[Redis, str]
) -> None:
    """With a bucket of 3, the 4th ask is refused with retry_after_s; another user is unaffected."""
    gw = await start_gateway(rate_capacity=3, rate_per_s=60)
    async with dial(gw, token(user="bob")) as ws:
        for _ in range(3):
            await ask(ws, "n=1")
        await ws.send(json.dumps({"type": "ask", "question": "n=1"}))
        refused = await until_refused(ws)
        assert refused["code"] == "rate_limited"
        assert 0 < refused["retry_after_s"] <= 20
    client, prefix = redis
    key = f"{prefix}rl:acme:bob"
    assert await client.exists(key)
    assert 0 < await client.pttl(key) <= 61_000
    async with dial(gw, token(user="carol")) as ws:
        await ask(ws, "n=1")


async def test_the_client_waits_out_the_rate_limit_instead_of_failing(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """`ragstream ask` and `eval` (services/gateway/client.py): with a bucket of 2 refilled at 2/s,
    six asks in a row all get their answer; the later ones wait for the gateway's retry_after_s."""
    from services.gateway.client import ask as client_ask

    gw = await start_gateway(rate_capacity=2, rate_per_s=2)
    answers = [await client_ask(gw.url, token(user="dave"), "n=1", "s1") for _ in range(6)]
    assert all(a.text for a in answers)
    assert sum(a.rate_limited_s for a in answers) > 0


async def test_a_wait_longer_than_the_ask_timeout_is_waited_out_and_a_bound_is_kept(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """The wait is not part of an asking's timeout (the first form slept inside it: a hint longer than
    the timeout raised TimeoutError); past ``max_wait_s`` the client gives up with a clear error."""
    from services.gateway.client import AskFailed
    from services.gateway.client import ask as client_ask

    gw = await start_gateway(rate_capacity=1, rate_per_s=5)  # one ask per 5 s
    await client_ask(gw.url, token(user="erin"), "n=1", "s1", timeout_s=3)
    waited = await client_ask(gw.url, token(user="erin"), "n=1", "s1", timeout_s=3)
    assert waited.text
    assert waited.rate_limited_s > 3
    with pytest.raises(AskFailed, match=r"asks for \d+s more after 0s of waiting \(at most 0s\)"):
        await client_ask(gw.url, token(user="erin"), "n=1", "s1", max_wait_s=0.05)


def test_a_retry_hint_is_a_number_of_seconds_or_no_hint() -> None:
    from services.gateway.client import retry_after

    assert retry_after({"code": "rate_limited", "retry_after_s": 2.5}) == 2.5
    assert retry_after({"code": "rate_limited", "retry_after_s": "3"}) == 3.0
    assert retry_after({"code": "rate_limited", "retry_after_s": -4}) == 0.0
    assert retry_after({"code": "rate_limited", "retry_after_s": "3s"}) is None
    assert retry_after({"code": "rate_limited"}) is None
    assert retry_after({"code": "bad_request", "retry_after_s": 1}) is None


async def until_refused(ws: ClientConnection) -> dict[str, Any]:
    while True:  # events of the accepted asks may come first
        msg = await recv(ws)
        if msg["type"] == "error":
            return msg


async def test_bad_frames_get_errors_and_the_server_survives(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """Malformed, unknown, invalid, empty or too-long asks get error codes; oversize frames close 1009."""
    gw = await start_gateway(max_question_chars=100)
    bad = {
        "not json {": "bad_json",
        "[1, 2]": "bad_json",
        '{"type": "shout"}': "unknown_type",
        "{}": "unknown_type",
        '{"type": "ask"}': "bad_message",
        '{"type": "resume", "request_id": "x", "after_seq": "many"}': "bad_message",
        '{"type": "ask", "question": "   "}': "question_empty",
        json.dumps({"type": "ask", "question": "q" * 101}): "question_too_long",
        '{"type": "resume", "request_id": "nope"}': "not_found",
    }
    async with dial(gw, token()) as ws:
        for frame, code in bad.items():
            await ws.send(frame)
            reply = await recv(ws)
            assert (reply["type"], reply["code"]) == ("error", code), frame
        await ws.send(b'{"type": "ping"}')
        assert await recv(ws) == {"type": "pong"}
        await ask(ws, "n=1")
        assert (await until_final(ws))[-1]["type"] == "final"
    async with dial(gw, token()) as big, dial(gw, token()) as bystander:
        await big.send(json.dumps({"type": "ask", "question": "x" * 70_000}))
        assert await close_code(big) == 1009
        await bystander.send(json.dumps({"type": "ping"}))
        assert await recv(bystander) == {"type": "pong"}
    async with dial(gw, token()) as ws:
        await ask(ws, "n=2")
        assert (await until_final(ws))[-1]["type"] == "final"


async def test_silent_agent_times_out_with_an_error_event_that_ends_the_request(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """After request_timeout_s without an event the client gets error agent_timeout (next seq) and
    the request is closed: events the agent sends later never reach the client."""
    gw = await start_gateway(request_timeout_s=1.0)
    gate = responder.gate("stuck")
    async with dial(gw, token()) as ws:
        started = time.monotonic()
        rid = await ask(ws, "n=3 gate=stuck at=2")
        events = await until_final(ws, timeout=10)
        waited = time.monotonic() - started
        assert [e["type"] for e in events] == ["status", "status", "error"]
        error = events[-1]
        assert (error["code"], error["request_id"], error["seq"]) == ("agent_timeout", rid, 2)
        assert 1.0 <= waited < 4.0
        gate.set()  # the agent wakes up and sends the rest: too late
        await asyncio.sleep(0.5)
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        await ws.send(json.dumps({"type": "resume", "request_id": rid}))
        assert (await recv(ws))["type"] == "resumed"
        assert await until_final(ws) == events  # the log ends with the timeout too


def scrape(gw: Gateway) -> dict[str, float]:
    """The gateway's own series from its /metrics, as {"name{label=value,...}": value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{gw.port}/metrics").text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            if labels.pop("gateway", None) == gw.gateway_id:
                extra = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                found[f"{sample.name}{{{extra}}}"] = sample.value
    return found


async def test_metrics_count_sockets_outcomes_latencies_and_rate_limits(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """GET /metrics (Prometheus text) counts open sockets, answered and timed-out requests, time to
    first token and to final, and rate-limited asks, for this gateway instance."""
    gw = await start_gateway(rate_capacity=3, rate_per_s=60, request_timeout_s=1.0)
    responder.gate("never")
    response = await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{gw.port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    async with dial(gw, token(user="dora")) as ws, dial(gw, token(user="dora")):
        assert (await asyncio.to_thread(scrape, gw))["ragstream_gateway_open_sockets{}"] == 2
        for question in ("n=3", "n=2"):
            await ask(ws, question)
            assert (await until_final(ws))[-1]["type"] == "final"
        await ask(ws, "n=2 gate=never at=0")
        assert (await until_final(ws))[-1]["code"] == "agent_timeout"
        await ws.send(json.dumps({"type": "ask", "question": "n=1"}))
        assert (await recv(ws))["code"] == "rate_limited"
    await asyncio.sleep(0.2)  # the server side notices the closed sockets
    m = await asyncio.to_thread(scrape, gw)
    assert m["ragstream_gateway_open_sockets{}"] == 0
    assert m["ragstream_gateway_requests_total{outcome=answered}"] == 2
    assert m["ragstream_gateway_requests_total{outcome=agent_timeout}"] == 1
    assert m["ragstream_gateway_rate_limited_total{}"] == 1
    assert m["ragstream_gateway_time_to_first_token_seconds_count{}"] == 2
    assert m["ragstream_gateway_time_to_final_seconds_count{}"] == 2
    assert 0 < m["ragstream_gateway_time_to_final_seconds_sum{}"] < 10
    assert m["ragstream_gateway_time_to_first_token_seconds_bucket{le=+Inf}"] == 2


async def test_one_user_gets_at_most_max_sockets_and_others_are_unaffected(
    start_gateway: StartGateway,
) -> None:
    """The cap's next socket closes with 4429; another user connects; a freed slot is usable again."""
    gw = await start_gateway(max_sockets_per_user=3)
    async with contextlib.AsyncExitStack() as open_sockets:
        held = [await open_sockets.enter_async_context(dial(gw, token(user="hoarder"))) for _ in range(3)]
        for ws in held:
            await ws.send(json.dumps({"type": "ping"}))
            assert await recv(ws) == {"type": "pong"}
        async with dial(gw, token(user="hoarder")) as extra:
            assert await close_code(extra) == 4429
        async with dial(gw, token(user="someone-else")) as other:
            await other.send(json.dumps({"type": "ping"}))
            assert await recv(other) == {"type": "pong"}
        await held[0].close()
        await asyncio.sleep(0.2)
        async with dial(gw, token(user="hoarder")) as again:
            await again.send(json.dumps({"type": "ping"}))
            assert await recv(again) == {"type": "pong"}


async def test_nul_surrogate_and_deep_frames_answer_errors_and_keep_the_socket(
    start_gateway: StartGateway,
) -> None:
    """Frames that used to end in agent_error, unavailable or a 1011 close get error frames instead."""
    gw = await start_gateway(max_frame_bytes=1 << 20)
    async with dial(gw, token()) as ws:
        for frame, code in [
            ('{"type":"ask","question":"a\\u0000b"}', "bad_message"),
            ('{"type":"ask","question":"\\ud800"}', "bad_message"),
            ("[" * 60_000 + "]" * 60_000, "bad_json"),
        ]:
            await ws.send(frame)
            reply = await recv(ws)
            assert (reply["type"], reply["code"]) == ("error", code), reply
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}


async def test_the_chat_benchmark_taps_what_it_times(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """bench/chat times each hop by wrapping the gateway's Kafka side: the wrap must see the question's
    publish and every event on its way to the client (it silently measured nothing once they moved)."""
    from bench.chat import Tap

    gw = await start_gateway()
    tap = Tap(gw)
    async with dial(gw, token()) as ws:
        rid = await ask(ws, "n=3")
        events = await until_final(ws)
    produced, delivered = tap.published[rid]
    assert produced <= delivered
    assert sorted(tap.events[rid]) == [e["seq"] for e in events]
    assert {seq for r, seq in tap.fetched if r == rid} == set(tap.events[rid])


async def test_a_step_run_again_with_fewer_events_still_ends_the_request(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """The first run streamed twenty tokens and died; the second (the model out: an extractive answer)
    sent its end at seq 4. The first form dropped every seq at or below the last one seen, the end
    too: the client waited for agent_timeout. The end now ends the request, numbered after the rest."""
    gw = await start_gateway(request_timeout_s=20)
    async with dial(gw, token(user="frank")) as ws:
        await ask(ws, "n=20 rerun")
        events = await until_final(ws)
    assert events[-1]["type"] == "final"
    assert events[-1]["text"] == "again "
    seqs = [e["seq"] for e in events if "seq" in e]
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs))


async def test_a_socket_is_closed_when_its_token_expires(start_gateway: StartGateway) -> None:
    """The token's exp was checked at the handshake only: a socket opened with a short-lived token
    stayed good for its whole life. Now it closes with 4401 when the token expires (with the
    handshake's 5 s of leeway: this token expired 3.5 s ago)."""
    gw = await start_gateway()
    async with dial(gw, token(ttl_s=-3.5)) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"
        assert await close_code(ws, timeout=10) == CLOSE_UNAUTHENTICATED


async def test_a_request_stays_resumable_elsewhere_while_it_runs_and_for_retention_after_its_end(
    redis: tuple[Redis, str],
) -> None:
    """The registry entry lived retention_s from the ask, and only the asking instance extended it at
    the end: with that instance dead, a request running past retention_s could not be resumed
    anywhere. It lives an hour beyond retention while running; any instance that sees the end sets
    retention_s from then."""
    from services.gateway.auth import Principal
    from services.gateway.follow import RequestRegistry

    client, prefix = redis
    registry = RequestRegistry(client, prefix, retention_s=2.0)
    await registry.record("r-long", "replies.gw1", Principal("acme", "alice"))
    assert await client.pttl(f"{prefix}req:r-long") > 3600_000
    await registry.touch("r-long")
    assert 0 < await client.pttl(f"{prefix}req:r-long") <= 2000

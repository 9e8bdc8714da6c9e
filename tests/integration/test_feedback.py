"""Ratings of answers over the gateway's websocket, on a real broker and real Redis: what reaches the
feedback topic, who may rate what and when, and rating after the gateway that answered is gone."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection

from services.common.messages import AnswerFeedback, Citation
from services.eval import feedback
from tests.gateway_peer import CODEC, Responder, StartGateway, ask, dial, recv, token, until_final
from topics import TopicNames

pytestmark = pytest.mark.integration


async def rate(ws: ClientConnection, rid: str, rating: str, comment: str = "") -> dict[str, Any]:
    """Send a rating and return the gateway's reply to it (streamed answer events are passed over)."""
    await ws.send(json.dumps({"type": "feedback", "request_id": rid, "rating": rating, "comment": comment}))
    while True:
        msg = await recv(ws)
        if msg["type"] == "feedback_recorded" or (msg["type"] == "error" and "seq" not in msg):
            return msg


def on_topic(bootstrap: str, names: TopicNames) -> list[AnswerFeedback]:
    records, unreadable = feedback.read(bootstrap, names, CODEC)
    assert unreadable == 0
    return records


async def test_a_rating_carries_the_question_answer_citations_and_the_latest_counts(
    start_gateway: StartGateway, responder: Responder, kafka_bootstrap: str, names: TopicNames
) -> None:
    gw = await start_gateway()
    async with dial(gw, token()) as ws:
        rid = await ask(ws, "n=3 what is up")
        events = await until_final(ws)
        first = await rate(ws, rid, "up")
        second = await rate(ws, rid, "down", "  the second token was wrong  ")
    assert first["type"] == second["type"] == "feedback_recorded"
    assert (first["request_id"], first["rating"], second["rating"]) == (rid, "up", "down")
    records = [r for r in await asyncio.to_thread(on_topic, kafka_bootstrap, names) if r.request_id == rid]
    assert [(r.rating, r.comment) for r in records] == [("UP", ""), ("DOWN", "the second token was wrong")]
    assert [r.feedback_id for r in records] == [first["feedback_id"], second["feedback_id"]]
    last = records[-1]
    assert (last.tenant, last.user, last.question, last.gateway_id) == (
        "acme",
        "alice",
        "n=3 what is up",
        gw.gateway_id,
    )
    assert last.answer == events[-1]["text"]
    assert [c.doc_id for c in last.citations] == ["d1"]
    [kept] = feedback.latest(records)
    assert kept.feedback_id == second["feedback_id"]


async def test_ratings_are_refused_for_unknown_unanswered_and_other_users_answers(
    start_gateway: StartGateway, responder: Responder, kafka_bootstrap: str, names: TopicNames
) -> None:
    gw = await start_gateway()
    gate = responder.gate("slow")
    async with dial(gw, token()) as alice, dial(gw, token(user="bob")) as bob:
        unknown = await rate(alice, "f" * 32, "up")
        rid = await ask(alice, "n=2 gate=slow at=3")
        early = await rate(alice, rid, "up")
        gate.set()
        await until_final(alice)
        forbidden = await rate(bob, rid, "down")
        bad = await rate(alice, rid, "sideways")
    assert (unknown["type"], unknown["code"]) == ("error", "not_found")
    assert early["code"] == "not_answered"
    assert (forbidden["code"], bad["code"]) == ("forbidden", "bad_message")
    records = [r for r in await asyncio.to_thread(on_topic, kafka_bootstrap, names) if r.request_id == rid]
    assert records == []


@pytest.mark.parametrize("ops", [False, True], ids=["user", "operator"])
async def test_an_answer_is_rated_on_another_instance_after_its_gateway_stopped(
    start_gateway: StartGateway, responder: Responder, kafka_bootstrap: str, names: TopicNames, ops: bool
) -> None:
    """The answer is kept in Redis under the deployment's prefix: the rating needs no gateway memory.
    An operator's token rates their own answer too (the copy in Redis keeps tenant and user: the
    first form compared the operator claim as well, and refused them "not your answer")."""
    first = await start_gateway()
    async with dial(first, token(ops=ops)) as ws:
        rid = await ask(ws, "n=2 kept")
        await until_final(ws)
    await first.stop()
    second = await start_gateway()
    async with dial(second, token(ops=ops)) as ws:
        done = await rate(ws, rid, "up")
    assert done["type"] == "feedback_recorded"
    [record] = [r for r in await asyncio.to_thread(on_topic, kafka_bootstrap, names) if r.request_id == rid]
    assert (record.question, record.gateway_id) == ("n=2 kept", second.gateway_id)


async def test_one_answer_takes_a_bounded_number_of_ratings(
    start_gateway: StartGateway, responder: Responder
) -> None:
    gw = await start_gateway()
    gw.feedback.max_ratings = 2
    async with dial(gw, token()) as ws:
        rid = await ask(ws, "n=1 flood")
        await until_final(ws)
        replies = [await rate(ws, rid, "up") for _ in range(3)]
    assert [r["type"] for r in replies] == ["feedback_recorded", "feedback_recorded", "error"]
    assert replies[-1]["code"] == "too_many_ratings"


async def test_rating_without_redis_is_unavailable_not_a_crash(
    start_gateway: StartGateway, responder: Responder
) -> None:
    """The answer's own gateway rates from memory; with Redis unreachable the count cannot be kept, so
    the client hears 'unavailable' and the socket stays open."""
    gw = await start_gateway()
    async with dial(gw, token()) as ws:
        rid = await ask(ws, "n=1 no redis")
        await until_final(ws)
        gw.feedback.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        reply = await rate(ws, rid, "up")
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"
    assert (reply["type"], reply["code"]) == ("error", "unavailable")


def test_candidates_keep_one_question_each_newest_first_and_drop_redeliveries() -> None:
    """Pure: duplicates by feedback_id count once; per answer the latest rating wins; per question (as
    typed, normalised) the latest answer's; up proposes the cited documents, down proposes none."""
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    cite = Citation(n=1, chunk_id="c", doc_id="d", title="T", source_uri="golden://fernlight-config.md")

    def fb(
        fid: str, rid: str, rating: str, question: str, minutes: int, tenant: str = "acme"
    ) -> AnswerFeedback:
        return AnswerFeedback(feedback_id=fid, request_id=rid, tenant=tenant, user="u", rating=rating,
                              question=question, answer="a [1]", citations=[cite], index_version="chunks_v2",
                              given_at=t0 + timedelta(minutes=minutes))  # fmt: skip

    records = [
        fb("1", "r1", "UP", "Which option turns on strict mode?", 0),
        fb("1", "r1", "UP", "Which option turns on strict mode?", 0),  # a redelivery
        fb("2", "r1", "DOWN", "Which option turns on strict mode?", 1),  # changed their mind
        fb("3", "r2", "UP", "which option turns on strict mode", 5),  # the same question, later answer
        fb("4", "r3", "DOWN", "Who leads the billing team?", 3),
        fb("5", "r4", "UP", "Who leads the billing team?", 2, tenant="other"),
    ]
    found = feedback.candidates(records)
    assert [(c["question"], c["review"]["rating"]) for c in found] == [
        ("which option turns on strict mode", "up"),
        ("Who leads the billing team?", "down"),
        ("Who leads the billing team?", "up"),
    ]
    assert found[0]["sources"] == ["fernlight-config.md"]
    assert found[1]["sources"] == []
    assert found[0]["facts"] == []
    assert found[0]["review"]["index_version"] == "chunks_v2"
    assert [c["question"] for c in feedback.candidates(records, tenant="other")] == [
        "Who leads the billing team?"
    ]
    assert len({c["id"] for c in found}) == 3


def test_a_rated_follow_up_is_a_candidate_per_conversation_marked_as_one() -> None:
    """ "Where was it founded?" asks something else in each conversation: the first form kept one of
    them, as a standalone "named" question."""
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    records = [
        AnswerFeedback(
            feedback_id=str(n),
            request_id=f"r{n}",
            tenant="acme",
            user="u",
            session_id=session,
            rating="UP",
            question="Where was it founded?",
            answer="In Tallinn. [1]",
            given_at=t0 + timedelta(minutes=n),
        )
        for n, session in enumerate(["s1", "s2"])
    ]
    found = feedback.candidates(records)
    assert len(found) == 2
    assert {c["review"]["session_id"] for c in found} == {"s1", "s2"}
    assert all((c["kind"], c["turn"]) == ("followup", 2) and c["conversation"] == c["id"] for c in found)
    assert all("earlier turn" in c["review"]["todo"] for c in found)

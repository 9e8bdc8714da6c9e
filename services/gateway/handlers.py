"""What the gateway does with each client message: ``ask`` publishes a question, ``resume`` hands a
request's events to a new socket (adopting a request asked on another instance), ``rate`` records a
thumbs up or down; and with the agent's events: ``on_events`` puts them in their requests' logs.
They are the ``Gateway``'s own handlers, kept apart from its socket and dispatch plumbing
(services/gateway/server.py), whose state they use."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import structlog

from services.common.messages import AgentState, ChatTurn, ReplyEvent
from services.gateway.auth import Principal
from services.gateway.feedback import Answered
from services.gateway.follow import Follower
from services.gateway.metrics import FEEDBACK, RATE_LIMITED, REQUESTS, TIME_TO_FINAL, TIME_TO_FIRST_TOKEN
from services.gateway.protocol import (
    Accepted,
    Ask,
    Error,
    ErrorCode,
    Feedback,
    FeedbackRecorded,
    ProtocolError,
    Resume,
    Resumed,
    dump,
    from_reply,
)
from services.gateway.replay import ClientSocket, RequestLog

if TYPE_CHECKING:
    from services.gateway.server import Gateway

log = structlog.get_logger("gateway")


async def ask(gw: Gateway, client: ClientSocket, msg: Ask) -> None:
    """Rate-limit, then publish the question as an AgentState and hold its events for this socket."""
    asked_at = time.monotonic()
    principal = client.principal
    try:
        allowed, retry_after = await gw.limiter.allow(principal.tenant, principal.user)
    except Exception as exc:  # Redis unreachable
        log.warning("rate limiter unavailable", error=repr(exc), fail_open=gw.config.rate_limit_fail_open)
        allowed, retry_after = gw.config.rate_limit_fail_open, 1.0
    if not allowed:
        RATE_LIMITED.labels(gw.gateway_id).inc()
        gw._send(
            client,
            Error(
                code=ErrorCode.RATE_LIMITED,
                message=f"too many questions; retry in {retry_after:g}s",
                retry_after_s=retry_after,
            ),
        )
        return
    rid = uuid.uuid4().hex
    req = RequestLog(rid, principal, asked_at=asked_at, question=msg.question, session_id=msg.session_id)
    gw._remember(req)  # before publishing: replies may arrive before the delivery report
    state = AgentState(
        request_id=rid,
        tenant=principal.tenant,
        user=principal.user,
        session_id=msg.session_id,
        question=msg.question,
        history=[ChatTurn(role=role, content=text) for role, text in msg.history],
        reply_to=gw.reply_topic,
        seq=0,
    )
    try:
        await gw.kafka.publish(state)
    except Exception as exc:
        gw._forget(rid)
        REQUESTS.labels(gw.gateway_id, "unavailable").inc()
        log.warning("publishing a question failed", error=repr(exc))
        gw._send(client, Error(code=ErrorCode.UNAVAILABLE, message="could not submit the question"))
        return
    req.heard_at = time.monotonic()  # the agent's silence counts from here
    gw._spawn(gw.registry.record(rid, gw.reply_topic, principal, msg.question, msg.session_id))
    gw._send(client, Accepted(request_id=rid))
    if not client.overflowed:
        gw._hold(req, client, -1)


async def resume(gw: Gateway, client: ClientSocket, msg: Resume) -> None:
    """Hand the request's events after ``after_seq`` to this socket (its owner's only), then live."""
    req = gw._requests.get(msg.request_id) or await adopt(gw, msg.request_id, client.principal, msg.after_seq)
    if req is None:
        gw._send(
            client,
            Error(request_id=msg.request_id, code=ErrorCode.NOT_FOUND, message="no such request here"),
        )
        return
    if req.principal != client.principal:
        gw._send(
            client,
            Error(request_id=msg.request_id, code=ErrorCode.FORBIDDEN, message="not your request"),
        )
        return
    if msg.after_seq < req.dropped_upto:
        gw._send(
            client,
            Error(
                request_id=msg.request_id,
                code=ErrorCode.GAP,
                message=f"events up to seq {req.dropped_upto} are no longer kept",
            ),
        )
        return
    gw._send(client, Resumed(request_id=msg.request_id, after_seq=msg.after_seq))
    if not client.overflowed:
        gw._hold(req, client, msg.after_seq)


async def adopt(gw: Gateway, rid: str, principal: Principal, after_seq: int) -> RequestLog | None:
    """A request asked on another instance (or on this one before a restart): follow its origin
    reply topic from the ask, so a client that reconnects anywhere resumes it. None when the
    registry does not know it; a request of another user is adopted under its owner, so the
    ownership check that follows refuses it as for a local request. Events up to ``after_seq``
    (the client has them) are skipped as the follower reads them."""
    try:
        origin = await gw.registry.lookup(rid)
    except Exception as exc:  # Redis down: resume works only where the request lives
        log.warning("request registry unavailable", error=repr(exc))
        return None
    if origin is None:
        return None
    req = RequestLog(rid, origin.principal, followed=True, last_seq=after_seq, dropped_upto=after_seq,
                     question=origin.question, session_id=origin.session_id)  # fmt: skip
    if origin.principal == principal:
        gw._remember(req)
        assert gw._loop is not None
        follower = Follower(gw.bootstrap, gw.codec, origin, gw._loop, gw._on_events, gw.kafka.stopping)
        follower.start(gw.config.retention_s)
    return req


async def rate(gw: Gateway, client: ClientSocket, msg: Feedback) -> None:
    """A thumbs up or down on an answered request: one record on the feedback topic."""
    rid = msg.request_id
    req = gw._requests.get(rid)
    local = req.answered if req is not None and req.principal == client.principal else None
    try:
        if local is None and req is not None and not req.done and req.principal == client.principal:
            raise ProtocolError(ErrorCode.NOT_ANSWERED, "this question has no answer yet")
        record = await gw.feedback.rate(client.principal, msg, gw.gateway_id, local)
    except ProtocolError as exc:
        gw._send(client, Error(request_id=rid, code=exc.code, message=exc.message))
        return
    try:
        await gw.kafka.publish_feedback(record)
    except Exception as exc:
        log.warning("publishing feedback failed", error=repr(exc), request_id=rid)
        gw._send(client, Error(request_id=rid, code=ErrorCode.UNAVAILABLE, message="could not record it"))
        return
    FEEDBACK.labels(gw.gateway_id, msg.rating).inc()
    log.info("answer rated", request_id=rid, rating=msg.rating, commented=bool(record.comment))
    gw._send(client, FeedbackRecorded(request_id=rid, feedback_id=record.feedback_id, rating=msg.rating))


def on_events(gw: Gateway, batch: list[ReplyEvent], followed: bool = False) -> None:
    """The agent's events for this instance's requests, into their logs: repeats dropped, a step's
    end taken whatever its seq (a step run again may send fewer events), answers remembered for
    rating."""
    now = time.monotonic()
    for event in batch:
        req = gw._requests.get(event.request_id)
        if req is None:
            log.debug("reply for an unknown request dropped", request_id=event.request_id)
            continue
        if req.followed != followed:
            continue  # an adopted request reads its origin topic from the start, in order
        if req.done:
            continue  # late for a request already ended (e.g. timed out), or a redelivery of its end
        if event.seq <= req.last_seq:
            req.heard_at = now  # a step sent again: the agent is alive
            if event.type not in ("FINAL", "ERROR"):
                continue  # a redelivery
            # A step run again after a failure may take another path (the model out: an extractive
            # answer in fewer events); its end ends the request, after what was already sent.
            event = event.model_copy(update={"seq": req.last_seq + 1})
        if event.type == "TOKEN" and not req.first_token:
            req.first_token = True
            TIME_TO_FIRST_TOKEN.labels(gw.gateway_id).observe(now - req.asked_at)
        elif event.type == "CITATIONS":
            req.citations = event.citations
        elif event.type == "FINAL":
            TIME_TO_FINAL.labels(gw.gateway_id).observe(now - req.asked_at)
            REQUESTS.labels(gw.gateway_id, "answered").inc()
            final = event if event.citations else event.model_copy(update={"citations": req.citations})
            req.answered = Answered(req.request_id, req.principal, req.session_id, req.question, final)
            gw._spawn(gw.feedback.remember(req.answered))
        elif event.type == "ERROR":
            REQUESTS.labels(gw.gateway_id, "agent_error").inc()
        gw._append(req, event.seq, dump(from_reply(event)), event.type in ("FINAL", "ERROR"), now)

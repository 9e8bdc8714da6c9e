"""The websocket gateway: one instance holds client sockets, publishes each question as an
``AgentState`` on ``chat.requests`` and streams the agent's ``ReplyEvent``s back from its own reply
topic ``chat.replies.<gateway_id>`` to the socket that asked.

Its Kafka side (``kafka.ReplyChannel``) runs two threads; everything else runs on the event loop,
where ``_on_events`` dispatches each event without awaiting: into the request's replay log and,
when a socket holds the request, onto that socket's bounded send queue (``replay``: the logs and
cursors). A full queue closes that socket with 1013; the log keeps the events so a ``resume`` from a
new socket, on this instance or another (``follow``), continues without gaps or duplicates.

What each client message does (ask, resume, feedback) is in ``handlers``; this module holds the
sockets, the request logs and the dispatch of reply events.

A request whose agent stays silent for ``request_timeout_s`` is ended by the gateway with an error
event (``agent_timeout``). Prometheus metrics (sockets, requests by outcome, time to first token and to
final, rate-limited asks) are served at ``GET /metrics`` on the websocket port (``page.probe_response``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import Counter, OrderedDict
from typing import Any
from urllib.parse import urlsplit

import structlog
from redis.asyncio import Redis
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from services.common.codec import Codec, make_codec
from services.common.messages import ReplyEvent
from services.gateway import handlers
from services.gateway.auth import CLOSE_UNAUTHENTICATED, AuthError, Principal, bearer, verify
from services.gateway.config import GatewayConfig
from services.gateway.feedback import FeedbackBook
from services.gateway.follow import RequestRegistry
from services.gateway.kafka import ReplyChannel
from services.gateway.metrics import (
    OPEN_SOCKETS,
    REQUESTS,
)
from services.gateway.page import is_websocket, page_response, probe_response
from services.gateway.protocol import (
    Ask,
    Error,
    ErrorCode,
    Feedback,
    Ping,
    Pong,
    ProtocolError,
    Resume,
    ServerMessage,
    dump,
    parse_client,
)
from services.gateway.ratelimit import RateLimiter
from services.gateway.replay import ClientSocket, RequestLog
from topics import TopicNames

log = structlog.get_logger("gateway")

CLOSE_TRY_AGAIN_LATER = 1013  # the socket's send queue overflowed: reconnect and resume
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_MANY_SOCKETS = 4429  # this user already holds max_sockets_per_user sockets on this instance


class Gateway:
    """``await Gateway(bootstrap, names, secret, redis).start()``; ``url``/``port`` after start.

    ``bootstrap``: Kafka bootstrap servers; ``names``: the stack's topic names (its prefix);
    ``secret``: the HS256 key tokens are signed with; ``redis``: a ``redis.asyncio.Redis`` for the
    rate limiter; ``codec``: defaults to ``make_codec(None)`` (Avro single-object encoding).
    """

    def __init__(
        self,
        bootstrap: str,
        names: TopicNames,
        secret: str,
        redis: Redis,
        config: GatewayConfig | None = None,
        codec: Codec | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the gateway needs a token signing secret")
        self.bootstrap = bootstrap
        self.names = names
        self.config = config or GatewayConfig()
        self._secret = secret
        self.codec = codec or make_codec(None)
        self.limiter = RateLimiter(
            redis, self.config.rate_capacity, self.config.rate_per_s, self.config.redis_prefix
        )
        self.registry = RequestRegistry(redis, self.config.redis_prefix, self.config.retention_s)
        self.feedback = FeedbackBook(redis, self.config.redis_prefix, self.config.feedback_ttl_s)
        self.kafka = ReplyChannel(bootstrap, names, self.config, self.codec, self._on_events)
        self.request_topic = self.kafka.request_topic
        self.reply_topic = self.kafka.reply_topic
        self._requests: OrderedDict[str, RequestLog] = OrderedDict()
        self._clients: set[ClientSocket] = set()
        self._sockets_of: Counter[tuple[str, str]] = Counter()  # open sockets per (tenant, user)
        self._auth: weakref.WeakKeyDictionary[ServerConnection, Principal | AuthError] = (
            weakref.WeakKeyDictionary()
        )
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ready = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def gateway_id(self) -> str:
        return self.config.gateway_id

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/ws"

    async def start(self) -> Gateway:
        self._loop = asyncio.get_running_loop()
        await self.kafka.start()
        self._spawn(self._sweep())
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            max_size=self.config.max_frame_bytes,
            close_timeout=self.config.close_timeout_s,
            compression=self.config.compression,
            logger=None,
        )
        self.ready = True
        log.info("gateway started", gateway_id=self.gateway_id, url=self.url, reply_topic=self.reply_topic)
        return self

    async def stop(self) -> None:
        self.ready = False
        if self._server is not None:
            self._server.close()  # closes every socket with 1001
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await self.kafka.stop()
        log.info("gateway stopped", gateway_id=self.gateway_id)

    async def __aenter__(self) -> Gateway:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ dispatch (event loop only)

    def _on_events(self, batch: list[ReplyEvent], followed: bool = False) -> None:
        handlers.on_events(self, batch, followed)

    def _append(self, req: RequestLog, seq: int, frame: str, last: bool, now: float) -> None:
        """One event into the request's log and, when a socket holds it, towards that socket."""
        req.events.append((seq, frame))
        req.last_seq = seq
        req.touched = req.heard_at = now
        req.done = last
        if last:  # resumable anywhere for retention_s from its end (an adopting instance too)
            self._spawn(self.registry.touch(req.request_id))
        self._requests.move_to_end(req.request_id)
        holder = req.holder
        while len(req.events) > self.config.max_events_per_request:
            req.dropped_upto = req.events.popleft()[0]
            req.base += 1
        if holder is None:
            return
        if not holder.add_lag(frame) or holder.cursors.get(req.request_id, req.end) < req.base:
            self._overflow(holder)

    def _time_out(self, req: RequestLog, now: float) -> None:
        """End a request whose agent went silent: an error event with the next seq, like the agent's own."""
        seq = req.last_seq + 1
        error = Error(
            request_id=req.request_id,
            seq=seq,
            code=ErrorCode.AGENT_TIMEOUT,
            message=f"the agent sent nothing for {self.config.request_timeout_s:g}s; the request is closed",
        )
        REQUESTS.labels(self.gateway_id, "agent_timeout").inc()
        log.warning("request timed out", request_id=req.request_id, last_seq=req.last_seq)
        self._append(req, seq, dump(error), True, now)

    def _send(self, client: ClientSocket, msg: ServerMessage) -> None:
        if not client.overflowed and not client.push(dump(msg)):
            self._overflow(client)

    def _overflow(self, client: ClientSocket) -> None:
        """A socket that cannot keep up: let go of its requests (their logs stay) and close it."""
        if client.overflowed:
            return
        client.overflowed = True
        self._release(client)
        log.warning("socket too slow; closing", user=client.principal.user, lag_bytes=client.lag_bytes)
        self._spawn(self._close(client.ws, CLOSE_TRY_AGAIN_LATER, "too slow; reconnect and resume"))

    async def _close(self, ws: ServerConnection, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(ws.close(code, reason), self.config.close_timeout_s + 1)
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            if ws.transport is not None and not ws.transport.is_closing():
                ws.transport.abort()

    def _release(self, client: ClientSocket) -> None:
        for rid in client.requests:
            req = self._requests.get(rid)
            if req is not None and req.holder is client:
                req.holder = None
                req.touched = time.monotonic()
            client.drop(rid)
        client.lag_frames = client.lag_bytes = 0

    def _hold(self, req: RequestLog, client: ClientSocket, after_seq: int) -> None:
        """Make ``client`` the socket of ``req``: events after ``after_seq`` are replayed, then live."""
        if req.holder is not None:
            self._let_go(req.holder, req.request_id)
        self._requests.move_to_end(req.request_id)  # read again: the last to be forgotten
        req.holder = client
        client.cursors[req.request_id] = req.index_after(after_seq)
        client.live_from[req.request_id] = req.end
        client.wake.set()

    def _let_go(self, client: ClientSocket, rid: str) -> None:
        """``client`` stops holding ``rid`` (another socket resumed it, or it is forgotten)."""
        cursor, live_from = client.cursors.get(rid), client.live_from.get(rid)
        req = self._requests.get(rid)
        if cursor is not None and live_from is not None and req is not None:
            for i in range(max(cursor, live_from, req.base), req.end):
                client.lag_frames -= 1
                client.lag_bytes -= len(req.events[i - req.base][1])
        client.drop(rid)

    def _remember(self, req: RequestLog) -> None:
        """Keep ``req``; over ``max_requests``, forget the oldest requests no socket reads, ended ones
        first. Never ``req`` itself, nor one a socket still reads (its client would wait for events
        that never come, with no timeout to end it): the bound gives way to sockets' own work."""
        self._requests[req.request_id] = req
        excess = len(self._requests) - self.config.max_requests
        if excess > 0:
            unread = [r for r in self._requests.values() if r.holder is None and r is not req]
            ended = [r.request_id for r in unread if r.done]
            silent = [r.request_id for r in unread if not r.done]
            for rid in [*ended, *silent][:excess]:
                self._forget(rid)

    def _forget(self, rid: str) -> None:
        req = self._requests.get(rid)
        if req is not None and req.holder is not None:
            self._let_go(req.holder, rid)
        self._requests.pop(rid, None)

    async def _sweep(self) -> None:
        cfg = self.config
        period = max(0.05, min(1.0, cfg.retention_s / 4, cfg.request_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            silent_since = now - cfg.request_timeout_s
            for req in [r for r in self._requests.values() if not r.done and r.heard_at < silent_since]:
                self._time_out(req, now)
            cutoff = now - cfg.retention_s
            stale = [r.request_id for r in self._requests.values() if r.touched < cutoff and r.holder is None]
            for rid in stale:
                self._forget(rid)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ websocket

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if (probe := probe_response(conn, path, self.ready)) is not None:
            return probe  # /healthz, /readyz, /metrics
        if not is_websocket(request) and (page := page_response(path)) is not None:
            return page  # the web chat (GET / and /static/...)
        try:
            self._auth[conn] = verify(bearer(request), self._secret)
        except AuthError as exc:
            self._auth[conn] = exc  # accepted, then closed with exc.close_code (browsers see the code)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        who = self._auth.pop(ws, None)
        if not isinstance(who, Principal):
            err = who if isinstance(who, AuthError) else AuthError("not authenticated")
            await ws.close(err.close_code, err.reason)
            return
        owner = (who.tenant, who.user)
        if self._sockets_of[owner] >= self.config.max_sockets_per_user:
            reason = f"this user already has {self.config.max_sockets_per_user} sockets open here"
            await ws.close(CLOSE_TOO_MANY_SOCKETS, reason)
            return
        self._sockets_of[owner] += 1
        client = ClientSocket(ws, who, self.config.send_queue_frames, self.config.send_queue_bytes)
        self._clients.add(client)
        OPEN_SOCKETS.labels(self.gateway_id).inc()
        sender = asyncio.create_task(self._sender(client))
        expiry = asyncio.create_task(self._expire(client)) if who.expires_at is not None else None
        try:
            async for frame in ws:
                if client.overflowed:
                    break
                await self._on_frame(client, frame)
        except ConnectionClosed:
            pass
        finally:
            self._sockets_of[owner] -= 1
            if not self._sockets_of[owner]:
                del self._sockets_of[owner]
            self._release(client)
            self._clients.discard(client)
            OPEN_SOCKETS.labels(self.gateway_id).dec()
            for task in (sender, expiry):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _expire(self, client: ClientSocket) -> None:
        """Close the socket with 4401 when its token expires: a token is no longer good after its
        ``exp`` on a socket opened before it either (the client reconnects with a fresh one and
        resumes its requests)."""
        assert client.principal.expires_at is not None
        await asyncio.sleep(max(0.0, client.principal.expires_at - time.time()))
        log.info("token expired; closing the socket", user=client.principal.user)
        await self._close(client.ws, CLOSE_UNAUTHENTICATED, "token expired; reconnect with a new one")

    async def _sender(self, client: ClientSocket) -> None:
        try:
            while True:
                frame = client.next_frame(self._requests)
                if frame is None:
                    client.wake.clear()
                    await client.wake.wait()
                    continue
                await client.ws.send(frame)
        except ConnectionClosed:
            pass

    async def _on_frame(self, client: ClientSocket, frame: str | bytes) -> None:
        try:
            msg = parse_client(frame, self.config.max_question_chars)
        except ProtocolError as exc:
            self._send(client, Error(code=exc.code, message=exc.message))
            return
        try:
            if isinstance(msg, Ask):
                await handlers.ask(self, client, msg)
            elif isinstance(msg, Resume):
                await handlers.resume(self, client, msg)
            elif isinstance(msg, Ping):
                self._send(client, Pong())
            elif isinstance(msg, Feedback):
                await handlers.rate(self, client, msg)
        except Exception as exc:  # one bad message never ends the socket or the server
            log.exception("message handling failed", error=repr(exc))
            self._send(client, Error(code="internal", message="internal error"))

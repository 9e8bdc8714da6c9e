"""The websocket gateway: one instance holds client sockets, publishes each question as an
``AgentState`` on ``chat.requests`` and streams the agent's ``ReplyEvent``s back from its own reply
topic ``chat.replies.<gateway_id>`` to the socket that asked.

Threads: a confluent-kafka producer (idempotent, acks=all) is polled by one thread for delivery
reports; a consumer, assigned every partition of the reply topic at its end when the gateway starts,
is read by another. Everything else runs on the event loop, where ``_on_events`` dispatches each
event without awaiting: into the request's replay log and, when a socket holds the request, onto that
socket's bounded send queue. A full queue closes that socket with 1013; the log keeps the events so a
``resume`` from a new socket continues without gaps or duplicates.

A request whose agent stays silent for ``request_timeout_s`` is ended by the gateway with an error
event (``agent_timeout``). Prometheus metrics (sockets, requests by outcome, time to first token and to
final, rate-limited asks) are served at ``GET /metrics`` on the websocket port.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from redis.asyncio import Redis
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from services.common import kafka_conf
from services.common.codec import Codec, CodecError, make_codec
from services.common.messages import AgentState, ChatTurn, ReplyEvent
from services.common.settings import GatewaySettings
from services.gateway.auth import AuthError, Principal, verify
from services.gateway.follow import Follower, RequestRegistry
from services.gateway.page import is_websocket, page_response
from services.gateway.protocol import (
    Accepted,
    Ask,
    Error,
    ErrorCode,
    Ping,
    Pong,
    ProtocolError,
    Resume,
    Resumed,
    ServerMessage,
    dump,
    from_reply,
    parse_client,
)
from services.gateway.ratelimit import RateLimiter
from topics import CHAT_REQUESTS, TopicNames
from topics.admin import ensure_topics

log = structlog.get_logger("gateway")

CLOSE_TRY_AGAIN_LATER = 1013  # the socket's send queue overflowed: reconnect and resume
CLOSE_GOING_AWAY = 1001

# Labelled by gateway_id: several gateways may share a process (tests, the embedded stack's registry).
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OPEN_SOCKETS = Gauge("ragstream_gateway_open_sockets", "Authenticated websockets open", ["gateway"])
REQUESTS = Counter(
    "ragstream_gateway_requests_total",
    "Questions published, by how they ended: answered, agent_error, agent_timeout, unavailable",
    ["gateway", "outcome"],
)
RATE_LIMITED = Counter("ragstream_gateway_rate_limited_total", "Asks refused by the rate limit", ["gateway"])
TIME_TO_FIRST_TOKEN = Histogram(
    "ragstream_gateway_time_to_first_token_seconds",
    "From an ask reaching the gateway to its first token arriving from the agent",
    ["gateway"],
    buckets=_LATENCY_BUCKETS,
)
TIME_TO_FINAL = Histogram(
    "ragstream_gateway_time_to_final_seconds",
    "From an ask reaching the gateway to its final answer arriving from the agent",
    ["gateway"],
    buckets=_LATENCY_BUCKETS,
)


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port; read Gateway.port after start
    gateway_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    max_frame_bytes: int = 64 * 1024  # larger client frames close the socket with 1009
    max_question_chars: int = 4000
    # What may wait for one socket before it counts as too slow and is closed with 1013. Generous
    # enough for a burst of events fetched in one batch by a client that keeps up.
    send_queue_frames: int = 2048
    send_queue_bytes: int = 4 * 1024 * 1024
    max_events_per_request: int = 4096  # replay log per request; older events are dropped (resume: gap)
    max_requests: int = 10_000  # requests kept for resume, running or finished
    retention_s: float = 300.0  # how long a finished (or silent, unheld) request stays resumable
    request_partitions: int = 3  # when chat.requests has to be created
    reply_partitions: int = 1
    replication_factor: int = 1
    rate_capacity: int = 20  # asks per user at once ...
    rate_per_s: float = 60.0  # ... refilled over this many seconds
    rate_limit_fail_open: bool = True  # Redis down: let asks through (logged) instead of refusing
    redis_prefix: str = "ragstream:gw:"
    publish_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    compression: str | None = None  # "deflate" to enable permessage-deflate
    fetch_max_wait_ms: int = 5  # reply consumer long-poll; bounds the reply hop's latency on Tansu
    # Batching the questions' produce would add this much to every time to first token.
    producer_linger_ms: float = 0.0
    # The agent sent nothing for this long: the client gets error agent_timeout and the request ends.
    request_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: GatewaySettings, **overrides: Any) -> GatewayConfig:
        """The configurable part from ``Settings().gateway`` (``RAGSTREAM_GATEWAY__*``)."""
        values: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "rate_capacity": settings.rate_capacity,
            "rate_per_s": settings.rate_per_s,
            "request_timeout_s": settings.request_timeout_s,
        }
        return cls(**(values | overrides))


@dataclass
class _Request:
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
    holder: _Client | None = None
    asked_at: float = field(default_factory=time.monotonic)  # the ask reached the gateway
    heard_at: float = field(default_factory=time.monotonic)  # published, or the agent's last event
    first_token: bool = False
    followed: bool = False  # adopted from another instance: its events come from a _Follower only

    @property
    def end(self) -> int:
        return self.base + len(self.events)

    def index_after(self, after_seq: int) -> int:
        """The index of the first kept event with seq > after_seq."""
        for i, (seq, _frame) in enumerate(self.events):
            if seq > after_seq:
                return self.base + i
        return self.end


class _Client:
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

    def push(self, frame: str) -> None:
        self.control.append(frame)
        self.wake.set()

    def add_lag(self, frame: str) -> bool:
        """Count a live event; False when that puts the socket over its budget."""
        self.lag_frames += 1
        self.lag_bytes += len(frame)
        self.wake.set()
        return self.lag_frames <= self.max_frames and self.lag_bytes <= self.max_bytes

    def next_frame(self, requests: dict[str, _Request]) -> str | None:
        if self.control:
            return self.control.popleft()
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


def _bearer(request: Request) -> str | None:
    token = parse_qs(urlsplit(request.path).query).get("token", [None])[0]
    if token:
        return token
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


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
        self.request_topic = names(CHAT_REQUESTS)
        self.reply_topic = names.replies(self.config.gateway_id)
        self._requests: OrderedDict[str, _Request] = OrderedDict()
        self._clients: set[_Client] = set()
        self._auth: weakref.WeakKeyDictionary[ServerConnection, Principal | AuthError] = (
            weakref.WeakKeyDictionary()
        )
        self._server: Server | None = None
        self._producer: Producer | None = None
        self._consumer: Consumer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
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
        self._stopping.clear()
        await asyncio.to_thread(self._setup_kafka)
        self._threads = [
            threading.Thread(target=self._poll_producer, name=f"gw-{self.gateway_id}-producer", daemon=True),
            threading.Thread(target=self._consume, name=f"gw-{self.gateway_id}-replies", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
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
        self._stopping.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 10)
        self._threads = []
        self._producer = self._consumer = None
        log.info("gateway stopped", gateway_id=self.gateway_id)

    async def __aenter__(self) -> Gateway:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _setup_kafka(self) -> None:
        cfg = self.config
        ensure_topics(
            self.bootstrap, self.names, cfg.request_partitions, cfg.replication_factor, (CHAT_REQUESTS,)
        )
        admin = AdminClient(kafka_conf.client(self.bootstrap))
        if self.reply_topic not in admin.list_topics(timeout=15).topics:
            futures = admin.create_topics(
                [NewTopic(self.reply_topic, cfg.reply_partitions, cfg.replication_factor)],
                operation_timeout=15,
            )
            for future in futures.values():
                try:
                    future.result()
                except KafkaException as exc:
                    if "TOPIC_ALREADY_EXISTS" not in str(exc):
                        raise
        topic = admin.list_topics(self.reply_topic, timeout=15).topics.get(self.reply_topic)
        if topic is None or not topic.partitions:
            raise RuntimeError(f"reply topic {self.reply_topic} has no partitions")
        self._producer = Producer(
            kafka_conf.client(self.bootstrap)
            | {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": self.config.producer_linger_ms,
                "client.id": f"gateway-{self.gateway_id}",
            }
        )
        consumer = Consumer(
            kafka_conf.client(self.bootstrap)
            | {
                "group.id": f"gateway-{self.gateway_id}-{uuid.uuid4().hex[:8]}",  # never joined: assign
                "enable.auto.commit": False,
                "client.id": f"gateway-{self.gateway_id}",
                # Tansu answers an empty fetch only when fetch.wait.max.ms expires (it does not wake on
                # new data), so the default 500 ms was the reply hop's floor; Apache Kafka wakes anyway.
                "fetch.wait.max.ms": self.config.fetch_max_wait_ms,
                "socket.nagle.disable": True,
            }
        )
        # Start at each partition's current end: replies published from now on are ours.
        assignment = []
        for partition in sorted(topic.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(self.reply_topic, partition), timeout=15
            )
            assignment.append(TopicPartition(self.reply_topic, partition, high))
        consumer.assign(assignment)
        self._consumer = consumer

    # ------------------------------------------------------------------ Kafka threads

    def _poll_producer(self) -> None:
        producer = self._producer
        assert producer is not None
        while not self._stopping.is_set():
            producer.poll(0.1)
        producer.flush(5)

    def _consume(self) -> None:
        consumer, loop = self._consumer, self._loop
        assert consumer is not None
        assert loop is not None
        try:
            while not self._stopping.is_set():
                batch: list[ReplyEvent] = []
                # consume(n, timeout) waits for n messages or the whole timeout: wait for the first
                # one only, then take whatever else is already here without waiting.
                first = consumer.poll(0.1)
                ready = [first, *consumer.consume(num_messages=499, timeout=0)] if first is not None else []
                for msg in ready:
                    if msg.error():
                        log.warning("reply consumer error", error=str(msg.error()))
                        continue
                    try:
                        batch.append(self.codec.decode(msg.value() or b"", ReplyEvent, self.reply_topic))
                    except CodecError as exc:
                        log.warning("undecodable reply event dropped", error=str(exc), key=msg.key())
                if batch:
                    loop.call_soon_threadsafe(self._on_events, batch)
        finally:
            consumer.close()

    async def _publish(self, state: AgentState) -> None:
        producer, loop = self._producer, asyncio.get_running_loop()
        if producer is None:
            raise RuntimeError("the gateway is not started")
        done: asyncio.Future[None] = loop.create_future()

        def settle(err: Any, _msg: Any) -> None:
            def apply() -> None:
                if done.done():
                    return
                if err is None:
                    done.set_result(None)
                else:
                    done.set_exception(KafkaException(err))

            loop.call_soon_threadsafe(apply)

        producer.produce(
            self.request_topic,
            key=state.request_id.encode(),
            value=self.codec.encode(state, self.request_topic),
            on_delivery=settle,
        )
        await asyncio.wait_for(done, self.config.publish_timeout_s)

    # ------------------------------------------------------------------ dispatch (event loop only)

    def _on_events(self, batch: list[ReplyEvent], followed: bool = False) -> None:
        now = time.monotonic()
        for event in batch:
            req = self._requests.get(event.request_id)
            if req is None:
                log.debug("reply for an unknown request dropped", request_id=event.request_id)
                continue
            if req.followed != followed:
                continue  # an adopted request reads its origin topic from the start, in order
            if event.seq <= req.last_seq or req.done:
                continue  # a redelivery, or late for a request already ended (e.g. timed out)
            if event.type == "TOKEN" and not req.first_token:
                req.first_token = True
                TIME_TO_FIRST_TOKEN.labels(self.gateway_id).observe(now - req.asked_at)
            elif event.type == "FINAL":
                TIME_TO_FINAL.labels(self.gateway_id).observe(now - req.asked_at)
                REQUESTS.labels(self.gateway_id, "answered").inc()
            elif event.type == "ERROR":
                REQUESTS.labels(self.gateway_id, "agent_error").inc()
            self._append(req, event.seq, dump(from_reply(event)), event.type in ("FINAL", "ERROR"), now)

    def _append(self, req: _Request, seq: int, frame: str, last: bool, now: float) -> None:
        """One event into the request's log and, when a socket holds it, towards that socket."""
        req.events.append((seq, frame))
        req.last_seq = seq
        req.touched = req.heard_at = now
        req.done = last
        if last and not req.followed:
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

    def _time_out(self, req: _Request, now: float) -> None:
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

    def _send(self, client: _Client, msg: ServerMessage) -> None:
        if not client.overflowed:
            client.push(dump(msg))

    def _overflow(self, client: _Client) -> None:
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

    def _release(self, client: _Client) -> None:
        for rid in client.requests:
            req = self._requests.get(rid)
            if req is not None and req.holder is client:
                req.holder = None
                req.touched = time.monotonic()
            client.drop(rid)
        client.lag_frames = client.lag_bytes = 0

    def _hold(self, req: _Request, client: _Client, after_seq: int) -> None:
        """Make ``client`` the socket of ``req``: events after ``after_seq`` are replayed, then live."""
        if req.holder is not None:
            self._let_go(req.holder, req.request_id)
        req.holder = client
        client.cursors[req.request_id] = req.index_after(after_seq)
        client.live_from[req.request_id] = req.end
        client.wake.set()

    def _let_go(self, client: _Client, rid: str) -> None:
        """``client`` stops holding ``rid`` (another socket resumed it, or it is forgotten)."""
        cursor, live_from = client.cursors.get(rid), client.live_from.get(rid)
        req = self._requests.get(rid)
        if cursor is not None and live_from is not None and req is not None:
            for i in range(max(cursor, live_from, req.base), req.end):
                client.lag_frames -= 1
                client.lag_bytes -= len(req.events[i - req.base][1])
        client.drop(rid)

    def _remember(self, req: _Request) -> None:
        self._requests[req.request_id] = req
        excess = len(self._requests) - self.config.max_requests
        if excess > 0:
            for rid in [r.request_id for r in self._requests.values() if r.holder is None or r.done][:excess]:
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

    async def _adopt(self, rid: str, principal: Principal, after_seq: int) -> _Request | None:
        """A request asked on another instance (or on this one before a restart): follow its origin
        reply topic from the ask, so a client that reconnects anywhere resumes it. None when the
        registry does not know it; a request of another user is adopted under its owner, so the
        ownership check that follows refuses it as for a local request. Events up to ``after_seq``
        (the client has them) are skipped as the follower reads them."""
        try:
            origin = await self.registry.lookup(rid)
        except Exception as exc:  # Redis down: resume works only where the request lives
            log.warning("request registry unavailable", error=repr(exc))
            return None
        if origin is None:
            return None
        req = _Request(rid, origin.principal, followed=True, last_seq=after_seq, dropped_upto=after_seq)
        if origin.principal == principal:
            self._remember(req)
            assert self._loop is not None
            follower = Follower(
                self.bootstrap, self.codec, origin, self._loop, self._on_events, self._stopping
            )
            follower.start(self.config.retention_s)
        return req

    # ------------------------------------------------------------------ websocket

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return conn.respond(HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            if self.ready:
                return conn.respond(HTTPStatus.OK, "ready\n")
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "not ready\n")
        if path == "/metrics":
            response = conn.respond(HTTPStatus.OK, generate_latest().decode())
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return response
        if not is_websocket(request) and (page := page_response(path)) is not None:
            return page  # the web chat (GET / and /static/...)
        try:
            self._auth[conn] = verify(_bearer(request), self._secret)
        except AuthError as exc:
            self._auth[conn] = exc  # accepted, then closed with exc.close_code (browsers see the code)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        who = self._auth.pop(ws, None)
        if not isinstance(who, Principal):
            err = who if isinstance(who, AuthError) else AuthError("not authenticated")
            await ws.close(err.close_code, err.reason)
            return
        client = _Client(ws, who, self.config.send_queue_frames, self.config.send_queue_bytes)
        self._clients.add(client)
        OPEN_SOCKETS.labels(self.gateway_id).inc()
        sender = asyncio.create_task(self._sender(client))
        try:
            async for frame in ws:
                if client.overflowed:
                    break
                await self._on_frame(client, frame)
        except ConnectionClosed:
            pass
        finally:
            self._release(client)
            self._clients.discard(client)
            OPEN_SOCKETS.labels(self.gateway_id).dec()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _sender(self, client: _Client) -> None:
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

    async def _on_frame(self, client: _Client, frame: str | bytes) -> None:
        try:
            msg = parse_client(frame, self.config.max_question_chars)
        except ProtocolError as exc:
            self._send(client, Error(code=exc.code, message=exc.message))
            return
        try:
            if isinstance(msg, Ask):
                await self._ask(client, msg)
            elif isinstance(msg, Resume):
                await self._resume(client, msg)
            elif isinstance(msg, Ping):
                self._send(client, Pong())
        except Exception as exc:  # one bad message never ends the socket or the server
            log.exception("message handling failed", error=repr(exc))
            self._send(client, Error(code="internal", message="internal error"))

    async def _ask(self, client: _Client, msg: Ask) -> None:
        asked_at = time.monotonic()
        principal = client.principal
        try:
            allowed, retry_after = await self.limiter.allow(principal.tenant, principal.user)
        except Exception as exc:  # Redis unreachable
            log.warning(
                "rate limiter unavailable", error=repr(exc), fail_open=self.config.rate_limit_fail_open
            )
            allowed, retry_after = self.config.rate_limit_fail_open, 1.0
        if not allowed:
            RATE_LIMITED.labels(self.gateway_id).inc()
            self._send(
                client,
                Error(
                    code=ErrorCode.RATE_LIMITED,
                    message=f"too many questions; retry in {retry_after:g}s",
                    retry_after_s=retry_after,
                ),
            )
            return
        rid = uuid.uuid4().hex
        req = _Request(rid, principal, asked_at=asked_at)
        self._remember(req)  # before publishing: replies may arrive before the delivery report
        state = AgentState(
            request_id=rid,
            tenant=principal.tenant,
            user=principal.user,
            session_id=msg.session_id,
            question=msg.question,
            history=[ChatTurn(role=role, content=text) for role, text in msg.history],
            reply_to=self.reply_topic,
            seq=0,
        )
        try:
            await self._publish(state)
        except Exception as exc:
            self._forget(rid)
            REQUESTS.labels(self.gateway_id, "unavailable").inc()
            log.warning("publishing a question failed", error=repr(exc))
            self._send(client, Error(code=ErrorCode.UNAVAILABLE, message="could not submit the question"))
            return
        req.heard_at = time.monotonic()  # the agent's silence counts from here
        self._spawn(self.registry.record(rid, self.reply_topic, principal))
        self._send(client, Accepted(request_id=rid))
        if not client.overflowed:
            self._hold(req, client, -1)

    async def _resume(self, client: _Client, msg: Resume) -> None:
        req = self._requests.get(msg.request_id) or await self._adopt(
            msg.request_id, client.principal, msg.after_seq
        )
        if req is None:
            self._send(
                client,
                Error(request_id=msg.request_id, code=ErrorCode.NOT_FOUND, message="no such request here"),
            )
            return
        if req.principal != client.principal:
            self._send(
                client,
                Error(request_id=msg.request_id, code=ErrorCode.FORBIDDEN, message="not your request"),
            )
            return
        if msg.after_seq < req.dropped_upto:
            self._send(
                client,
                Error(
                    request_id=msg.request_id,
                    code=ErrorCode.GAP,
                    message=f"events up to seq {req.dropped_upto} are no longer kept",
                ),
            )
            return
        self._send(client, Resumed(request_id=msg.request_id, after_seq=msg.after_seq))
        if not client.overflowed:
            self._hold(req, client, msg.after_seq)

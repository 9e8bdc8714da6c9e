"""Chat latency benchmark: the in-process agent graph and the distributed agent (four Kafka workers
behind the websocket gateway) side by side in one run, on the embedded stack with ``examples/docs``
indexed, then many concurrent websocket chats.

The stack is ``run_stack`` on an embedded Tansu broker (memory storage), with a unique topic prefix,
``Settings(cache_answers=False)`` (no semantic cache: every question really runs the agent) and a
``Gateway`` with its own Redis rate-limit prefix and a bucket large enough never to refuse.

1. **sequential**: the same N questions (a fixed list of 10 about the example documents, repeated),
   each asked in-process (``ask_inprocess(stack.agent, new_state(...))``) and then over the gateway
   (a new websocket per question; the clock starts when the ``ask`` frame is sent, the connect is
   reported apart). Time to first token (first ``token`` event / frame) and to the last token
   (``final``), p50/p95 per executor, and distributed - in-process on p50 TTFT against the goal
   (Kafka hops add <= 25 ms).
2. **per hop**: the frames carry no timestamps, so the bench taps the gateway in this process (it
   wraps the instance's ``_publish`` and ``_on_events``; no library code changes): when the question
   was handed to the producer and acknowledged, and for every ``ReplyEvent`` its ``emitted_at`` (set
   by the worker just before publishing it) and when the gateway's event loop received it. With the
   client's receive times that splits the distributed TTFT into segments, next to the same segments
   of the in-process run (times of its status/token events).
3. **concurrency**: C websockets connect, then all ask one question at once; errors (must be 0),
   TTFT p50/p95, wall time from the first ask to the last ``final``, and this process's RSS before
   and after (the gateway, the agent workers, the pipeline stages and the clients all run in this
   one process; Tansu and FalkorDB are child processes and not counted).

Warm-up (consumer-group joins, model load, first calls) happens before anything is timed.

Run ``python -m bench.chat [--questions 40] [--concurrency 100 [500 ...]] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ingest import fmt_load, machine, run_and_report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "docs"
TENANT = "bench"
SECRET = "bench-secret-" + uuid.uuid4().hex
GOAL_MS = 25.0
QUESTIONS = (
    "Who works for Helios Labs?",
    "Where is Helios Labs headquartered?",
    "What is 12 * 7?",
    "Which company makes the Jackal Ledger?",
    "Who works for Riverstone Biotech?",
    "Where does Quentin Eriksen live?",
    "Where is Juniper Networks headquartered?",
    "What does Helios Labs invest in?",
    "What is (250 + 17) / 3?",
    "Who works for Larkspur Robotics?",
)


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x * 1000:.1f}"


def summary(values: list[float]) -> dict[str, float | int]:
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 50) * 1000, 2),
        "p95_ms": round(pct(values, 95) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2) if values else math.nan,
    }


@dataclass
class Run:
    """One question on one executor. Times are wall clock (``time.time()``) so they line up with the
    ``emitted_at`` of the reply events; ``start`` is when the question left the client."""

    question: str
    start: float
    statuses: list[tuple[str, float]] = field(default_factory=list)  # (step, received)
    tokens: list[float] = field(default_factory=list)
    final: float = math.nan
    answer: str = ""
    error: str = ""
    connect_s: float = math.nan
    accepted: float = math.nan
    request_id: str = ""
    received: dict[int, float] = field(default_factory=dict)  # seq -> client receive time

    @property
    def ttft(self) -> float:
        return self.tokens[0] - self.start if self.tokens else math.nan

    @property
    def ttlt(self) -> float:
        return self.final - self.start

    def status_at(self, step: str) -> float:
        return next((t for s, t in self.statuses if s == step), math.nan)

    @property
    def middle(self) -> str:
        """The step between plan and respond (retrieve or tool)."""
        return next((s for s, _ in self.statuses if s not in ("plan", "respond")), "")


class Tap:
    """Records, per request, when the gateway published it and every ReplyEvent's ``emitted_at``, its
    decoding on the gateway's consumer thread and its arrival on the gateway's event loop, by wrapping
    the publish and the event hand-off of one Gateway's Kafka side (``gateway.kafka``) and its codec's
    ``decode``."""

    def __init__(self, gateway: Any) -> None:
        self.published: dict[str, tuple[float, float]] = {}  # rid -> (produce called, delivery report)
        self.events: dict[str, dict[int, tuple[str, str | None, float, float]]] = {}
        self.fetched: dict[tuple[str, int], float] = {}  # (rid, seq) -> decoded on the consumer thread
        channel = gateway.kafka
        publish, on_events, decode = channel.publish, channel.on_events, gateway.codec.decode

        def tapped_decode(data: bytes, model: Any, topic: str) -> Any:
            record = decode(data, model, topic)
            if hasattr(record, "seq"):
                self.fetched.setdefault((record.request_id, record.seq), time.time())
            return record

        async def tapped_publish(state: Any) -> None:
            t0 = time.time()
            await publish(state)
            self.published[state.request_id] = (t0, time.time())

        def tapped_on_events(batch: list[Any]) -> None:
            now = time.time()
            for e in batch:
                self.events.setdefault(e.request_id, {}).setdefault(
                    e.seq, (e.type, e.step, e.emitted_at.timestamp(), now)
                )
            on_events(batch)

        channel.publish = tapped_publish
        channel.on_events = tapped_on_events
        gateway.codec.decode = tapped_decode

    def clear(self) -> None:
        self.published.clear()
        self.events.clear()
        self.fetched.clear()


# --------------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------------


async def ask_local(stack: Any, question: str) -> Run:
    from services.agent.wiring import ask_inprocess, new_state

    run = Run(question, time.time())
    state = new_state(uuid.uuid4().hex, TENANT, question)
    async for event in ask_inprocess(stack.agent, state):
        now = time.time()
        kind = event["type"]
        if kind == "status":
            run.statuses.append((event["step"], now))
        elif kind == "token":
            run.tokens.append(now)
        elif kind == "final":
            run.final = now
            run.answer = event["state"].answer
    return run


async def ask_remote(url: str, question: str, user: str, ws: Any = None) -> Run:
    """One question over the gateway, on ``ws`` if given (already open) else on a new socket."""
    from websockets.asyncio.client import connect

    from services.gateway import issue_token

    async with contextlib.AsyncExitStack() as stack:
        if ws is None:
            t = time.perf_counter()
            token = issue_token(SECRET, TENANT, user, 3600)
            ws = await stack.enter_async_context(connect(f"{url}?token={token}", ping_interval=None))
            connect_s = time.perf_counter() - t
        else:
            connect_s = math.nan
        run = Run(question, time.time(), connect_s=connect_s)
        await ws.send(json.dumps({"type": "ask", "question": question}))
        pieces: list[str] = []
        async for raw in ws:
            now = time.time()
            frame = json.loads(raw)
            kind = frame["type"]
            if "seq" in frame:
                run.received[frame["seq"]] = now
            if kind == "accepted":
                run.accepted, run.request_id = now, frame["request_id"]
            elif kind == "status":
                run.statuses.append((frame["step"], now))
            elif kind == "token":
                run.tokens.append(now)
                pieces.append(frame["text"])
            elif kind == "final":
                run.final, run.answer = now, frame["text"]
                if "".join(pieces) != run.answer:
                    run.error = "tokens do not add up to the final answer"
                break
            elif kind == "error":
                run.final, run.error = now, f"{frame.get('code')}: {frame.get('message')}"
                break
        else:
            run.error = "socket closed before final"
    return run


# --------------------------------------------------------------------------------------------------
# 1 + 2. sequential, per hop
# --------------------------------------------------------------------------------------------------


def hop_segments(local: list[Run], remote: list[Run], tap: Tap) -> list[tuple[str, list[float], list[float]]]:
    """(segment, in-process values, distributed values) along the TTFT path; the distributed status and
    token times are the workers' ``emitted_at``, the in-process ones when the event was yielded."""

    def emitted(run: Run, kind: str, step: str | None = None) -> float:
        for _seq, (t, s, at, _arr) in sorted(tap.events.get(run.request_id, {}).items()):
            if t == kind and (step is None or s == step):
                return at
        return math.nan

    def first_token_arrival(run: Run) -> tuple[float, float]:
        for seq, (t, _s, _at, arr) in sorted(tap.events.get(run.request_id, {}).items()):
            if t == "TOKEN":
                return arr, run.received.get(seq, math.nan)
        return math.nan, math.nan

    def gaps(values: list[float]) -> list[float]:
        return [b - a for a, b in itertools.pairwise(values)]

    segs: dict[str, tuple[list[float], list[float]]] = {}

    def add(name: str, a: float | None, b: float | None) -> None:
        pair = segs.setdefault(name, ([], []))
        if a is not None and not math.isnan(a):
            pair[0].append(a)
        if b is not None and not math.isnan(b):
            pair[1].append(b)

    for lo in local:
        mid = lo.middle
        add("start -> 'plan' status", lo.status_at("plan") - lo.start, None)
        add(f"'plan' -> '{mid}' status", lo.status_at(mid) - lo.status_at("plan"), None)
        add(f"'{mid}' -> 'respond' status", lo.status_at("respond") - lo.status_at(mid), None)
        add("'respond' -> first token", lo.tokens[0] - lo.status_at("respond") if lo.tokens else None, None)
        add("token -> next token (each)", None, None)
        segs["token -> next token (each)"][0].extend(gaps(lo.tokens))
        add("last token -> final", lo.final - lo.tokens[-1] if lo.tokens else None, None)
    for r in remote:
        pub0, pub1 = tap.published.get(r.request_id, (math.nan, math.nan))
        mid = r.middle
        plan, middle, respond = (emitted(r, "STATUS", s) for s in ("plan", mid, "respond"))
        tok = emitted(r, "TOKEN")
        arr, recv = first_token_arrival(r)
        add("client ask -> gateway publish (ws, Redis limit)", None, pub0 - r.start)
        add("  question produce, acks=all", None, pub1 - pub0)
        add("  delivery report -> 'accepted' at client", None, r.accepted - pub1)
        add("  gateway publish -> plan worker emits 'plan'", None, plan - pub0)
        add("start -> 'plan' status", None, plan - r.start)
        add(f"'plan' -> '{mid}' status", None, middle - plan)
        add(f"'{mid}' -> 'respond' status", None, respond - middle)
        add("'respond' -> first token", None, tok - respond)
        add("first token: emitted -> gateway loop", None, arr - tok)
        add("first token: gateway loop -> client", None, recv - arr)
        events = sorted(tap.events.get(r.request_id, {}).values(), key=lambda e: e[2])
        token_times = [at for t, _s, at, _arr in events if t == "TOKEN"]
        segs.setdefault("token -> next token (each)", ([], []))[1].extend(gaps(token_times))
        final = [at for t, _s, at, _arr in events if t == "FINAL"]
        add("last token -> final", None, final[0] - token_times[-1] if final and token_times else None)
        add("reply hop, every event: emitted -> gateway loop", None, None)
        segs["reply hop, every event: emitted -> gateway loop"][1].extend(
            arr - at for _t, _s, at, arr in events
        )
        add("  emitted -> decoded on the gateway's consumer thread", None, None)
        add("  consumer thread -> gateway loop", None, None)
        for seq, (_t, _s, at, arr) in tap.events.get(r.request_id, {}).items():
            fetched = tap.fetched.get((r.request_id, seq))
            if fetched is not None:
                segs["  emitted -> decoded on the gateway's consumer thread"][1].append(fetched - at)
                segs["  consumer thread -> gateway loop"][1].append(arr - fetched)
    return [(name, a, b) for name, (a, b) in segs.items()]


async def sequential(stack: Any, url: str, tap: Tap, n: int) -> tuple[list[Run], list[Run]]:
    tap.clear()
    local: list[Run] = []
    remote: list[Run] = []
    for i in range(n):
        q = QUESTIONS[i % len(QUESTIONS)]
        local.append(await ask_local(stack, q))
        remote.append(await ask_remote(url, q, "seq"))
        if (i + 1) % 10 == 0:
            print(f"    {i + 1}/{n}", flush=True)
    return local, remote


# --------------------------------------------------------------------------------------------------
# 3. concurrency
# --------------------------------------------------------------------------------------------------


def rss_mib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def concurrent(url: str, tap: Tap, gateway: Any, c: int, timeout_s: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from services.gateway import issue_token

    tap.clear()
    rss_before, peak_before = rss_mib(), peak_rss_mib()
    gate = asyncio.Semaphore(64)  # connect in waves: the listen backlog is 100
    go = asyncio.Event()
    connected = 0
    errors: list[str] = []

    async def one(k: int) -> Run | None:
        nonlocal connected
        token = issue_token(SECRET, TENANT, f"user{k % 50}", 3600)
        try:
            async with gate:
                t = time.perf_counter()
                ws = await connect(f"{url}?token={token}", ping_interval=None, open_timeout=60)
                connect_s = time.perf_counter() - t
            connected += 1
            async with ws:
                await go.wait()
                run = await asyncio.wait_for(
                    ask_remote(url, QUESTIONS[k % len(QUESTIONS)], "", ws), timeout_s
                )
                run.connect_s = connect_s
                return run
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            return None

    tasks = [asyncio.ensure_future(one(k)) for k in range(c)]
    t = time.perf_counter()
    while connected + len(errors) < c:  # noqa: ASYNC110  (counters bumped by c tasks; a poll is simplest)
        await asyncio.sleep(0.01)
    connect_wall = time.perf_counter() - t
    rss_connected = rss_mib()
    started = time.time()
    go.set()
    runs = [r for r in await asyncio.gather(*tasks) if r is not None]
    wall = max((r.final for r in runs if not math.isnan(r.final)), default=time.time()) - started
    errors += [r.error for r in runs if r.error]
    rss_after = rss_mib()
    ttft = [r.ttft for r in runs if not r.error]
    ttlt = [r.ttlt for r in runs if not r.error]
    reply_hop = [arr - at for evs in tap.events.values() for _t, _s, at, arr in evs.values()]
    produce = [b - a for a, b in tap.published.values()]
    return {
        "clients": c,
        "completed": len(runs) - sum(1 for r in runs if r.error),
        "errors": len(errors),
        "error_samples": errors[:5],
        "ttft": summary(ttft),
        "ttlt": summary(ttlt),
        "connect": summary([r.connect_s for r in runs]),
        "connect_wall_s": round(connect_wall, 3),
        "wall_s": round(wall, 3),
        "answers_per_s": round(len(ttlt) / wall, 2) if wall > 0 else 0.0,
        "reply_hop": summary(reply_hop),
        "question_produce": summary(produce),
        "rss_mib": {
            "before": round(rss_before, 1),
            "connected": round(rss_connected, 1),
            "after": round(rss_after, 1),
            "peak_before": round(peak_before, 1),
            "peak_after": round(peak_rss_mib(), 1),
        },
        "gateway_requests_kept": len(gateway._requests),
    }


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def latency_table(local: list[Run], remote: list[Run]) -> list[str]:
    head = f"{'':26} {'n':>4} {'TTFT p50':>9} {'TTFT p95':>9} {'last p50':>9} {'last p95':>9}  ms"
    lines = [head, "-" * len(head)]
    for name, runs in (("in-process graph", local), ("distributed (gateway)", remote)):
        ok = [r for r in runs if not r.error]
        ttft, ttlt = [r.ttft for r in ok], [r.ttlt for r in ok]
        lines.append(
            f"{name:26} {len(ok):>4} {ms(pct(ttft, 50)):>9} {ms(pct(ttft, 95)):>9}"
            f" {ms(pct(ttlt, 50)):>9} {ms(pct(ttlt, 95)):>9}"
        )
    for route in ("retrieve", "tool"):
        for name, runs in (("in-process", local), ("distributed", remote)):
            ok = [r for r in runs if not r.error and r.middle == route]
            if ok:
                ttft, ttlt = [r.ttft for r in ok], [r.ttlt for r in ok]
                lines.append(
                    f"{'  ' + route + ' route, ' + name:26} {len(ok):>4} {ms(pct(ttft, 50)):>9}"
                    f" {ms(pct(ttft, 95)):>9} {ms(pct(ttlt, 50)):>9} {ms(pct(ttlt, 95)):>9}"
                )
    return lines


def hop_table(segments: list[tuple[str, list[float], list[float]]]) -> list[str]:
    head = f"{'segment':52} {'in-proc p50':>11} {'dist p50':>9} {'dist p95':>9} {'Δ p50':>8}  ms"
    lines = [head, "-" * len(head)]
    for name, a, b in segments:
        pa, pb = pct(a, 50), pct(b, 50)
        delta = ms(pb - pa) if a and b else "-"
        lines.append(f"{name:52} {ms(pa):>11} {ms(pb):>9} {ms(pct(b, 95)):>9} {delta:>8}")
    return lines


def concurrency_table(results: list[dict[str, Any]]) -> list[str]:
    head = (
        f"{'clients':>7} {'done':>5} {'errors':>6} {'TTFT p50':>9} {'TTFT p95':>9} {'last p95':>9}"
        f" {'wall s':>7} {'ans/s':>6} {'reply hop p50/p95':>18} {'RSS MiB before→after (peak)':>28}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        rss = r["rss_mib"]
        hop = f"{r['reply_hop']['p50_ms']:.1f}/{r['reply_hop']['p95_ms']:.1f}"
        mem = f"{rss['before']:.0f}→{rss['after']:.0f} ({rss['peak_after']:.0f})"
        lines.append(
            f"{r['clients']:>7} {r['completed']:>5} {r['errors']:>6} {r['ttft']['p50_ms']:>9.1f}"
            f" {r['ttft']['p95_ms']:>9.1f} {r['ttlt']['p95_ms']:>9.1f} {r['wall_s']:>7.2f}"
            f" {r['answers_per_s']:>6.1f} {hop:>18}"
            f" {mem:>28}"
        )
    return lines


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from redis.asyncio import Redis

    from services.common.settings import Settings
    from services.common.tansu import TansuBroker
    from services.gateway import Gateway, GatewayConfig
    from services.generations import run_stack
    from services.models.embedder import LocalEmbedder
    from services.publisher import DocumentPublisher, OutcomeWatcher
    from topics import TopicNames

    work = Path(tempfile.mkdtemp(prefix="ragstream-bench-chat-"))
    load_before = os.getloadavg()
    startup: dict[str, float] = {}
    t = time.perf_counter()
    embedder = LocalEmbedder()
    embedder.embed_sync(["warm-up"])
    startup["embedder_load"] = time.perf_counter() - t
    settings = Settings(home=work / "home", cache_answers=False)
    names = TopicNames(prefix=f"benchchat-{uuid.uuid4().hex[:8]}.")
    t = time.perf_counter()
    broker = TansuBroker(log_file=work / "tansu.log").start()
    startup["broker_start"] = time.perf_counter() - t
    # services/cli builds the gateway's client with Redis.from_url(...) and redis-py's default pool of
    # 100 connections: past 100 asks in flight the limiter raises MaxConnectionsError and fails open.
    # The bench sizes the pool for its largest burst so the rate limiter really runs on every ask.
    redis = Redis.from_url(settings.gateway.redis_url, max_connections=max(args.concurrency) + 100)
    try:
        t = time.perf_counter()
        async with run_stack(settings, bootstrap=broker.bootstrap, names=names, embedder=embedder) as stack:
            startup["run_stack"] = time.perf_counter() - t
            t = time.perf_counter()
            watcher = OutcomeWatcher(stack.bootstrap, names, stack.front.codec)
            publisher = DocumentPublisher(stack.bootstrap, names, stack.front.codec, stack.front.blobs)
            subs = [await publisher.upsert(p, TENANT) for p in sorted(EXAMPLES.iterdir())]
            publisher.flush()
            outcomes = await watcher.wait(subs, 300)
            watcher.close()
            if {o.status for o in outcomes} != {"indexed"}:
                raise RuntimeError(f"examples/docs not indexed: {[o.status for o in outcomes]}")
            startup["index_examples"] = time.perf_counter() - t
            print(f"indexed {len(outcomes)} example documents for tenant {TENANT!r}", flush=True)

            config = GatewayConfig(
                redis_prefix=f"bench:chat:{uuid.uuid4().hex[:8]}:", rate_capacity=1_000_000, rate_per_s=1.0
            )
            async with Gateway(stack.bootstrap, names, SECRET, redis, config=config) as gateway:
                tap = Tap(gateway)
                t = time.perf_counter()
                # warm-up: the graph and stores in-process; over Kafka every worker group must have
                # its partitions before an ask is answered promptly, so ask until an answer is quick.
                for q in QUESTIONS:
                    await ask_local(stack, q)
                quick = 0
                for k in range(200):
                    r = await asyncio.wait_for(
                        ask_remote(gateway.url, QUESTIONS[k % len(QUESTIONS)], "w"), 120
                    )
                    if r.error:
                        raise RuntimeError(f"warm-up ask failed: {r.error}")
                    quick = quick + 1 if r.ttlt < 1.0 else 0
                    if quick >= 2 * len(QUESTIONS):
                        break
                await asyncio.gather(*(ask_remote(gateway.url, q, "w") for q in QUESTIONS * 2))
                startup["warmup"] = time.perf_counter() - t
                print(f"warm-up done in {startup['warmup']:.1f}s ({k + 1} sequential asks)", flush=True)

                print(
                    f"1/3 sequential: {args.questions} questions, in-process then distributed ...", flush=True
                )
                local, remote = await sequential(stack, gateway.url, tap, args.questions)
                print("2/3 per-hop breakdown from the gateway tap ...", flush=True)
                segments = hop_segments(local, remote, tap)
                differ = {lo.question: (lo.answer, r.answer) for lo, r in zip(local, remote, strict=True)}
                differ = {q: pair for q, pair in differ.items() if pair[0] != pair[1]}
                mismatched = [
                    lo.question for lo, r in zip(local, remote, strict=True) if lo.answer != r.answer
                ]

                conc: list[dict[str, Any]] = []
                for c in args.concurrency:
                    print(f"3/3 concurrency: {c} websocket chats at once ...", flush=True)
                    conc.append(await concurrent(gateway.url, tap, gateway, c, args.timeout))
                    print(
                        f"    {conc[-1]['completed']} done, {conc[-1]['errors']} errors"
                        f" in {conc[-1]['wall_s']:.1f}s"
                    )
                    if conc[-1]["errors"]:
                        break
    finally:
        await redis.aclose()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    def stat(runs: list[Run], attr: str) -> dict[str, Any]:
        return summary([getattr(r, attr) for r in runs if not r.error])

    lp50 = pct([r.ttft for r in local if not r.error], 50)
    rp50 = pct([r.ttft for r in remote if not r.error], 50)
    delta_ms = (rp50 - lp50) * 1000
    seq_errors = [f"{r.question}: {r.error}" for r in local + remote if r.error]
    mach = machine()
    lines = [
        "",
        "ragstream chat latency benchmark",
        "================================",
        "machine:  " + ", ".join(f"{k} {v}" for k, v in mach.items()),
        "stack:    run_stack on Tansu memory://, examples/docs indexed (6 docs), cache_answers=False,"
        f" partitions {settings.kafka.partitions}, agent_concurrency {settings.kafka.agent_concurrency},"
        " agent workers + gateway + clients in this one process",
        "start-up (not timed): " + ", ".join(f"{k} {v:.1f}s" for k, v in startup.items()),
        "",
        f"1. sequential, {args.questions} questions ({len(QUESTIONS)} distinct, repeated), each in-process"
        " then over the gateway",
        "   TTFT = ask -> first token; last = ask -> final (distributed: from sending the ask frame on an"
        " open socket)",
        *latency_table(local, remote),
        f"   websocket connect (not in TTFT): p50 {ms(pct([r.connect_s for r in remote], 50))} ms,"
        f" p95 {ms(pct([r.connect_s for r in remote], 95))} ms",
        f"   goal: distributed − in-process p50 TTFT <= {GOAL_MS:.0f} ms -> "
        f"{'MET' if delta_ms <= GOAL_MS else 'NOT MET'} ({delta_ms:+.1f} ms:"
        f" {rp50 * 1000:.1f} vs {lp50 * 1000:.1f} ms)",
        f"   answers: {len(local) - len(mismatched)}/{len(local)} identical across executors"
        + (f"; differ for {sorted(set(mismatched))}" if mismatched else ""),
        "",
        "2. per hop (distributed: worker emitted_at + gateway tap; in-process: event yield times)",
        *hop_table(segments),
        "   (emitted_at arrives decoded to whole milliseconds, so worker-side segments have 1 ms resolution)",
        "",
        "3. concurrency: C sockets connected first, then all ask one question at once (50 users);"
        " wall = first ask -> last final",
        *concurrency_table(conc),
        "   RSS is this whole process (gateway + agent workers + pipeline + embedder + clients).",
        f"load average (1, 5, 15 min) before {fmt_load(load_before)}, after {fmt_load(load_after)}"
        f" on {os.cpu_count()} cores",
    ]
    for r in conc:
        if r["errors"]:
            lines.append(f"WARNING: {r['clients']} clients: {r['errors']} errors, e.g. {r['error_samples']}")
    lines += [f"WARNING: sequential error: {e}" for e in seq_errors]
    print("\n".join(lines), flush=True)

    return {
        "machine": mach,
        "settings": {
            "broker": "Tansu memory://",
            "partitions": settings.kafka.partitions,
            "agent_concurrency": settings.kafka.agent_concurrency,
            "cache_answers": False,
            "questions": list(QUESTIONS),
            "n_questions": args.questions,
        },
        "startup_s": {k: round(v, 3) for k, v in startup.items()},
        "sequential": {
            "in_process": {"ttft": stat(local, "ttft"), "ttlt": stat(local, "ttlt")},
            "distributed": {
                "ttft": stat(remote, "ttft"),
                "ttlt": stat(remote, "ttlt"),
                "connect": summary([r.connect_s for r in remote]),
            },
            "ttft_p50_delta_ms": round(delta_ms, 2),
            "goal": {"ttft_p50_delta_at_most_ms": GOAL_MS, "met": delta_ms <= GOAL_MS},
            "answers_identical": len(local) - len(mismatched),
            "answers_differing": {q: {"in_process": a, "distributed": b} for q, (a, b) in differ.items()},
            "errors": seq_errors,
        },
        "per_hop": {
            name: {"in_process": summary(a) if a else None, "distributed": summary(b) if b else None}
            for name, a, b in segments
        },
        "concurrency": conc,
        "load_average": {"before": list(load_before), "after": list(load_after)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark chat latency: in-process graph vs distributed agent."
    )
    parser.add_argument("--questions", type=int, default=40, help="sequential questions per executor")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[100],
        help="concurrent websocket chats; several values run in turn (stops at the first with errors)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="per-chat timeout in the concurrency run"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.questions < 1 or any(c < 1 for c in args.concurrency):
        parser.error("--questions and --concurrency must be >= 1")

    result = run_and_report(run, args)
    failed = result["sequential"]["errors"] or any(r["errors"] for r in result["concurrency"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

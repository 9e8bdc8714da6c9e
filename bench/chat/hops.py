"""The per-hop breakdown: ``Tap`` wraps one gateway's Kafka side to record when each question was
produced and when each reply event was emitted, decoded and handed to the gateway's loop;
``hop_segments`` splits the TTFT path into segments from those times and the clients' ``Run``s."""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

from bench.chat.clients import Run

Segment = tuple[str, list[float], list[float]]  # (segment, in-process values, distributed values)


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


def hop_segments(local: list[Run], remote: list[Run], tap: Tap) -> list[Segment]:
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

"""The load the bench puts on the stack: the sequential run (each question in-process, then over the
gateway) and the concurrency run (C websockets connected first, then all asking at once)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from bench.chat.clients import QUESTIONS, SECRET, TENANT, Run, ask_local, ask_remote
from bench.chat.figures import cpu_spent, peak_rss_mib, rss_mib, summary, tree_cpu_s
from bench.chat.hops import Tap

IDLE_S = 2.0  # seconds of quiet, all sockets open, measured before the burst


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
    # What the stack spends doing nothing (consumers polling the broker), per second: the burst's CPU
    # per answer includes it, so a change that only cuts idle polling shows here first.
    idle_before, idle_t = tree_cpu_s(), time.perf_counter()
    await asyncio.sleep(IDLE_S)
    idle = cpu_spent(idle_before, tree_cpu_s())
    idle_wall = time.perf_counter() - idle_t
    started, cpu_before = time.time(), tree_cpu_s()
    go.set()
    runs = [r for r in await asyncio.gather(*tasks) if r is not None]
    spent = cpu_spent(cpu_before, tree_cpu_s())
    cpu_s = sum(spent.values())
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
        "cpu_ms_per_answer": round(1000 * cpu_s / len(ttlt), 2) if ttlt else math.nan,
        "cpu_ms_per_answer_by_process": {
            name: round(1000 * s / len(ttlt), 2) for name, s in sorted(spent.items()) if ttlt and s > 0
        },
        "idle_cpu_pct_by_process": {
            name: round(100 * s / idle_wall, 1) for name, s in sorted(idle.items()) if s > 0
        },
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

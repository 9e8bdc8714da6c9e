"""The whole embedded stack under one huge document: its memory, and a second tenant's chat meanwhile.

    python -m bench.pressure [--mb 50] [--seconds 300] [--json out.json]

`ragstream up` runs as it would for a user (durable broker, every role in one process, answer cache
off so every question is really answered). A quiet tenant indexes three short documents and asks its
questions while the stack is idle; then another tenant uploads a large prose document (the issue's
50 MB text file: about 180,000 chunks) and, for ``--seconds``, the quiet tenant keeps asking. Memory
is the resident set of `up` and every process under it (parse workers, Tansu, the object server,
FalkorDB), sampled every 0.5 s. Reported: idle and peak memory (goal: peak ≤ idle + 2 GB), the quiet
tenant's time to the final answer idle and under load (goal: p50 under load ≤ 2 x idle), and how far
the large document got (chunks embedded per second while questions were answered).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.chat import pct
from bench.hostile import TreeMemory, prose
from bench.scale import Deployment, embedded

QUIET_DOCS = {
    "archive.md": "# The Quillfeather archive\n\nThe Quillfeather archive opens at nine on weekdays. "
    "Readers book a desk one day ahead. Fragile maps are brought up from the vault on request.\n",
    "ferry.md": "# Harbour ferry\n\nThe harbour ferry to Lanthorn Island leaves every forty minutes. "
    "A return ticket costs six crowns; bicycles travel free before noon.\n",
    "garden.md": "# Glasshouse garden\n\nThe glasshouse garden grows forty kinds of fern. "
    "Its tropical wing is kept at twenty-six degrees all year.\n",
}
QUESTIONS = [
    "When does the Quillfeather archive open?",
    "How often does the harbour ferry leave?",
    "How much is a return ferry ticket?",
    "How many kinds of fern grow in the glasshouse garden?",
    "How warm is the tropical wing?",
    "How do readers book a desk?",
]


async def answer(url: str, secret: str, tenant: str, question: str) -> float | None:
    """Seconds from sending the question to its final answer (None on an error frame)."""
    from websockets.asyncio.client import connect

    from services.gateway import issue_token

    token = issue_token(secret, tenant, f"u{uuid.uuid4().hex[:6]}", 600)
    async with connect(f"{url}?token={token}", ping_interval=None, max_size=None) as ws:
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "ask", "question": question}))
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "final":
                return time.perf_counter() - sent
            if frame["type"] == "error":
                return None
    return None


async def upload(dep: Deployment, tenant: str, name: str, data: bytes, wait: bool) -> dict[str, Any]:
    from services.gateway import issue_token

    token = issue_token(dep.secret, tenant, "bench", 3600)
    async with httpx.AsyncClient(base_url=dep.api, headers={"Authorization": f"Bearer {token}"},
                                 timeout=900) as http:  # fmt: skip
        params = {"filename": name, "source_uri": f"bench://{name}", "wait": str(wait).lower()}
        reply = await http.post("/v1/documents", params=params, content=data)
        body: dict[str, Any] = reply.json()
        return body


def embedded_chunks(dep: Deployment) -> int:
    """Chunks the embed stage has handled so far (its ok messages, from the stack's /metrics); -1
    when the stack does not answer in time (it is busy: that is what is measured)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"{dep.api}/metrics", timeout=120).text
    except httpx.HTTPError:
        return -1
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "ragstream_messages_total" and labels == {"stage": "embed", "outcome": "ok"}:
                total += sample.value
    return int(total)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ragstream-pressure-"))
    big = prose(args.mb).encode()
    with embedded(work) as dep:
        for name, text in QUIET_DOCS.items():
            await upload(dep, "quiet", name, text.encode(), wait=True)
        url = dep.gateways[0]
        for question in QUESTIONS:  # warm-up: group joins, first passes
            await answer(url, dep.secret, "quiet", question)
        idle_s = [t for q in QUESTIONS * 2 if (t := await answer(url, dep.secret, "quiet", q)) is not None]
        memory = TreeMemory(dep.pids["up"])
        idle_rss = memory.now()
        memory.start()
        print(f"idle: {idle_rss / 2**20:.0f} MB; answers p50 {pct(idle_s, 50):.2f}s; uploading "
              f"{len(big) / 2**20:.0f} MB …", flush=True)  # fmt: skip
        started = time.monotonic()
        accepted = await upload(dep, "bulk", "big.txt", big, wait=False)
        chunks_before = embedded_chunks(dep)
        loaded_s: list[float] = []
        errors = 0
        i = 0
        while time.monotonic() - started < args.seconds:
            took = await answer(url, dep.secret, "quiet", QUESTIONS[i % len(QUESTIONS)])
            i += 1
            if took is None:
                errors += 1
            else:
                loaded_s.append(took)
            if i % 10 == 0:
                print(f"  {time.monotonic() - started:5.0f}s  rss {memory.now() / 2**20:6.0f} MB  "
                      f"answer p50 {pct(loaded_s, 50):.2f}s  chunks embedded "
                      f"{embedded_chunks(dep) - chunks_before}", flush=True)  # fmt: skip
            await asyncio.sleep(args.pause)
        window = time.monotonic() - started
        chunks = embedded_chunks(dep) - chunks_before
        memory.stopped.set()
        memory.join()
    result = {
        "document_mb": round(len(big) / 2**20, 1),
        "accepted": accepted.get("status", accepted),
        "idle_mb": round(idle_rss / 2**20),
        "peak_mb": round(memory.peak / 2**20),
        "peak_above_idle_mb": round((memory.peak - idle_rss) / 2**20),
        "answer_idle_p50_s": round(pct(idle_s, 50), 3),
        "answer_idle_p95_s": round(pct(idle_s, 95), 3),
        "answer_loaded_p50_s": round(pct(loaded_s, 50), 3),
        "answer_loaded_p95_s": round(pct(loaded_s, 95), 3),
        "answers_under_load": len(loaded_s),
        "errors": errors,
        "window_s": round(window),
        "chunks_embedded": chunks,
        "chunks_per_s": round(chunks / window, 1),
        "timeline_mb": [(round(t), round(r / 2**20)) for t, r in memory.timeline[::20]],
    }
    ratio = result["answer_loaded_p50_s"] / max(result["answer_idle_p50_s"], 1e-9)
    print(
        f"\nmemory: idle {result['idle_mb']} MB, peak {result['peak_mb']} MB "
        f"(+{result['peak_above_idle_mb']} MB; goal ≤ +2048)\n"
        f"quiet tenant, time to the final answer: idle p50 {result['answer_idle_p50_s']:.2f}s "
        f"p95 {result['answer_idle_p95_s']:.2f}s | under load p50 {result['answer_loaded_p50_s']:.2f}s "
        f"p95 {result['answer_loaded_p95_s']:.2f}s ({ratio:.2f}x idle; goal ≤ 2x), "
        f"{len(loaded_s)} answers, {errors} errors\n"
        f"large document: {chunks} chunks embedded in {window:.0f}s ({result['chunks_per_s']}/s)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the large document (MB of prose)")
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the quiet tenant keeps asking")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between questions")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

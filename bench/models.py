"""Model serving on the CPU profile, side by side in one run.

1. Embeddings/s: the in-process MiniLM (what the embedded stack uses) against the same model behind
   the Ray Serve ``embed`` app (per-text dynamic batching across requests), on the same chunk-sized
   texts, in alternating rounds (A B A B ...) so drifting machine load hits both alike.
2. LLM: SmolLM2-135M-Instruct on vLLM's CPU build behind the Ray Serve ``llm`` app: time to first
   token and decode tokens/s for one stream at a time, then N concurrent streams (vLLM's continuous
   batching), all on the same prompts, greedy.

    .venv/bin/python -m bench.models                 # ~3-4 minutes on 2 cores
    .venv/bin/python -m bench.models --texts 256 --rounds 3 --llm-requests 12 --concurrency 4 --json out.json

Ray runs privately (own temp dir, 2 CPUs, no dashboard) and is shut down at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from model_serving.serve import CONFIG_DIR

PROMPTS = [
    "Explain what a Kafka consumer group is in two sentences.",
    "List three uses of a knowledge graph.",
    "What does a reranker do in a search system?",
    "Describe a dead-letter queue.",
    "Why batch requests to a GPU model server?",
    "Summarise the benefits of idempotent writes.",
]


def chunk_texts(n: int) -> list[str]:
    """Chunk-sized texts (~180-230 tokens), deterministic and distinct."""
    words = [
        "pump",
        "station",
        "telemetry",
        "reports",
        "pressure",
        "flow",
        "and",
        "valve",
        "positions",
        "to",
        "the",
        "control",
        "room",
        "where",
        "operators",
        "compare",
        "trends",
        "against",
        "maintenance",
        "schedules",
        "and",
        "weather",
    ]
    out = []
    for i in range(n):
        body = " ".join(words[(i + j) % len(words)] for j in range(150 + i % 40))
        out.append(f"Report {i}: {body}.")
    return out


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def embed_inprocess(embedder: Any, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        await embedder.embed(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


async def embed_served(url: str, texts: list[str], batch: int, concurrency: int) -> float:
    from services.models.embedder import HttpEmbedder

    client = HttpEmbedder(url, "all-MiniLM-L6-v2", dim=384, batch_size=batch)
    slots = asyncio.Semaphore(concurrency)

    async def one(part: list[str]) -> None:
        async with slots:
            await client.embed(part)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(one(texts[i : i + batch]) for i in range(0, len(texts), batch)))
        return len(texts) / (time.perf_counter() - started)
    finally:
        await client.close()


async def stream_once(http: httpx.AsyncClient, prompt: str, max_tokens: int) -> dict[str, float]:
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 0,
    }
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            if event.get("usage"):
                tokens = int(event["usage"]["completion_tokens"])
            elif first is None and any((c.get("delta") or {}).get("content") for c in event["choices"]):
                first = time.perf_counter()
    end = time.perf_counter()
    ttft = (first or end) - started
    decode_s = max(end - (first or end), 1e-9)
    return {
        "ttft_ms": ttft * 1000,
        "total_s": end - started,
        "tokens": tokens,
        "decode_tok_s": max(tokens - 1, 0) / decode_s,
    }


async def llm_figures(url: str, requests: int, concurrency: int, max_tokens: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        await stream_once(http, "warm up", 8)
        single = [await stream_once(http, PROMPTS[i % len(PROMPTS)], max_tokens) for i in range(requests)]
        started = time.perf_counter()
        slots = asyncio.Semaphore(concurrency)

        async def bounded(i: int) -> dict[str, float]:
            async with slots:
                return await stream_once(http, PROMPTS[i % len(PROMPTS)], max_tokens)

        together = await asyncio.gather(*(bounded(i) for i in range(requests)))
        wall = time.perf_counter() - started

    def describe(rows: list[dict[str, float]], wall_s: float) -> dict[str, Any]:
        ttft = [r["ttft_ms"] for r in rows]
        return {
            "requests": len(rows),
            "ttft_ms_p50": round(pct(ttft, 50), 1),
            "ttft_ms_p95": round(pct(ttft, 95), 1),
            "decode_tok_s_per_stream_p50": round(statistics.median(r["decode_tok_s"] for r in rows), 1),
            "tokens": int(sum(r["tokens"] for r in rows)),
            "aggregate_tok_s": round(sum(r["tokens"] for r in rows) / wall_s, 1),
        }

    return {
        "one_at_a_time": describe(single, sum(r["total_s"] for r in single)),
        f"concurrent_{concurrency}": describe(list(together), wall),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from model_serving import serve as model_serve
    from services.common.tansu import free_port
    from services.models.embedder import LocalEmbedder

    texts = chunk_texts(args.texts)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    started = time.monotonic()
    try:
        # a private local Ray (own temp dir, 2 CPUs), started by serve.start and stopped by serve.stop
        base = model_serve.start(
            CONFIG_DIR / "cpu.yaml", host="127.0.0.1", port=free_port(), num_cpus=2, timeout_s=600
        )
        figures["serve_start_s"] = round(time.monotonic() - started, 1)
        print(f"Ray Serve up in {figures['serve_start_s']} s at {base}", flush=True)

        local = LocalEmbedder()
        await local.embed(texts[:8])
        await embed_served(f"{base}/embed", texts[:8], 8, 1)
        rounds: list[dict[str, float]] = []
        for r in range(args.rounds):
            inproc = await embed_inprocess(local, texts, args.batch)
            served = await embed_served(f"{base}/embed", texts, args.batch, args.concurrency)
            rounds.append({"in_process": inproc, "ray_serve": served, "ratio": served / inproc})
            print(
                f"  embeddings round {r + 1}: in-process {inproc:.1f}/s, Ray Serve {served:.1f}/s "
                f"({served / inproc:.2f}x)",
                flush=True,
            )
        figures["embeddings"] = {
            "texts": len(texts),
            "batch": args.batch,
            "concurrent_requests": args.concurrency,
            "rounds": rounds,
            "median_in_process_per_s": round(statistics.median(x["in_process"] for x in rounds), 1),
            "median_ray_serve_per_s": round(statistics.median(x["ray_serve"] for x in rounds), 1),
            "median_ratio": round(statistics.median(x["ratio"] for x in rounds), 3),
        }
        figures["llm"] = await llm_figures(
            f"{base}/llm", args.llm_requests, args.concurrency, args.max_tokens
        )
    finally:
        model_serve.stop()
    return figures


def report(figures: dict[str, Any]) -> list[str]:
    emb = figures["embeddings"]
    lines = [
        "",
        f"embeddings ({emb['texts']} chunk-sized texts, batches of {emb['batch']}, "
        f"{emb['concurrent_requests']} requests in flight to Ray Serve; "
        f"median of {len(emb['rounds'])} rounds)",
        "| path | texts/s |",
        "|---|---|",
        f"| in-process MiniLM | {emb['median_in_process_per_s']} |",
        f"| Ray Serve embed app | {emb['median_ray_serve_per_s']} |",
        f"| Ray Serve ÷ in-process | {emb['median_ratio']}x |",
        "",
        "LLM: SmolLM2-135M-Instruct, vLLM CPU, Ray Serve llm app, streamed, greedy",
        "| load | requests | TTFT p50 ms | TTFT p95 ms | decode tok/s per stream (p50) | aggregate tok/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in figures["llm"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {row['requests']} | {row['ttft_ms_p50']} | {row['ttft_ms_p95']} | "
            f"{row['decode_tok_s_per_stream_p50']} | {row['aggregate_tok_s']} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=256, help="chunk-sized texts per embeddings round")
    parser.add_argument("--batch", type=int, default=16, help="texts per embeddings request")
    parser.add_argument("--rounds", type=int, default=3, help="alternating embeddings rounds")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (embed and LLM)")
    parser.add_argument("--llm-requests", type=int, default=12, help="LLM requests per load level")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per LLM answer")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure as JSON")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args))
    print("\n".join(report(figures)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

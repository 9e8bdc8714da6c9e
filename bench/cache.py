"""The semantic answer cache on the bundled golden set: how often it answers, and how often what it
answers is wrong (goal: never).

The set is indexed in this process (``bench.answers.golden_indexed``) and asked three times through
the agent graph, conversations in order:

1. **reference**: no cache; each question's answer is what the agent computes.
2. **first pass**: an empty cache (real Redis, a prefix of its own, removed afterwards), each question
   asked once. Every hit here comes from *another* question asked before: the set holds questions
   that differ only in an identifier ("How many sensors can one KX-021 gateway support?" and the
   same for the KX-022), so this is where a cache that matches by meaning alone answers wrongly.
3. **second pass**: every question again: each should hit its own entry.

A hit is wrong when its answer differs from the reference answer (the agent is deterministic without
an LLM, so a right hit is the same text). Also counted: a wrong hit that misses the question's
expected fact where the reference holds it.

    python -m bench.cache
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.answers import ALIAS, TENANT, golden_indexed
from services.agent.graph import build_graph
from services.agent.wiring import agent_deps
from services.eval import GOLDEN_DIR
from services.eval.golden import GoldenItem
from services.eval.local import ask_golden
from services.eval.metrics import Outcome, score
from services.stores.cache import SemanticCache


@dataclass(frozen=True)
class Asked:
    answer: str
    cached: bool


async def ask_set(graph: Any, items: list[GoldenItem]) -> dict[str, Asked]:
    return {
        done.item.id: Asked(done.state.answer, done.state.cached)
        async for done in ask_golden(graph, TENANT, items)
    }


def report(name: str, items: list[GoldenItem], asked: dict[str, Asked], reference: dict[str, Asked]) -> None:
    hits = [i for i in items if asked[i.id].cached]
    wrong = [i for i in hits if asked[i.id].answer != reference[i.id].answer]
    lost = [
        i
        for i in wrong
        if score(i, Outcome(answer=reference[i.id].answer)).fact
        and not score(i, Outcome(answer=asked[i.id].answer)).fact
    ]
    rate = len(hits) / len(items)
    print(f"{name:<12} {len(items):>9} {len(hits):>6} {rate:>8.0%} {len(wrong):>7} {len(lost):>10}")
    for i in wrong:
        print(f"  wrong: {i.id} {i.question}\n    got: {asked[i.id].answer[:120]}")
    if name == "second":  # what is asked again and still not served: why
        for i in items:
            if not asked[i.id].cached:
                why = "I don't know" if asked[i.id].answer.startswith("I don't know") else f"turn {i.turn}"
                print(f"  not cached: {i.id} ({why}) {i.question}")


async def main(golden: Path, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    prefix = f"bench-cache-{uuid.uuid4().hex[:8]}:"
    try:
        async with golden_indexed(golden) as indexed:
            deps = agent_deps(
                indexed.embedder,
                indexed.vectors,
                indexed.graph,
                ALIAS,
                cache=SemanticCache(redis, prefix=prefix),
            )
            items = indexed.items
            reference = await ask_set(
                build_graph(agent_deps(indexed.embedder, indexed.vectors, indexed.graph, ALIAS)), items
            )
            graph = build_graph(deps)
            first = await ask_set(graph, items)
            second = await ask_set(graph, items)
            print(
                f"\n{'pass':<12} {'questions':>9} {'hits':>6} {'hit rate':>8} {'wrong':>7} {'fact lost':>10}"
            )
            report("first", items, first, reference)
            report("second", items, second, reference)
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)  # only this run's keys: Redis is shared
        await redis.aclose()


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--golden", type=Path, default=GOLDEN_DIR, help="a golden set directory")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis the cache lives in")
    args = parser.parse_args()
    asyncio.run(main(args.golden, args.redis))


if __name__ == "__main__":
    cli()

"""The chat bench's run: the embedded stack with ``examples/docs`` indexed and a ``Gateway`` on it,
warmed up, then the three measurements (``load``, ``hops``) and the report; and its command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.chat.clients import QUESTIONS, SECRET, TENANT, ask_local, ask_remote
from bench.chat.hops import Tap, hop_segments
from bench.chat.load import concurrent, sequential
from bench.chat.report import Measured, report
from bench.runner import run_and_report

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"


async def warm_up(stack: Any, url: str) -> int:
    """The graph and stores in-process; over Kafka every worker group must have its partitions before
    an ask is answered promptly, so ask until an answer is quick. Returns the sequential asks made."""
    for q in QUESTIONS:
        await ask_local(stack, q)
    quick = 0
    for k in range(200):
        r = await asyncio.wait_for(ask_remote(url, QUESTIONS[k % len(QUESTIONS)], "w"), 120)
        if r.error:
            raise RuntimeError(f"warm-up ask failed: {r.error}")
        quick = quick + 1 if r.ttlt < 1.0 else 0
        if quick >= 2 * len(QUESTIONS):
            break
    await asyncio.gather(*(ask_remote(url, q, "w") for q in QUESTIONS * 2))
    return k + 1


async def run(args: argparse.Namespace) -> dict[str, Any]:

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
    redis = settings.redis()  # the product's client: a pool that waits when full, as the gateway's
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
                asks = await warm_up(stack, gateway.url)
                startup["warmup"] = time.perf_counter() - t
                print(f"warm-up done in {startup['warmup']:.1f}s ({asks} sequential asks)", flush=True)

                print(
                    f"1/3 sequential: {args.questions} questions, in-process then distributed ...", flush=True
                )
                local, remote = await sequential(stack, gateway.url, tap, args.questions)
                print("2/3 per-hop breakdown from the gateway tap ...", flush=True)
                segments = hop_segments(local, remote, tap)

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
    measured = Measured(
        n_questions=args.questions,
        partitions=settings.kafka.partitions,
        agent_concurrency=settings.kafka.agent_concurrency,
        startup=startup,
        local=local,
        remote=remote,
        segments=segments,
        concurrency=conc,
        load_before=load_before,
        load_after=load_after,
    )
    return report(measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chat",  # not "__main__.py", as argparse names a package's __main__
        description="Benchmark chat latency: in-process graph vs distributed agent.",
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

"""Scale-out on one machine: the same corpus and questions through `ragstream up` (every role in one
process) and through the multi-process deployment (an external Tansu and FalkorDB server, the
vector-owner worker with the stages, the agent steps and the API, and two gateway processes),
side by side in one run.

    python -m bench.scale [--docs 24] [--questions 20] [--json out.json]

Both deployments are driven the same way, from outside: documents are uploaded through the HTTP
API (four at a time, each answered once indexed), questions asked over the gateways' websockets
(one at a time; the multi-process run alternates between its two gateways). Reported: ingest docs/s
and chunks/s, time to first token p50/p95, and the resident memory of every process (now and peak).
Goals (issue 8): multi-process ≥ 0.9 x the embedded throughput, ≤ +10 ms p50 time to first token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.chat import pct
from bench.corpus import generate_corpus

RAGSTREAM = str(Path(sys.executable).parent / "ragstream")
TENANT = "bench"
ROLES = ("parse", "chunk", "embed", "extract-graph", "index", "plan", "retrieve", "tool", "respond", "api")


@dataclass
class Deployment:
    name: str
    api: str
    gateways: list[str]
    secret: str
    pids: dict[str, int] = field(default_factory=dict)  # process name → pid


@dataclass
class Result:
    name: str
    docs: int = 0
    chunks: int = 0
    ingest_s: float = 0.0
    failed: int = 0
    ttft: list[float] = field(default_factory=list)
    errors: int = 0
    memory: dict[str, tuple[float, float]] = field(default_factory=dict)  # name → (rss, peak) MiB

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.ingest_s if self.ingest_s else 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.ingest_s if self.ingest_s else 0.0


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := re.search(pattern, log.read_text(errors="replace")):
            return found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"{log.name}: never printed {pattern!r}\n{log.read_text()[-2000:]}")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the child writes it until stopped
    return subprocess.Popen([RAGSTREAM, *args], env=env, stdout=out, stderr=out)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _base_env(home: Path) -> dict[str, str]:
    return {**os.environ, "RAGSTREAM_HOME": str(home), "RAGSTREAM_LOG_FORMAT": "console", "COLUMNS": "200",
            "RAGSTREAM_CACHE_ANSWERS": "false", "RAGSTREAM_GATEWAY__RATE_CAPACITY": "100000"}  # fmt: skip


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


def _name(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return str(pid)


def _memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    values = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


@contextlib.contextmanager
def embedded(work: Path) -> Iterator[Deployment]:
    """`ragstream up`: every role in one process with its Tansu and FalkorDB children."""
    from services.common.settings import Settings

    home = work / "up"
    env = _base_env(home) | {"RAGSTREAM_GATEWAY__PORT": "0"}
    proc = _start(["up"], env, work / "up.log")
    try:
        _wait_for(work / "up.log", r"(ragstream is up)", proc)
        run = json.loads((home / "run.json").read_text())
        deployment = Deployment(
            "up", run["admin_url"], [run["gateway_url"]], Settings(home=home).gateway_secret()
        )
        deployment.pids = {"up": proc.pid} | {f"up/{_name(c)}": c for c in _children(proc.pid)}
        yield deployment
    finally:
        _stop([proc])


@contextlib.contextmanager
def distributed(work: Path) -> Iterator[Deployment]:
    """The roles as separate processes against an external Tansu and a FalkorDB server."""
    from services.common.settings import Settings
    from services.common.tansu import TansuBroker
    from services.stores.graph_falkor import FalkorServer

    home = work / "multi"
    secret = Settings(home=home).gateway_secret()
    procs: list[subprocess.Popen[bytes]] = []
    with TansuBroker(log_file=work / "tansu.log") as broker, FalkorServer(work / "graph") as graph:
        env = _base_env(home) | {
            "RAGSTREAM_KAFKA__BOOTSTRAP": broker.bootstrap,
            "RAGSTREAM_STORES__FALKORDB_URL": f"redis://{graph.host}:{graph.port}",
            "RAGSTREAM_GATEWAY__PORT": "0",
        }
        try:
            gateways = []
            for name in ("gw1", "gw2"):
                procs.append(_start(["worker", "gateway"], env, work / f"{name}.log"))
            for name, proc in zip(("gw1", "gw2"), procs, strict=True):
                gateways.append(_wait_for(work / f"{name}.log", r"gateway (ws://\S+)", proc))
            owner = _start(
                ["worker", *ROLES], env | {"RAGSTREAM_GATEWAY__PUBLIC_URL": gateways[0]}, work / "owner.log"
            )
            procs.append(owner)
            api = _wait_for(work / "owner.log", r"api (http://\S+)", owner)
            deployment = Deployment("multi-process", api, gateways, secret)
            deployment.pids = {"owner": owner.pid, "gw1": procs[0].pid, "gw2": procs[1].pid}
            ours = set(deployment.pids.values())  # the broker and graph server this bench started
            deployment.pids |= {_name(c): c for c in _children(os.getpid()) if c not in ours}
            yield deployment
        finally:
            _stop(procs)


async def ingest(deployment: Deployment, paths: list[Path], result: Result) -> None:
    from services.gateway import issue_token

    token = issue_token(deployment.secret, TENANT, "bench", 3600)
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=deployment.api, headers={"Authorization": f"Bearer {token}"},
                                 timeout=900) as http:  # fmt: skip

        async def upload(path: Path) -> None:
            async with gate:
                params = {
                    "filename": path.name,
                    "source_uri": path.as_uri(),
                    "wait": "true",
                    "timeout_s": 600,
                }
                data = await asyncio.to_thread(path.read_bytes)
                body = (await http.post("/v1/documents", params=params, content=data)).json()
                if body.get("status") == "indexed":
                    result.docs += 1
                    result.chunks += int(body.get("chunks", 0))
                else:
                    result.failed += 1

        started = time.perf_counter()
        await asyncio.gather(*(upload(p) for p in paths))
        result.ingest_s = time.perf_counter() - started


async def ask(url: str, secret: str, question: str) -> float | None:
    """Seconds from sending the question to its first token (None on an error)."""
    from websockets.asyncio.client import connect

    from services.gateway import issue_token

    token = issue_token(secret, TENANT, f"u{uuid.uuid4().hex[:6]}", 600)
    async with connect(f"{url}?token={token}", ping_interval=None) as ws:
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "ask", "question": question}))
        first: float | None = None
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "token" and first is None:
                first = time.perf_counter() - sent
            if frame["type"] in ("final", "error"):
                return first if frame["type"] == "final" else None
    return None


async def chat(deployment: Deployment, questions: list[str], result: Result) -> None:
    for question in questions[:2]:  # warm-up: first joins, caches
        await ask(deployment.gateways[0], deployment.secret, question)
    for i, question in enumerate(questions):
        ttft = await ask(deployment.gateways[i % len(deployment.gateways)], deployment.secret, question)
        if ttft is None:
            result.errors += 1
        else:
            result.ttft.append(ttft)


async def measure(make: Any, work: Path, paths: list[Path], questions: list[str]) -> Result:
    with make(work) as deployment:
        result = Result(deployment.name)
        print(f"[{deployment.name}] ingesting {len(paths)} documents …", flush=True)
        await ingest(deployment, paths, result)
        print(f"[{deployment.name}] asking {len(questions)} questions …", flush=True)
        await chat(deployment, questions, result)
        result.memory = {name: _memory(pid) for name, pid in deployment.pids.items()}
        return result


def report(results: list[Result]) -> list[str]:
    up, multi = results

    def row(label: str, a: float, b: float, digits: int) -> str:
        return f"{label:28}{a:>14.{digits}f}{b:>16.{digits}f}{b / max(a, 1e-9):>8.2f}x"

    lines = [
        f"{'':28}{up.name:>14}{multi.name:>16}{'ratio':>9}",
        f"{'docs indexed':28}{up.docs:>14}{multi.docs:>16}",
        row("ingest docs/s", up.docs_per_s, multi.docs_per_s, 2),
        row("ingest chunks/s", up.chunks_per_s, multi.chunks_per_s, 1),
    ]
    for p in (50, 95):
        a, b = pct(up.ttft, p) * 1000, pct(multi.ttft, p) * 1000
        lines.append(f"{f'TTFT p{p} (ms)':28}{a:>14.1f}{b:>16.1f}{b - a:>+8.1f}ms")
    lines.append(f"{'chat errors':28}{up.errors:>14}{multi.errors:>16}")
    for result in results:
        total = sum(rss for rss, _ in result.memory.values())
        parts = ", ".join(f"{n} {rss:.0f} (peak {hwm:.0f})" for n, (rss, hwm) in result.memory.items())
        lines.append(f"memory {result.name}: {total:.0f} MiB in all — {parts}")
    return lines


def questions_of(corpus: Any, n: int) -> list[str]:
    found = [f"What is {d.marker_code}?" for d in corpus.documents]
    found += [
        f"Who works for {f.object}?" for d in corpus.documents for f in d.facts if f.relation == "WORKS_FOR"
    ]
    return (found * (n // max(len(found), 1) + 1))[:n]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ragstream-bench-scale-"))
    corpus = generate_corpus(work / "corpus", n_docs=args.docs, seed=11, include_broken=False)
    paths = corpus.good_paths
    questions = questions_of(corpus, args.questions)
    results = [
        await measure(embedded, work, paths, questions),
        await measure(distributed, work, paths, questions),
    ]
    lines = report(results)
    print("\n".join(lines))
    return {
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
        "results": [
            {
                "name": r.name,
                "docs": r.docs,
                "failed": r.failed,
                "chunks": r.chunks,
                "ingest_s": r.ingest_s,
                "docs_per_s": r.docs_per_s,
                "chunks_per_s": r.chunks_per_s,
                "ttft_p50_ms": pct(r.ttft, 50) * 1000,
                "ttft_p95_ms": pct(r.ttft, 95) * 1000,
                "chat_errors": r.errors,
                "memory_mib": r.memory,
            }
            for r in results
        ],
        "report": lines,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=24, help="documents in the generated corpus")
    parser.add_argument("--questions", type=int, default=20, help="questions per deployment")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

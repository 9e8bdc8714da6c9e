"""The chat bench's report: what one run measured (``Measured``), printed as tables and returned as the
figures ``--json`` writes."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from bench.chat.clients import QUESTIONS, Run
from bench.chat.figures import ms, pct, summary
from bench.chat.hops import Segment
from bench.runner import fmt_load, machine

GOAL_MS = 25.0  # distributed - in-process p50 TTFT: the Kafka hops may add at most this


@dataclass
class Measured:
    """Everything one run measured; the report is computed from it alone."""

    n_questions: int
    partitions: int
    agent_concurrency: int
    startup: dict[str, float]  # what start-up took (not timed), seconds per step
    local: list[Run]  # the sequential run, in-process ...
    remote: list[Run]  # ... and over the gateway, question by question
    segments: list[Segment]
    concurrency: list[dict[str, Any]]  # one result of load.concurrent per client count
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def ttft_p50(self, runs: list[Run]) -> float:
        return pct([r.ttft for r in runs if not r.error], 50)

    @property
    def delta_ms(self) -> float:
        """Distributed - in-process p50 TTFT, against ``GOAL_MS``."""
        return (self.ttft_p50(self.remote) - self.ttft_p50(self.local)) * 1000

    @property
    def mismatched(self) -> list[str]:
        """The questions (one per ask) whose answers differ across the executors."""
        return [lo.question for lo, r in zip(self.local, self.remote, strict=True) if lo.answer != r.answer]

    @property
    def differ(self) -> dict[str, tuple[str, str]]:
        """Question -> (in-process, distributed) answer, for those whose last asks differ."""
        last = {lo.question: (lo.answer, r.answer) for lo, r in zip(self.local, self.remote, strict=True)}
        return {q: pair for q, pair in last.items() if pair[0] != pair[1]}

    @property
    def sequential_errors(self) -> list[str]:
        return [f"{r.question}: {r.error}" for r in self.local + self.remote if r.error]


def report(m: Measured) -> dict[str, Any]:
    """Print the report; return the figures."""
    mach = machine()
    print("\n".join(report_lines(m, mach)), flush=True)
    return figures(m, mach)


def report_lines(m: Measured, mach: dict[str, Any]) -> list[str]:
    local, remote, conc = m.local, m.remote, m.concurrency
    lp50, rp50, delta_ms, mismatched = m.ttft_p50(local), m.ttft_p50(remote), m.delta_ms, m.mismatched
    lines = [
        "",
        "ragstream chat latency benchmark",
        "================================",
        "machine:  " + ", ".join(f"{k} {v}" for k, v in mach.items()),
        "stack:    run_stack on Tansu memory://, examples/docs indexed (6 docs), cache_answers=False,"
        f" partitions {m.partitions}, agent_concurrency {m.agent_concurrency},"
        " agent workers + gateway + clients in this one process",
        "start-up (not timed): " + ", ".join(f"{k} {v:.1f}s" for k, v in m.startup.items()),
        "",
        f"1. sequential, {m.n_questions} questions ({len(QUESTIONS)} distinct, repeated), each in-process"
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
        *hop_table(m.segments),
        "   (emitted_at arrives decoded to whole milliseconds, so worker-side segments have 1 ms resolution)",
        "",
        "3. concurrency: C sockets connected first, then all ask one question at once (50 users);"
        " wall = first ask -> last final",
        *concurrency_table(conc),
        "   RSS is this whole process (gateway + agent workers + pipeline + embedder + clients).",
        f"load average (1, 5, 15 min) before {fmt_load(m.load_before)}, after {fmt_load(m.load_after)}"
        f" on {os.cpu_count()} cores",
    ]
    for result in conc:
        if result["errors"]:
            lines.append(
                f"WARNING: {result['clients']} clients: {result['errors']} errors,"
                f" e.g. {result['error_samples']}"
            )
    lines += [f"WARNING: sequential error: {e}" for e in m.sequential_errors]
    return lines


def _stat(runs: list[Run], attr: str) -> dict[str, Any]:
    return summary([getattr(r, attr) for r in runs if not r.error])


def figures(m: Measured, mach: dict[str, Any]) -> dict[str, Any]:
    """The run's figures, as ``--json`` writes them."""
    local, remote, delta_ms = m.local, m.remote, m.delta_ms
    return {
        "machine": mach,
        "settings": {
            "broker": "Tansu memory://",
            "partitions": m.partitions,
            "agent_concurrency": m.agent_concurrency,
            "cache_answers": False,
            "questions": list(QUESTIONS),
            "n_questions": m.n_questions,
        },
        "startup_s": {k: round(v, 3) for k, v in m.startup.items()},
        "sequential": {
            "in_process": {"ttft": _stat(local, "ttft"), "ttlt": _stat(local, "ttlt")},
            "distributed": {
                "ttft": _stat(remote, "ttft"),
                "ttlt": _stat(remote, "ttlt"),
                "connect": summary([r.connect_s for r in remote]),
            },
            "ttft_p50_delta_ms": round(delta_ms, 2),
            "goal": {"ttft_p50_delta_at_most_ms": GOAL_MS, "met": delta_ms <= GOAL_MS},
            "answers_identical": len(local) - len(m.mismatched),
            "answers_differing": {q: {"in_process": a, "distributed": b} for q, (a, b) in m.differ.items()},
            "errors": m.sequential_errors,
        },
        "per_hop": {
            name: {"in_process": summary(a) if a else None, "distributed": summary(b) if b else None}
            for name, a, b in m.segments
        },
        "concurrency": m.concurrency,
        "load_average": {"before": list(m.load_before), "after": list(m.load_after)},
    }


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


def hop_table(segments: list[Segment]) -> list[str]:
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
        f" {'wall s':>7} {'ans/s':>6} {'CPU ms/ans':>10} {'reply hop p50/p95':>18}"
        f" {'RSS MiB before→after (peak)':>28}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        rss = r["rss_mib"]
        hop = f"{r['reply_hop']['p50_ms']:.1f}/{r['reply_hop']['p95_ms']:.1f}"
        mem = f"{rss['before']:.0f}→{rss['after']:.0f} ({rss['peak_after']:.0f})"
        lines.append(
            f"{r['clients']:>7} {r['completed']:>5} {r['errors']:>6} {r['ttft']['p50_ms']:>9.1f}"
            f" {r['ttft']['p95_ms']:>9.1f} {r['ttlt']['p95_ms']:>9.1f} {r['wall_s']:>7.2f}"
            f" {r['answers_per_s']:>6.1f} {r.get('cpu_ms_per_answer', math.nan):>10.1f} {hop:>18}"
            f" {mem:>28}"
        )
    for r in results:
        split = ", ".join(f"{k} {v:.1f}" for k, v in r.get("cpu_ms_per_answer_by_process", {}).items())
        lines.append(f"   {r['clients']} chats, CPU ms per answer by process: {split}")
        idle = ", ".join(f"{k} {v:.1f}" for k, v in r.get("idle_cpu_pct_by_process", {}).items())
        lines.append(f"   idle, sockets open, CPU % of one core by process: {idle}")
    return lines

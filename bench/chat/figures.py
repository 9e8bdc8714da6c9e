"""Figures the chat bench (and its siblings in ``bench/``) report: nearest-rank percentiles, their
millisecond rendering and summaries, and this process's memory."""

from __future__ import annotations

import contextlib
import math
import resource
from pathlib import Path


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


def rss_mib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def tree_cpu_s() -> dict[str, float]:
    """CPU seconds (user + system) of this process ("python": gateway, agent workers, pipeline and the
    bench's clients) and of each kind of child (the broker, FalkorDB), by process name: what a burst
    costs in work, steadier than its wall time on a machine whose speed varies from run to run."""
    import psutil

    totals: dict[str, float] = {}
    root = psutil.Process()
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            name = "python" if proc.pid == root.pid else proc.name()
            totals[name] = totals.get(name, 0.0) + times.user + times.system
    return totals


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per process kind between two ``tree_cpu_s`` readings."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

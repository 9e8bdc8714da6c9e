"""Ray Serve for the test tiers: a private Ray (own HOME and temp dir, 2 CPUs, no dashboard, no usage
stats) serving one config from model_serving/configs on a free loopback port; afterwards Serve and
Ray are shut down and every process they started is gone (the test fails if one survives SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from services.common.tansu import free_port


@dataclass
class Served:
    url: str
    timings: dict[str, float] = field(default_factory=dict)


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _is_ray(pid: int) -> bool:
    """Whether a process is one of Ray's (raylet, GCS, its workers and what they started)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return "ray" in cmdline.lower() or "vllm" in cmdline.lower()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def ray_serving(config: Path, timeout_s: float = 180) -> Iterator[Served]:
    import pytest
    import ray

    from model_serving import serve as model_serve

    root = tempfile.mkdtemp(prefix="rs-", dir="/tmp")  # short: Ray's socket paths live under it
    before = _descendants(os.getpid())
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", f"{root}/home")
        env.setenv("RAY_TMPDIR", root)
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        # the converted SmolLM2 checkpoint outlives the private HOME: made once per machine
        env.setenv("RAGSTREAM_MODEL_CACHE", os.environ.get("RAGSTREAM_MODEL_CACHE", _default_cache()))
        timings: dict[str, float] = {}
        started = time.monotonic()
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            namespace="serve",
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
            _temp_dir=f"{root}/ray",
            object_store_memory=128 * 1024**2,
        )
        timings["ray_init_s"] = time.monotonic() - started
        started = time.monotonic()
        try:
            url = model_serve.start(config, host="127.0.0.1", port=free_port(), timeout_s=timeout_s)
            timings["serve_start_s"] = time.monotonic() - started
            yield Served(url, timings)
        finally:
            # Ray's processes only: a session fixture first used meanwhile (the test broker) is not ours
            roots = {pid for pid in _descendants(os.getpid()) - before if _is_ray(pid)}
            ours = roots.union(*(_descendants(pid) for pid in roots))
            model_serve.stop()
            ray.shutdown()
            deadline = time.monotonic() + 30
            while any(_alive(pid) for pid in ours) and time.monotonic() < deadline:
                time.sleep(0.1)
            # On a loaded machine Ray's shutdown can leave a straggler past the grace period: end it
            # here so nothing leaks into later tests, and fail only if even SIGKILL does not.
            stragglers = {pid for pid in ours if _alive(pid)}
            for pid in stragglers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            left = {pid for pid in ours if _alive(pid)}
            shutil.rmtree(root, ignore_errors=True)
            print(f"\nmodel serving timings: {timings}; killed stragglers: {sorted(stragglers)}")
            assert not left, f"Ray processes survived SIGKILL: {sorted(left)}"


def _default_cache() -> str:
    from model_serving.bundled import model_cache_dir

    return str(model_cache_dir())

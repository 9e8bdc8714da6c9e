"""What every bench shares: the machine it ran on, load averages as printed, and running a bench's
``run(args)`` with quiet logs, its total time and its ``--json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from typing import Any


def fmt_load(load: tuple[float, ...]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def machine() -> dict[str, Any]:
    import torch

    return {
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def run_and_report(run: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Run a bench's ``run(args)`` with quiet logs, print its total time and write ``--json``."""
    from services.common import logs

    logs.configure("WARNING", "console")
    started = time.perf_counter()
    result: dict[str, Any] = asyncio.run(run(args))
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    print(f"total bench time {result['total_seconds']:.0f}s", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
        print(f"figures written to {args.json}")
    return result

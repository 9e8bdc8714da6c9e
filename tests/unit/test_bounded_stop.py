"""A stop that cannot finish (a child died first, a broker stopped answering) still ends the process:
`up` and `worker` exit once the stop's grace period has passed, and a normal stop is not cut short."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

PROGRAM = """
import asyncio, sys
from services.cli.stack import stop_on_signals

async def main() -> None:
    stop = asyncio.Event()
    stop_on_signals(stop, grace_s=float(sys.argv[1]))
    print("ready", flush=True)
    await stop.wait()
    await asyncio.sleep(float(sys.argv[2]))  # the stack's shutdown

asyncio.run(main())
"""


def run_and_interrupt(grace_s: float, shutdown_s: float) -> tuple[int, float]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(grace_s), str(shutdown_s)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)  # a repeated signal only stops again
    return proc.wait(timeout=60), time.monotonic() - started


def test_a_stop_that_hangs_ends_after_the_grace_period() -> None:
    code, took = run_and_interrupt(grace_s=1.0, shutdown_s=3600)
    assert code == 1
    assert took < 30


def test_a_stop_that_finishes_in_time_exits_normally() -> None:
    code, _ = run_and_interrupt(grace_s=30.0, shutdown_s=0.2)
    assert code == 0

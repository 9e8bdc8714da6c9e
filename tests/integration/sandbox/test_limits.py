"""Resource escapes that the sandbox contains: forks, processes, memory, CPU, wall time, output,
file size, and a parent killed or a call cancelled."""

from __future__ import annotations

import asyncio
import dataclasses
import os

import pytest

from services.tool.sandbox import NOBODY, SandboxLimits, run_python
from tests.integration.sandbox.support import QUICK, output_lines

pytestmark = pytest.mark.integration


# --- escapes: resources --------------------------------------------------------------------------------


async def test_fork_bomb_is_contained(no_leftovers: None) -> None:
    """A fork bomb hits the process limit, is killed at the wall-time limit and leaves the host fine."""
    code = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    result = await run_python(code, SandboxLimits(cpu_s=5, wall_s=2))
    assert result.timed_out
    assert result.killed_reason in {"wall_time", "cpu_time"}
    assert result.duration_s < 6
    host_child = await asyncio.create_subprocess_exec("true")  # the host can still fork
    assert await host_child.wait() == 0
    after = await run_python("print('still fine')", QUICK)
    assert after.stdout == "still fine\n"


async def test_process_count_is_limited(no_leftovers: None) -> None:
    """RLIMIT_NPROC applies because the code does not run as root: only a few forks succeed."""
    code = """
import os, time
made = 0
for _ in range(50):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
    except OSError:
        break
print(made)
"""
    limits = SandboxLimits(cpu_s=2, wall_s=5, max_processes=6)
    result = await run_python(code, limits)
    assert result.exit_code == 0, result.stderr
    assert 0 < int(result.stdout) < limits.max_processes
    assert result.duration_s < 4  # the sleeping children were killed when the main process ended


HOLD_ALL_PROCESSES = """
import os, time
for _ in range(50):
    try:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
    except OSError:
        break
print('holding', flush=True)
time.sleep(30)
"""
FORK_THREE = """
import os
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print('forked 3')
"""


async def test_one_runs_fork_storm_does_not_refuse_another_runs_forks(no_leftovers: None) -> None:
    """Each run has its own uid: a run holding its whole process budget leaves another's intact;
    two runs pinned to one uid share the budget, and the second one's forks fail."""
    storm_limits = SandboxLimits(cpu_s=5, wall_s=6, max_processes=6)
    storm = asyncio.create_task(run_python(HOLD_ALL_PROCESSES, storm_limits))
    await asyncio.sleep(2.0)  # the storm holds all its processes now
    other = await run_python(FORK_THREE, SandboxLimits(cpu_s=2, wall_s=5, max_processes=6))
    assert other.stdout == "forked 3\n", other.stderr
    await storm

    pinned = SandboxLimits(cpu_s=5, wall_s=6, max_processes=6, uid=NOBODY, gid=NOBODY)
    storm = asyncio.create_task(run_python(HOLD_ALL_PROCESSES, pinned))
    await asyncio.sleep(2.0)
    shared = await run_python(FORK_THREE, dataclasses.replace(pinned, cpu_s=2, wall_s=5))
    await storm
    assert shared.stdout != "forked 3\n"
    assert "Error" in shared.stderr  # BlockingIOError / OSError: resource temporarily unavailable


async def test_background_processes_die_with_the_run(no_leftovers: None) -> None:
    """A child that detaches into its own session is killed when the sandboxed program ends."""
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(120)
print('parent done')
"""
    result = await run_python(code, QUICK)
    assert result.stdout == "parent done\n"
    assert result.duration_s < 4


async def test_memory_bomb_is_contained(no_leftovers: None) -> None:
    """Allocating without bound ends in MemoryError at the address-space limit."""
    for code in ("blocks = []\nwhile True:\n    blocks.append(bytearray(10 ** 7))", "x = bytearray(1 << 30)"):
        result = await run_python(code, QUICK)
        assert result.exit_code == 1
        assert "MemoryError" in result.stderr
        assert result.duration_s < 4


async def test_infinite_loop_hits_the_cpu_limit(no_leftovers: None) -> None:
    """A busy loop is killed by RLIMIT_CPU and reported as a CPU timeout."""
    result = await run_python("while True:\n    pass", SandboxLimits(cpu_s=1, wall_s=8))
    assert result.killed_reason == "cpu_time"
    assert result.timed_out
    assert result.exit_code is not None
    assert result.exit_code < 0
    assert result.duration_s < 5


async def test_sleeping_forever_hits_the_wall_limit(no_leftovers: None) -> None:
    """Code that waits without using CPU is killed at the wall-time limit."""
    result = await run_python(
        "import time\nprint('started', flush=True)\ntime.sleep(600)", SandboxLimits(wall_s=1)
    )
    assert result.killed_reason == "wall_time"
    assert result.timed_out
    assert result.exit_code is None
    assert result.stdout == "started\n"
    assert 0.9 < result.duration_s < 4


async def test_huge_output_is_truncated(no_leftovers: None) -> None:
    """Unbounded output is cut at the budget with a marker and the run is stopped."""
    limits = SandboxLimits(cpu_s=5, wall_s=8, output_bytes=10_000)
    result = await run_python(
        "import sys\nwhile True:\n    print('x' * 1000)\n    print('e' * 10, file=sys.stderr)", limits
    )
    assert result.truncated
    assert result.killed_reason == "output_limit"
    assert "output truncated" in result.stdout + result.stderr
    kept = len(result.stdout.encode()) + len(result.stderr.encode())
    assert kept < limits.output_bytes + 200
    assert result.duration_s < 4


async def test_large_file_is_refused(no_leftovers: None) -> None:
    """Writing a 1 GB file fails at the file-size limit."""
    code = """
written = 0
with open('big.bin', 'wb') as fh:
    try:
        for _ in range(1024):
            fh.write(b'\\0' * (1 << 20))
            fh.flush()
            written += 1 << 20
    except OSError as exc:
        print('refused', exc.errno, written)
"""
    limits = SandboxLimits(cpu_s=5, wall_s=8, max_file_mb=4, scratch_mb=16)
    result = await run_python(code, limits)
    assert result.exit_code == 0, result.stderr
    word, errno_text, written = result.stdout.split()
    assert word == "refused"
    assert int(errno_text) == 27  # EFBIG: File too large
    assert int(written) <= 4 << 20


async def test_killing_the_parent_is_harmless(no_leftovers: None) -> None:
    """Signalling the parent, PID 1 or every process fails or hits only the sandbox itself."""
    code = """
import os
for target in (os.getppid(), 1):
    try:
        os.kill(target, 9)
        print('sent', target)
    except OSError as exc:
        print('refused', target, type(exc).__name__)
try:
    os.kill(-1, 9)  # every process the sandbox may signal: none outside it, never itself
except OSError:
    pass
print('still alive')
"""
    result = await run_python(code, QUICK)
    assert output_lines(result) == ["refused 1 PermissionError", "refused 1 PermissionError", "still alive"]
    assert result.exit_code == 0
    host = os.getpid()
    assert os.getppid() > 0
    os.kill(host, 0)  # the host is alive
    after = await run_python("print('next run fine')", QUICK)
    assert after.stdout == "next run fine\n"


async def test_cancelling_the_call_kills_the_sandbox(no_leftovers: None) -> None:
    """Cancelling run_python leaves no sandbox process behind."""
    task = asyncio.create_task(run_python("import time\ntime.sleep(600)", SandboxLimits(wall_s=60)))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

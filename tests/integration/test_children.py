"""The servers the embedded stack starts never outlive it, SIGKILL included, and two FalkorDB
servers never share a data directory: a second one waits for the first to finish (an orphan
saving its snapshot) and then refuses, naming the holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from services.common.children import DataDirectoryBusy, DirectoryLock
from services.stores.graph_falkor import FalkorServer

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie has exited


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_servers_die_with_a_parent_killed_with_sigkill(tmp_path: Path) -> None:
    """A process that started Tansu and FalkorDB is SIGKILLed: both servers exit by themselves."""
    script = textwrap.dedent(f"""
        import sys, time
        from services.common.tansu import TansuBroker
        from services.stores.graph_falkor import FalkorServer
        broker = TansuBroker().start()
        graph = FalkorServer({str(tmp_path / "graph")!r}).start()
        print(broker._proc.pid, graph._proc.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    tansu, falkor = (int(p) for p in parent.stdout.readline().split())
    assert alive(tansu)
    assert alive(falkor)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    assert gone_within(tansu, 15), "Tansu outlived its parent"
    assert gone_within(falkor, 30), "FalkorDB outlived its parent"


def test_a_second_server_on_one_data_directory_is_refused(tmp_path: Path) -> None:
    """While one FalkorDB holds the directory, a second start refuses with the holder's pid; once the
    first has stopped, the directory can be used again."""
    first = FalkorServer(tmp_path / "graph").start()
    try:
        with pytest.raises(DataDirectoryBusy, match=str(first._proc.pid if first._proc else "")):
            DirectoryLock(tmp_path / "graph").acquire(wait_s=1)
    finally:
        first.stop()
    again = FalkorServer(tmp_path / "graph").start()
    again.stop()

"""`ragstream up` as its own process group, for the tests that kill it (kill -9 of it and every
child at once), restart it on the same home and drive it with the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.gateway import issue_token

ROOT = Path(__file__).resolve().parents[1]
RAGSTREAM = str(Path(sys.executable).parent / "ragstream")


class Up:
    """`ragstream up` in its own process group, so a kill reaches it and every child at once."""

    def __init__(self, home: Path, log: Path, storage: str = "durable") -> None:
        self.env = {
            **os.environ,
            "RAGSTREAM_HOME": str(home),
            "RAGSTREAM_GATEWAY__PORT": "0",
            "RAGSTREAM_KAFKA__STORAGE": storage,
            "COLUMNS": "200",
            # a restarted group waits out its killed members: shorter sessions, quicker restarts
            "RAGSTREAM_KAFKA__SESSION_TIMEOUT_MS": "3000",
        }
        self.home, self.log = home, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.home / "run.json").unlink(missing_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [RAGSTREAM, "up"], env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 180
        while not (self.home / "run.json").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill9()
                pytest.fail(f"`ragstream up` did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        self.admin = json.loads((self.home / "run.json").read_text())["admin_url"]

    def kill9(self) -> None:
        """SIGKILL to `up` and everything it started (Tansu, the object server, FalkorDB)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        deadline = time.monotonic() + 30
        while _group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(120)

    def handled(self, stage: str) -> float:
        """Messages the stage handled (ok) since this start, from the stack's /metrics. A scrape that
        failed is asked again: /metrics answered 500 once in CI, the consumer lag it reads from the
        broker not readable while Ray Serve started beside this stack (docs/progress.md)."""
        deadline = time.monotonic() + 60
        while (reply := httpx.get(f"{self.admin}/metrics", timeout=30)).status_code != 200:
            assert time.monotonic() < deadline, f"/metrics answered {reply.status_code}: {reply.text[:200]}"
            time.sleep(0.5)
        text = reply.text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if sample.name == "ragstream_messages_total" and labels.get("stage") == stage:
                    total += sample.value if labels.get("outcome") == "ok" else 0
        return total

    def kill_when(self, stage: str, at_least: float, timeout: float = 300) -> float:
        deadline = time.monotonic() + timeout
        while (seen := self.handled(stage)) < at_least:
            assert time.monotonic() < deadline, f"{stage} handled only {seen} messages"
            time.sleep(0.05)
        self.kill9()
        return seen

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RAGSTREAM, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )

    def status(self) -> dict[str, Any]:
        """`GET /v1/status` with an operator token (what `ragstream status --json` prints)."""
        secret = (self.home / "gateway.secret").read_text().strip()
        token = issue_token(secret, "default", "test", 600, ops=True)
        reply = httpx.get(f"{self.admin}/v1/status", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def settled(self, timeout: float = 600) -> dict[str, Any]:
        """Wait until every stage has caught up (no backlog) twice in a row; the status."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while True:
            state = self.status()
            quiet = quiet + 1 if all(row["lag"] == 0 for row in state["backlog"]) else 0
            if quiet >= 2:
                return state
            assert time.monotonic() < deadline, state["backlog"]
            time.sleep(0.5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True

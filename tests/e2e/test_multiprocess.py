"""The product as separate OS processes against one external broker, as compose and Helm deploy it:
the ingestion stages and the chat agent in the process that owns the embedded vector engine, and
two gateways each in its own process. Documents published from outside through the S3 blob store
(moto's server on loopback) are indexed; questions
through either gateway are answered with citations over that gateway's own reply topic; a SIGKILL
of the worker process loses nothing: restarted, it answers again and indexes new documents once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from websockets.asyncio.client import connect

import topics
from services.common.codec import make_codec
from services.common.settings import Settings
from services.gateway import issue_token
from services.publisher import DocumentPublisher, OutcomeWatcher, Submission
from services.stores.blobs_s3 import S3BlobStore
from services.stores.graph_falkor import FalkorServer
from tests.support import s3_server
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
RAGSTREAM = str(Path(sys.executable).parent / "ragstream")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
TENANT = "acme"
OWNER_ROLES = ("parse", "chunk", "embed", "extract-graph", "index", "plan", "retrieve", "tool", "respond")


@dataclass
class Deployment:
    env: dict[str, str]
    home: Path
    names: TopicNames
    bootstrap: str
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]]
    gateways: dict[str, str]

    def start(self, name: str, *roles: str, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child writes it until killed
        proc = subprocess.Popen(
            [RAGSTREAM, "worker", *roles], env={**self.env, **extra}, stdout=log, stderr=log
        )
        self.procs[name] = proc
        return proc

    def wait_for(self, name: str, pattern: str, count: int = 1, timeout: float = 120) -> re.Match[str]:
        """The ``count``-th match of ``pattern`` in the process's log (its starts append to one log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = (self.logs / f"{name}.log").read_text(errors="replace")
            found = list(re.finditer(pattern, text))
            if len(found) >= count:
                return found[count - 1]
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.3)
        pytest.fail(f"{name} never printed {pattern!r}:\n{(self.logs / f'{name}.log').read_text()[-3000:]}")

    async def publish(self, paths: list[Path]) -> list[Any]:
        codec = make_codec(None)
        watcher = OutcomeWatcher(self.bootstrap, self.names, codec)
        blobs = S3BlobStore(
            self.env["RAGSTREAM_STORES__BLOB_URL"], self.env["RAGSTREAM_STORES__S3_ENDPOINT_URL"]
        )
        publisher = DocumentPublisher(self.bootstrap, self.names, codec, blobs)
        subs: list[Submission] = [await publisher.upsert(p, TENANT) for p in paths]
        publisher.flush()
        try:
            return await watcher.wait(subs, 240)
        finally:
            watcher.close()


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    """FalkorDB as a server, the worker process (every role that needs the vectors) and two gateways."""
    home = tmp_path / "home"
    Settings(home=home).gateway_secret()  # one secret for every process of the deployment
    names = TopicNames(prefix=f"mp{uuid.uuid4().hex[:8]}.")
    logs = tmp_path / "logs"
    logs.mkdir()
    with FalkorServer(tmp_path / "graph") as graph, s3_server() as s3, pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            mp.setenv(key, s3[key])
        env = {
            **os.environ,
            **s3,  # documents travel through the S3 adapter: the processes share no blob directory
            "RAGSTREAM_HOME": str(home),
            "RAGSTREAM_KAFKA__BOOTSTRAP": kafka_bootstrap,
            "RAGSTREAM_KAFKA__TOPIC_PREFIX": names.prefix,
            "RAGSTREAM_KAFKA__PARTITIONS": "2",
            "RAGSTREAM_STORES__FALKORDB_URL": f"redis://{graph.host}:{graph.port}",
            "RAGSTREAM_GATEWAY__PORT": "0",
            "RAGSTREAM_LOG_FORMAT": "console",
        }
        deployment = Deployment(env, home, names, kafka_bootstrap, logs, {}, {})
        try:
            deployment.start("owner", *OWNER_ROLES)
            for gw in ("gw1", "gw2"):
                deployment.start(gw, "gateway")
            for gw in ("gw1", "gw2"):
                deployment.gateways[gw] = deployment.wait_for(gw, r"gateway (ws://\S+)").group(1)
            deployment.wait_for("owner", r"worker .* running")
            yield deployment
        finally:
            for proc in deployment.procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in deployment.procs.values():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def ask(url: str, question: str, secret: str) -> list[dict[str, Any]]:
    token = issue_token(secret, TENANT, f"u{uuid.uuid4().hex[:8]}", 300)
    frames: list[dict[str, Any]] = []
    async with connect(f"{url}?token={token}") as ws:
        await ws.send(json.dumps({"type": "ask", "question": question}))
        async for raw in ws:
            frames.append(json.loads(raw))
            if frames[-1]["type"] in ("final", "error"):
                break
    return frames


@dataclass
class Answer:
    text: str
    citations: list[dict[str, Any]]


def final(frames: list[dict[str, Any]]) -> Answer:
    """The final text and the citations of one request's frames (it must have ended with "final")."""
    assert frames[-1]["type"] == "final", frames[-3:]
    cited = [c for f in frames if f["type"] == "citations" for c in f["citations"]]
    return Answer(frames[-1]["text"], cited)


async def test_roles_in_separate_processes_ingest_answer_and_survive_a_sigkill(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Every example is indexed once through the worker process; both gateways answer with a
    citation over their own reply topics; after kill -9 and a restart of the worker, a question is
    answered again and a new document is indexed exactly once."""
    outcomes = await deployment.publish(sorted(EXAMPLES.iterdir()))
    assert [o.status for o in outcomes] == ["indexed"] * len(outcomes), outcomes
    secret = Settings(home=deployment.home).gateway_secret()

    for gw in ("gw1", "gw2"):
        answer = final(await ask(deployment.gateways[gw], "Who works for Helios Labs?", secret))
        assert "works for Helios Labs" in answer.text
        assert answer.citations
    topics_now = AdminClient({"bootstrap.servers": deployment.bootstrap}).list_topics(timeout=10).topics
    replies = [t for t in topics_now if t.startswith(deployment.names(topics.CHAT_REPLIES))]
    assert len(replies) == 2, replies  # one reply topic per gateway instance

    owner = deployment.procs["owner"]
    owner.send_signal(signal.SIGKILL)
    assert owner.wait(timeout=10) == -signal.SIGKILL
    deployment.start("owner", *OWNER_ROLES)
    deployment.wait_for("owner", r"worker .* running", count=2)

    again = final(await ask(deployment.gateways["gw2"], "Where is Helios Labs headquartered?", secret))
    assert again.citations
    late = tmp_path / "late.md"
    late.write_text("# Late arrival\n\nThe Quillfeather archive was catalogued by Orla Brennan in 2031.\n")
    [outcome] = await deployment.publish([late])
    assert outcome.status == "indexed"
    assert outcome.chunks == 1
    found = final(await ask(deployment.gateways["gw1"], "Who catalogued the Quillfeather archive?", secret))
    assert "Orla Brennan" in found.text

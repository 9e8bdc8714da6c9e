"""The product as separate OS processes against one external broker, as compose and Helm deploy it:
the front stages (parse, chunk, embed, extract-graph) in one process, the roles that need the
embedded vector engine (index, the agent steps, the HTTP API) in its one owner process, and two
gateways each in its own process. Documents published from outside with the CLI
through the remote API land in the S3 blob store (moto's server on loopback) and are indexed; questions
through either gateway are answered with citations over that gateway's own reply topic; a SIGKILL
of the worker process loses nothing: restarted, it answers again and indexes new documents once."""

from __future__ import annotations

import asyncio
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

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from websockets.asyncio.client import connect

import topics
from bench.corpus import generate_corpus
from bench.ingest.raw import chunk_texts
from services.chunk.chunker import TokenChunker
from services.common.settings import Settings
from services.gateway import issue_token
from services.stores.graph_falkor import FalkorServer
from tests.support import s3_server
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
RAGSTREAM = str(Path(sys.executable).parent / "ragstream")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
TENANT = "acme"
# The stages that need no vector engine run apart; every role that does shares the vector owner.
FRONT_ROLES = ("parse", "chunk", "embed", "extract-graph")
OWNER_ROLES = ("index", "plan", "retrieve", "tool", "respond", "api")


@dataclass
class Deployment:
    env: dict[str, str]
    home: Path
    names: TopicNames
    bootstrap: str
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]]
    gateways: dict[str, str]
    api: str

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

    def kill_and_restart(self, name: str, roles: tuple[str, ...], ready: str, wait: bool = True) -> str:
        """SIGKILL the process, start it again with the same roles; what ``ready`` captures once the
        new one is up (``wait=False``: return at once, the test waits its own way)."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        before = len(re.findall(ready, (self.logs / f"{name}.log").read_text(errors="replace")))
        self.start(name, *roles)
        return self.wait_for(name, ready, count=before + 1).group(1) if wait else ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `ragstream` command from outside the deployment (its own empty home: only --url counts)."""
        env = {**self.env, "RAGSTREAM_HOME": str(self.logs / "client"), "COLUMNS": "200"}
        return subprocess.run([RAGSTREAM, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    """FalkorDB as a server, S3 on loopback, two gateways, the front stages in one process and every
    role that needs the embedded vector engine (the HTTP API among them) in another."""
    home = tmp_path / "home"
    Settings(home=home).gateway_secret()  # one secret for every process of the deployment
    names = TopicNames(prefix=f"mp{uuid.uuid4().hex[:8]}.")
    logs = tmp_path / "logs"
    logs.mkdir()
    with FalkorServer(tmp_path / "graph") as graph, s3_server() as s3:
        env = {
            **os.environ,
            **s3,  # documents travel through the S3 adapter: the processes share no blob directory
            "RAGSTREAM_HOME": str(home),
            "RAGSTREAM_KAFKA__BOOTSTRAP": kafka_bootstrap,
            "RAGSTREAM_KAFKA__TOPIC_PREFIX": names.prefix,
            "RAGSTREAM_KAFKA__PARTITIONS": "2",
            "RAGSTREAM_STORES__FALKORDB_URL": f"redis://{graph.host}:{graph.port}",
            "RAGSTREAM_GATEWAY__PORT": "0",
            "RAGSTREAM_GATEWAY__REQUEST_TIMEOUT_S": "120",  # an agent process restarting is not silence
            "RAGSTREAM_LOG_FORMAT": "console",
        }
        deployment = Deployment(env, home, names, kafka_bootstrap, logs, {}, {}, "")
        try:
            for gw in ("gw1", "gw2"):
                deployment.start(gw, "gateway")
            for gw in ("gw1", "gw2"):
                deployment.gateways[gw] = deployment.wait_for(gw, r"gateway (ws://\S+)").group(1)
            deployment.env["RAGSTREAM_GATEWAY__PUBLIC_URL"] = deployment.gateways["gw1"]
            deployment.start("front", *FRONT_ROLES)
            deployment.start("owner", *OWNER_ROLES)
            deployment.api = deployment.wait_for("owner", r"api (http://\S+)").group(1)
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
    """The CLI publishes every example through the remote API (into S3) and each is indexed once;
    search, status and ask work with --url; both gateways answer with a citation over their own
    reply topics, and a client resumes on gw2 what it asked on gw1; after kill -9 and a restart of
    the worker, a question is answered again and a new document is indexed exactly once."""
    secret = Settings(home=deployment.home).gateway_secret()
    user = issue_token(secret, TENANT, "remote-user", 600)
    remote = ("--url", deployment.api, "--token", user)
    published = deployment.cli("publish", str(EXAMPLES), *remote)
    assert published.returncode == 0, published.stdout + published.stderr
    assert published.stdout.count("indexed") == len(list(EXAMPLES.iterdir())), published.stdout

    found = deployment.cli("search", "RS-2026004 Emerald Kingfisher", "--json", *remote)
    assert found.returncode == 0, found.stderr
    assert any("RS-2026004" in c["text"] for c in json.loads(found.stdout)["chunks"])
    refused = deployment.cli("status", *remote)
    assert refused.returncode == 1
    assert "403" in refused.stderr  # a user token is not an operator's
    operator = issue_token(secret, TENANT, "ops", 600, ops=True)
    state = deployment.cli("status", "--json", "--url", deployment.api, "--token", operator)
    assert state.returncode == 0, state.stderr
    assert json.loads(state.stdout)["chunks"] > 0
    answered = deployment.cli("ask", "Who works for Helios Labs?", *remote)
    assert answered.returncode == 0, answered.stderr
    assert "works for Helios Labs" in answered.stdout

    for gw in ("gw1", "gw2"):
        answer = final(await ask(deployment.gateways[gw], "Who works for Helios Labs?", secret))
        assert "works for Helios Labs" in answer.text
        assert answer.citations
    # A client that loses its socket on gw1 resumes its unfinished answer on gw2.
    token = issue_token(secret, TENANT, "roamer", 300)
    async with connect(f"{deployment.gateways['gw1']}?token={token}") as ws:
        await ws.send(json.dumps({"type": "ask", "question": "Who works for Helios Labs?"}))
        accepted = json.loads(await ws.recv())
        first = json.loads(await ws.recv())
    async with connect(f"{deployment.gateways['gw2']}?token={token}") as ws:
        rid = accepted["request_id"]
        await ws.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": first["seq"]}))
        frames = [json.loads(await ws.recv())]
        while frames[-1]["type"] not in ("final", "error"):
            frames.append(json.loads(await ws.recv()))
    assert frames[0]["type"] == "resumed"
    assert [f["seq"] for f in frames[1:]] == list(range(first["seq"] + 1, frames[-1]["seq"] + 1))
    assert "works for Helios Labs" in frames[-1]["text"]

    topics_now = AdminClient({"bootstrap.servers": deployment.bootstrap}).list_topics(timeout=10).topics
    replies = [t for t in topics_now if t.startswith(deployment.names(topics.CHAT_REPLIES))]
    assert len(replies) == 2, replies  # one reply topic per gateway instance

    owner = deployment.procs["owner"]
    owner.send_signal(signal.SIGKILL)
    assert owner.wait(timeout=10) == -signal.SIGKILL
    deployment.start("owner", *OWNER_ROLES)
    deployment.wait_for("owner", r"api (http://\S+)", count=2)
    deployment.api = deployment.wait_for("owner", r"api (http://\S+)", count=2).group(1)

    again = final(await ask(deployment.gateways["gw2"], "Where is Helios Labs headquartered?", secret))
    assert again.citations
    late = tmp_path / "late.md"
    late.write_text("# Late arrival\n\nThe Quillfeather archive was catalogued by Orla Brennan in 2031.\n")
    added = deployment.cli("publish", str(late), "--url", deployment.api, "--token", user)
    assert added.returncode == 0, added.stdout + added.stderr
    assert re.search(r"late\.md.*indexed.*\b1\b", added.stdout), added.stdout
    found = final(await ask(deployment.gateways["gw1"], "Who catalogued the Quillfeather archive?", secret))
    assert "Orla Brennan" in found.text

    # Deleting and reading dead letters remotely, as locally.
    removed = deployment.cli("delete", str(late), "--url", deployment.api, "--token", user)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "deleted" in removed.stdout
    gone = deployment.cli(
        "search", "Quillfeather Orla Brennan", "--json", "--url", deployment.api, "--token", user
    )
    assert all("Quillfeather" not in c["text"] for c in json.loads(gone.stdout)["chunks"])
    letters = deployment.cli("dlq", "list", "--url", deployment.api, "--token", operator)
    assert letters.returncode == 0, letters.stderr
    assert "no dead letters" in letters.stdout


def chunks_indexed(api: str, token: str) -> int:
    body = httpx.get(f"{api}/v1/status", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    return int(body["chunks"])


async def test_a_sigkill_of_each_worker_kind_loses_and_duplicates_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Documents published without waiting while the front stages and then the vector owner are
    killed with SIGKILL and restarted all end indexed exactly once (the chunk count equals the
    chunker's count for the corpus); a question whose gateway is killed mid-answer is resumed on
    the other gateway, and one asked while the owner is killed is still answered, each exactly once."""
    corpus = generate_corpus(tmp_path / "corpus", n_docs=10, seed=21, include_broken=False)
    expected = len(chunk_texts(corpus.good_paths, TokenChunker()))
    secret = Settings(home=deployment.home).gateway_secret()
    operator = issue_token(secret, TENANT, "ops", 900, ops=True)
    remote = ("--url", deployment.api, "--token", operator)

    published = deployment.cli("publish", str(tmp_path / "corpus"), "--no-wait", *remote)
    assert published.returncode == 0, published.stdout + published.stderr
    deployment.kill_and_restart("front", FRONT_ROLES, r"(worker .* running)")
    deadline = time.monotonic() + 180
    while chunks_indexed(deployment.api, operator) == 0:
        assert time.monotonic() < deadline, "nothing was indexed after the front stages restarted"
        await asyncio.sleep(0.5)
    deployment.api = deployment.kill_and_restart("owner", OWNER_ROLES, r"api (http://\S+)")
    while (count := chunks_indexed(deployment.api, operator)) < expected:
        assert time.monotonic() < deadline, f"{count} of {expected} chunks indexed"
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # anything redelivered after the count was reached would show now
    assert chunks_indexed(deployment.api, operator) == expected

    # A gateway dies holding an answer: the client resumes it on the other one.
    token = issue_token(secret, TENANT, "roamer", 300)
    async with connect(f"{deployment.gateways['gw1']}?token={token}") as ws:
        await ws.send(json.dumps({"type": "ask", "question": "Who works for Helios Labs?"}))
        rid = json.loads(await ws.recv())["request_id"]
        first = json.loads(await ws.recv())
        deployment.procs["gw1"].send_signal(signal.SIGKILL)
    frames = await resume(deployment.gateways["gw2"], token, rid, first["seq"])
    assert [f["seq"] for f in frames] == list(range(first["seq"] + 1, frames[-1]["seq"] + 1))
    assert [f["type"] for f in frames].count("final") == 1

    # The vector owner dies while a question is on its way: redelivered, answered once.
    async with connect(f"{deployment.gateways['gw2']}?token={token}") as ws:
        await ws.send(json.dumps({"type": "ask", "question": "Where is Helios Labs headquartered?"}))
        accepted = json.loads(await ws.recv())
        assert accepted["type"] == "accepted"
        deployment.kill_and_restart("owner", OWNER_ROLES, r"api (http://\S+)", wait=False)
        answer = []
        async for raw in ws:
            answer.append(json.loads(raw))
            if answer[-1]["type"] in ("final", "error"):
                break
    assert answer[-1]["type"] == "final", answer[-3:]
    seqs = [f["seq"] for f in answer if "seq" in f]
    assert seqs == list(range(len(seqs)))


async def resume(url: str, token: str, rid: str, after_seq: int) -> list[dict[str, Any]]:
    """The events of ``rid`` after ``after_seq`` through the last one, resumed on ``url``."""
    async with connect(f"{url}?token={token}") as ws:
        await ws.send(json.dumps({"type": "resume", "request_id": rid, "after_seq": after_seq}))
        assert json.loads(await ws.recv())["type"] == "resumed"
        frames: list[dict[str, Any]] = []
        async for raw in ws:
            frames.append(json.loads(raw))
            if frames[-1]["type"] in ("final", "error"):
                break
    return frames

"""Backpressure on the real broker: while the embeddings server is absent, too slow, or answering 429/503,
the embed stage pauses its partitions instead of failing messages; when the server is back every
document is indexed exactly once and nothing went to a dead-letter topic.

The server is a real HTTP server on loopback (uvicorn) serving real MiniLM vectors; the pipeline is
the real one (Tansu, qdrant-edge, FalkorDB); only the server's health changes during the test."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services import ops
from services.common.settings import PipelineSettings, Settings
from services.common.tansu import free_port
from services.models.embedder import HttpEmbedder, LocalEmbedder
from services.pipeline import run_pipeline
from services.publisher import DocumentPublisher, OutcomeWatcher
from tests.support import loopback_app
from topics import TopicNames

pytestmark = pytest.mark.integration

TENANT = "bp"


@dataclass
class Flaky:
    """/v1/embeddings that is slow or refuses while told to, then serves real vectors."""

    model: LocalEmbedder
    mode: str = "ok"  # "ok" | "slow" | "busy"
    served: int = 0
    refused: int = 0
    modes_seen: set[str] = field(default_factory=set)

    async def embeddings(self, request: Request) -> Response:
        self.modes_seen.add(self.mode)
        if self.mode == "busy":  # saturated: rate-limited and overloaded, in turn
            self.refused += 1
            status = 429 if self.refused % 2 else 503
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=status)
        if self.mode == "slow":
            await asyncio.sleep(2.0)  # beyond the client's timeout
        body = await request.json()
        # Like a real model server, work for a client that gave up is dropped: otherwise every timed-out
        # try still costs a forward pass and, on a loaded machine, the passes owed outgrow the time
        # between tries and no answer ever arrives within the client's timeout.
        work = asyncio.ensure_future(self.model.embed(body["input"]))
        while not work.done():
            if await request.is_disconnected():
                work.cancel()
                return Response(status_code=499)
            await asyncio.wait({work}, timeout=0.05)
        vectors = work.result()
        self.served += len(vectors)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})


@dataclass
class Server:
    """The flaky server on a fixed port, started mid-test (until then nothing listens there)."""

    state: Flaky
    port: int
    running: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/v1/embeddings", self.state.embeddings, methods=["POST"])])
        await self.running.enter_async_context(loopback_app(app, self.port))

    async def stop(self) -> None:
        await self.running.aclose()


def documents(root: Path, n: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = root / f"note-{i}.md"
        body = " ".join(
            f"Backpressure note {i} sentence {j} about pump station {i * 10 + j}." for j in range(40)
        )
        path.write_text(f"# Note {i}\n\n{body}\n")
        paths.append(path)
    return paths


@pytest.fixture
async def pipeline_and_server(
    kafka_bootstrap: str, names: TopicNames, tmp_path: Path
) -> AsyncIterator[tuple[object, Server]]:
    model = LocalEmbedder()
    server = Server(Flaky(model), free_port())  # not started: the embed stage finds nobody there
    settings = Settings(
        home=tmp_path / "home",
        pipeline=PipelineSettings(
            retry_attempts=2,
            retry_base_delay_s=0.05,
            backpressure_base_delay_s=0.3,
            backpressure_max_delay_s=1.0,
        ),
    )
    settings.kafka.partitions = 2
    client = HttpEmbedder(
        f"http://127.0.0.1:{server.port}", "all-MiniLM-L6-v2", dim=384, attempts=2, timeout_s=1.0
    )
    try:
        async with run_pipeline(settings, bootstrap=kafka_bootstrap, names=names, embedder=client) as pipe:
            yield pipe, server
    finally:
        await client.close()
        await server.stop()


async def test_model_outage_pauses_then_indexes_everything_once(
    pipeline_and_server: tuple[object, Server], tmp_path: Path
) -> None:
    pipe, server = pipeline_and_server
    from services.pipeline import Pipeline

    assert isinstance(pipe, Pipeline)
    paths = documents(tmp_path / "docs", 4)
    watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
    publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
    subs = [await publisher.upsert(p, TENANT) for p in paths]
    publisher.flush()
    embed = pipe.context.backpressure("embed")

    async def until(predicate: object, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():  # type: ignore[operator]
            assert time.monotonic() < deadline, "condition not met in time"
            await asyncio.sleep(0.05)

    # 1. nobody listens on the port: connection refused → pauses, not dead letters
    await until(lambda: embed.pauses >= 2)
    # 2. a server that answers too slowly (client timeout 1 s) → more pauses
    server.state.mode = "slow"
    await server.start()
    await until(lambda: "slow" in server.state.modes_seen and embed.pauses >= 4)
    # 3. a server that refuses with 429 and 503 → more pauses
    server.state.mode = "busy"
    await until(lambda: server.state.refused >= 4)
    assert not await asyncio.to_thread(ops.dead_letters, pipe.bootstrap, pipe.names)
    collection = await pipe.vectors.resolve("chunks")
    assert collection is None or await pipe.vectors.count(collection, must={"tenant": TENANT}) == 0

    # 4. healthy again: everything flows, exactly once
    server.state.mode = "ok"
    outcomes = await watcher.wait(subs, 120)
    watcher.close()
    assert [o.status for o in outcomes] == ["indexed"] * len(paths)
    collection = await pipe.vectors.resolve("chunks")
    total = sum(o.chunks or 0 for o in outcomes)
    assert total > len(paths)
    assert await pipe.vectors.count(collection, must={"tenant": TENANT}) == total
    assert not await asyncio.to_thread(ops.dead_letters, pipe.bootstrap, pipe.names)
    assert embed.streak == 0  # a success reset the pause length
    assert embed.partitions_paused >= embed.pauses  # real consumer pauses, not waits in place

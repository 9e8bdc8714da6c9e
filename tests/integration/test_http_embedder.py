"""The OpenAI-compatible embeddings client against a real HTTP server on loopback serving real
MiniLM vectors: same vectors as in-process, batching, retries on 429/503, and a clear failure."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.tansu import free_port
from services.models.embedder import HttpEmbedder, LocalEmbedder, ModelUnavailable
from tests.support import loopback_app

pytestmark = pytest.mark.integration


@dataclass
class EmbeddingsServer:
    """/v1/embeddings in the OpenAI shape, backed by the in-process model; can be told to refuse."""

    model: LocalEmbedder
    refuse_next: list[int] = field(default_factory=list)  # status codes to answer before serving
    batches: list[int] = field(default_factory=list)
    url: str = ""

    async def embeddings(self, request: Request) -> Response:
        if self.refuse_next:
            return JSONResponse({"error": "busy"}, status_code=self.refuse_next.pop(0))
        body = await request.json()
        self.batches.append(len(body["input"]))
        vectors = await self.model.embed(body["input"])
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return JSONResponse({"object": "list", "data": data[::-1], "model": body["model"]})


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[EmbeddingsServer]:
    """A uvicorn server on a free loopback port."""
    state = EmbeddingsServer(LocalEmbedder())
    app = Starlette(routes=[Route("/v1/embeddings", state.embeddings, methods=["POST"])])
    async with loopback_app(app) as url:
        state.url = url
        yield state


async def test_remote_vectors_equal_in_process_vectors_in_order(server: EmbeddingsServer) -> None:
    """Rows come back by index (the server sends them reversed) and match the local model."""
    client = HttpEmbedder(server.url, "all-MiniLM-L6-v2", dim=384, batch_size=3)
    texts = [f"sentence number {i} about Kafka" for i in range(7)]
    try:
        remote = await client.embed(texts)
    finally:
        await client.close()
    local = await server.model.embed(texts)
    assert len(remote) == 7
    for a, b in zip(remote, local, strict=True):
        assert math.isclose(sum(x * y for x, y in zip(a, b, strict=True)), 1.0, rel_tol=1e-4)
    assert server.batches[-3:] == [3, 3, 1]


async def test_429_and_503_are_retried(server: EmbeddingsServer) -> None:
    """A saturated server (429, then 503) is retried with backoff and the call succeeds."""
    server.refuse_next[:] = [429, 503]
    client = HttpEmbedder(server.url, "m", dim=384, attempts=4)
    try:
        [vector] = await client.embed(["hello"])
    finally:
        await client.close()
    assert len(vector) == 384
    assert server.refuse_next == []


async def test_persistent_refusal_raises_model_unavailable(server: EmbeddingsServer) -> None:
    """When every attempt is refused the client raises ModelUnavailable (transient, never poison)."""
    server.refuse_next[:] = [503, 503]
    client = HttpEmbedder(server.url, "m", dim=384, attempts=2)
    try:
        with pytest.raises(ModelUnavailable, match="HTTP 503"):
            await client.embed(["hello"])
    finally:
        await client.close()


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_a_refusal_about_the_deployment_pauses_instead_of_dead_lettering(
    server: EmbeddingsServer, status: int
) -> None:
    """A rotated key, a wrong route or model name is no record's fault: the first form raised
    ModelRequestError and the stage dead-lettered every record. Now the stage pauses until fixed."""
    server.refuse_next[:] = [status]
    client = HttpEmbedder(server.url, "m", dim=384, attempts=3)
    try:
        with pytest.raises(ModelUnavailable, match=f"HTTP {status} \\(check its URL, key and model name\\)"):
            await client.embed(["hello"])
    finally:
        await client.close()
    assert server.refuse_next == []  # asked once: asking again would not help


async def test_server_down_raises_model_unavailable() -> None:
    """Nothing listening is a transport error, reported as ModelUnavailable."""
    client = HttpEmbedder(f"http://127.0.0.1:{free_port()}", "m", dim=384, attempts=2)
    try:
        with pytest.raises(ModelUnavailable, match="ConnectError"):
            await client.embed(["hello"])
    finally:
        await client.close()


async def test_wrong_dimension_is_refused(server: EmbeddingsServer) -> None:
    """A server whose model has another size than configured fails loudly instead of corrupting the index."""
    client = HttpEmbedder(server.url, "m", dim=1024)
    try:
        with pytest.raises(ValueError, match="dim 384"):
            await client.embed(["hello"])
    finally:
        await client.close()

"""The ``/v1/rerank`` client against a real HTTP server on loopback scoring with the real in-process
bi-encoder: scores back in input order, batching, bearer auth, retries on 408/429/503, a clear
failure when the server stays down, and no retry of a client error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.settings import ModelSettings
from services.common.tansu import free_port
from services.models.embedder import LocalEmbedder, ModelUnavailable
from services.models.reranker import (
    HttpReranker,
    LocalReranker,
    ModelRequestError,
    RerankError,
    reranker_from_settings,
)
from tests.support import loopback_app

pytestmark = pytest.mark.integration

QUERY = "Where is Helios Labs headquartered?"
TEXTS = [
    "The committee reviewed the budget for the next quarter.",
    "Helios Labs is headquartered in Graz, Austria.",
    "Greta Sorensen works for Helios Labs.",
    "Bergen is a city in Norway.",
    "The weekly seminar series attracted a growing audience.",
    "Juniper Networks is headquartered in Bergen, Norway.",
    "Battery recycling is part of materials science.",
]


@dataclass
class RerankServer:
    """/v1/rerank in the Jina/Cohere/vLLM shape, backed by the in-process bi-encoder."""

    model: LocalReranker
    refuse_next: list[int] = field(default_factory=list)  # status codes to answer before serving
    drop_last: bool = False  # answer one result too few
    requests: int = 0
    batches: list[int] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    url: str = ""

    async def rerank(self, request: Request) -> Response:
        self.requests += 1
        self.auth.append(request.headers.get("authorization"))
        if self.refuse_next:
            status = self.refuse_next.pop(0)
            return JSONResponse({"error": {"message": f"refused with {status}"}}, status_code=status)
        body = await request.json()
        self.batches.append(len(body["documents"]))
        scores = await self.model.rerank(body["query"], body["documents"])
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        if self.drop_last:
            order = order[:-1]
        results = [{"index": i, "relevance_score": scores[i]} for i in order]  # best first, like servers
        return JSONResponse({"id": "r", "model": body["model"], "results": results, "usage": {}})


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[RerankServer]:
    """A uvicorn server on a free loopback port."""
    # float32: the scores of a bf16 pass shift in the 4th decimal with the batch a text rides in, and
    # this test compares batched remote scores with one local pass exactly
    state = RerankServer(LocalReranker(LocalEmbedder(precision="float32")))
    app = Starlette(routes=[Route("/v1/rerank", state.rerank, methods=["POST"])])
    async with loopback_app(app) as url:
        state.url = url
        yield state


@pytest.fixture(autouse=True)
def _reset(server: RerankServer) -> None:
    server.refuse_next.clear()
    server.drop_last = False
    server.requests = 0
    server.batches.clear()
    server.auth.clear()


async def test_scores_come_back_in_input_order(server: RerankServer) -> None:
    """The server answers best first; the client returns one score per text in the order it sent them,
    equal to the in-process scores, in batches of batch_size, with the bearer token on every call."""
    client = HttpReranker(server.url, "all-MiniLM-L6-v2", api_key="s3cret", batch_size=3)
    try:
        remote = await client.rerank(QUERY, TEXTS)
    finally:
        await client.close()
    local = await server.model.rerank(QUERY, TEXTS)
    assert remote == pytest.approx(local, abs=1e-6)
    assert max(range(len(TEXTS)), key=lambda i: remote[i]) == 1  # the headquarters sentence
    assert server.batches == [3, 3, 1]
    assert server.auth == ["Bearer s3cret"] * 3


async def test_408_429_and_503_are_retried(server: RerankServer) -> None:
    """A slow or saturated server (408, 429, then 503) is retried with backoff and the call succeeds."""
    server.refuse_next[:] = [408, 429, 503]
    client = HttpReranker(server.url, "m", attempts=4)
    try:
        scores = await client.rerank(QUERY, TEXTS[:2])
    finally:
        await client.close()
    assert len(scores) == 2
    assert server.refuse_next == []
    assert server.requests == 4


async def test_persistent_refusal_raises_model_unavailable(server: RerankServer) -> None:
    """When every attempt is refused the client raises ModelUnavailable after exactly `attempts` tries."""
    server.refuse_next[:] = [503, 503, 503]
    client = HttpReranker(server.url, "m", attempts=2)
    try:
        with pytest.raises(ModelUnavailable, match="HTTP 503"):
            await client.rerank(QUERY, TEXTS[:2])
    finally:
        await client.close()
    assert server.requests == 2


async def test_server_down_raises_model_unavailable() -> None:
    """Nothing listening is a transport error, reported as ModelUnavailable."""
    client = HttpReranker(f"http://127.0.0.1:{free_port()}", "m", attempts=2)
    try:
        with pytest.raises(ModelUnavailable, match="ConnectError"):
            await client.rerank(QUERY, TEXTS[:2])
    finally:
        await client.close()


async def test_a_client_error_is_not_retried(server: RerankServer) -> None:
    """A 400 fails at once as ModelRequestError with the server's message: retrying cannot help."""
    server.refuse_next[:] = [400]
    client = HttpReranker(server.url, "m", attempts=5)
    try:
        with pytest.raises(ModelRequestError, match=r"HTTP 400: refused with 400"):
            await client.rerank(QUERY, TEXTS[:2])
    finally:
        await client.close()
    assert server.requests == 1


async def test_missing_scores_are_an_error(server: RerankServer) -> None:
    """An answer without a score for every text (a top_n applied anyway) is refused, not padded."""
    server.drop_last = True
    client = HttpReranker(server.url, "m")
    try:
        with pytest.raises(RerankError, match=r"expected 0\.\.2"):
            await client.rerank(QUERY, TEXTS[:3])
    finally:
        await client.close()


async def test_settings_pick_the_adapter(server: RerankServer) -> None:
    """rerank_url gives the HTTP client, rerank_local the in-process one, neither no reranker."""
    remote = reranker_from_settings(ModelSettings(rerank_url=server.url, rerank_model="bge-reranker-v2-m3"))
    assert isinstance(remote, HttpReranker)
    assert remote.model == "bge-reranker-v2-m3"
    await remote.close()
    local = reranker_from_settings(ModelSettings(rerank_local=True), embedder=server.model._embedder)
    assert isinstance(local, LocalReranker)
    assert reranker_from_settings(ModelSettings()) is None

"""HTTP for the processes: the public API over the embedded stack (``ragstream up``), and the
probes a worker without the API serves (liveness, readiness, Prometheus metrics)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.api import ApiPorts, OutcomeTracker, build_api
from services.generations import Stack
from services.models.embedder import label
from services.ops import Backlog, backlog
from services.publisher import DocumentPublisher
from services.retrieve.search import SearchResult, search
from services.roles import AGENT_NODES, FRONT_STAGES, GENERATION_STAGES


def probes_app() -> Starlette:
    """What a worker without the API role serves: liveness, readiness and Prometheus metrics."""

    async def ok(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/healthz", ok), Route("/readyz", ok), Route("/metrics", metrics)])


async def start_server(app: Any, host: str, port: int) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, task, int(bound)


@contextlib.asynccontextmanager
async def api_ports(
    settings: Any, bootstrap: str, names: Any, blobs: Any, codec: Any, **extra: Any
) -> AsyncIterator[ApiPorts]:
    """The API's publisher and outcome tracker (closed on exit), plus what the caller hands over."""
    publisher = DocumentPublisher(bootstrap, names, codec, blobs)
    tracker = OutcomeTracker(bootstrap, names, codec).start()
    upload_dir = settings.data_dir / "uploads"
    upload_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield ApiPorts(
            settings, bootstrap, names, settings.gateway_secret(), publisher, tracker, upload_dir, **extra
        )
    finally:
        tracker.close()
        publisher.flush(5)


def query_extras(embedder: Any, vectors: Any, graph: Any, alias: str) -> dict[str, Any]:
    """Search and the index's counts, for an API process that holds the vector and graph ports."""

    async def do_search(query: str, tenant: str, k: int) -> SearchResult:
        return await search(query, tenant, embedder, vectors, graph, alias, k)

    async def index_status() -> dict[str, Any]:
        collection = await vectors.resolve(alias)
        return {
            "collection": collection,
            "chunks": await vectors.count(collection, must={}) if collection else 0,
            "graph": await graph.stats(None),
            "embedder": label(embedder),
        }

    return {"search": do_search, "index_status": index_status}


def stack_extras(stack: Stack) -> dict[str, Any]:
    """What the embedded stack adds: its front and live generation's backlog rows, reindex progress."""
    extras = query_extras(stack.embedder, stack.vectors, stack.graph, stack.settings.stores.collection_alias)
    counts = extras["index_status"]

    async def rows() -> list[Backlog]:
        live = stack.live
        shared = (*FRONT_STAGES, *AGENT_NODES)  # not per index generation
        front = await asyncio.to_thread(backlog, stack.bootstrap, stack.names, "", shared)
        suffix = live.names.prefix.removeprefix(stack.names.prefix).rstrip(".")
        generation = f".{suffix}" if suffix else ""
        return front + await asyncio.to_thread(
            backlog, stack.bootstrap, live.names, generation, GENERATION_STAGES
        )

    async def index_status() -> dict[str, Any]:
        return {
            **await counts(),
            "reindex": stack.progress.to_json(),
            "repair": stack.repair_progress.to_json(),
        }

    return extras | {"backlog": rows, "index_status": index_status, "stack": stack}


@contextlib.asynccontextmanager
async def serve(
    stack: Stack, host: str, port: int, gateway_url: str | None = None
) -> AsyncIterator[tuple[ApiPorts, int]]:
    """The public API over the stack in this event loop until exit; yields its ports and bound port."""
    front = stack.front
    async with api_ports(
        stack.settings, stack.bootstrap, stack.names, front.blobs, front.codec, gateway_url=gateway_url,
        **stack_extras(stack),
    ) as ports:  # fmt: skip
        server, task, bound = await start_server(build_api(ports), host, port)
        try:
            yield ports, bound
        finally:
            server.should_exit = True
            await task

"""The embedded stack's local HTTP endpoint (127.0.0.1): health, readiness, status, search and
Prometheus metrics. The CLI's ``status`` and ``search`` talk to it; the chat gateway joins it later."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.ops import backlog
from services.pipeline import Pipeline
from services.retrieve.search import search


def build_app(pipe: Pipeline) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(_: Request) -> Response:
        ready = pipe.broker is not None and bool(pipe.stages)
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def status(_: Request) -> Response:
        rows = await asyncio.to_thread(backlog, pipe.bootstrap, pipe.names)
        body: dict[str, Any] = {
            "bootstrap": pipe.bootstrap,
            "stages": list(pipe.stages),
            "backlog": [
                {"stage": r.stage, "topic": r.topic, "end": r.end, "committed": r.committed, "lag": r.lag}
                for r in rows
            ],
        }
        if pipe.vectors is not None:
            collection = await pipe.vectors.resolve(pipe.settings.stores.collection_alias)
            body["collection"] = collection
            body["chunks"] = await pipe.vectors.count(collection, must={}) if collection else 0
        if pipe.graph is not None:
            body["graph"] = await pipe.graph.stats(None)
        return JSONResponse(body)

    async def do_search(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return JSONResponse({"error": "missing query parameter q"}, status_code=400)
        if pipe.embedder is None or pipe.vectors is None:
            return JSONResponse({"error": "this process runs no index/embed stage"}, status_code=503)
        tenant = request.query_params.get("tenant", pipe.settings.tenant)
        try:
            limit = max(1, min(int(request.query_params.get("k", "5")), 50))
        except ValueError:
            return JSONResponse({"error": "k must be an integer"}, status_code=400)
        result = await search(
            query,
            tenant,
            pipe.embedder,
            pipe.vectors,
            pipe.graph,
            pipe.settings.stores.collection_alias,
            limit,
        )
        return JSONResponse(result.to_json())

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/status", status),
            Route("/search", do_search),
            Route("/metrics", metrics),
        ]
    )


async def serve(pipe: Pipeline, host: str, port: int) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Start the server in this event loop; returns it, its task and the port it bound."""
    config = uvicorn.Config(build_app(pipe), host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, task, int(bound)

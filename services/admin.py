"""The embedded stack's local HTTP endpoint (127.0.0.1): health, readiness, status, search and
Prometheus metrics. The CLI's ``status`` and ``search`` talk to it; the chat gateway joins it later."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from services.agent.wiring import ask_inprocess, new_state
from services.generations import Stack
from services.ops import backlog
from services.retrieve.search import search
from services.roles import FRONT_STAGES, GENERATION_STAGES

CONSUMER_LAG = Gauge(
    "ragstream_consumer_lag",
    "Messages not yet committed by a stage's consumer group, per input topic (read at scrape time "
    "from fetch-response watermarks, so right on Tansu and Apache Kafka alike)",
    ["stage", "topic"],
)
CONSUMER_END = Gauge("ragstream_topic_end_offset", "End offset summed over partitions", ["stage", "topic"])


def build_app(stack: Stack) -> Starlette:
    tasks: set[asyncio.Task[Any]] = set()

    async def backlog_rows() -> list[Any]:
        """Lag of every stage of the front and the live index generation."""
        live = stack.live
        front = await asyncio.to_thread(backlog, stack.bootstrap, stack.names, "", FRONT_STAGES)
        suffix = live.names.prefix.removeprefix(stack.names.prefix).rstrip(".")
        return front + await asyncio.to_thread(
            backlog,
            stack.bootstrap,
            live.names,
            f".{suffix}" if suffix else "",
            GENERATION_STAGES,
        )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(_: Request) -> Response:
        return JSONResponse({"ready": True})

    async def status(_: Request) -> Response:
        rows = await backlog_rows()
        collection = await stack.vectors.resolve(stack.settings.stores.collection_alias)
        body: dict[str, Any] = {
            "bootstrap": stack.bootstrap,
            "backlog": [
                {"stage": r.stage, "topic": r.topic, "end": r.end, "committed": r.committed, "lag": r.lag}
                for r in rows
            ],
            "collection": collection,
            "chunks": await stack.vectors.count(collection, must={}) if collection else 0,
            "graph": await stack.graph.stats(None),
            "reindex": stack.progress.to_json(),
        }
        return JSONResponse(body)

    async def reindex(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(stack.progress.to_json())
        if stack.progress.state == "catching-up":
            return JSONResponse({"error": "a reindex is already running"}, status_code=409)
        task = asyncio.create_task(stack.reindex())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.1)
        return JSONResponse(stack.progress.to_json(), status_code=202)

    async def do_search(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return JSONResponse({"error": "missing query parameter q"}, status_code=400)
        tenant = request.query_params.get("tenant", stack.settings.tenant)
        try:
            limit = max(1, min(int(request.query_params.get("k", "5")), 50))
        except ValueError:
            return JSONResponse({"error": "k must be an integer"}, status_code=400)
        result = await search(
            query,
            tenant,
            stack.embedder,
            stack.vectors,
            stack.graph,
            stack.settings.stores.collection_alias,
            limit,
        )
        return JSONResponse(result.to_json())

    async def ask(request: Request) -> Response:
        """One question through the in-process agent graph, streamed as NDJSON events (status, token,
        citations, final). The websocket gateway over Kafka (issue 3) supersedes this for clients."""
        try:
            body = await request.json()
            question = str(body["question"]).strip()
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": 'send JSON {"question": "...", "history": [[role, text], ...]}'}, status_code=400
            )
        if not question:
            return JSONResponse({"error": "empty question"}, status_code=400)
        if len(question) > 4000:
            return JSONResponse({"error": "question longer than 4000 characters"}, status_code=413)
        history = [(str(r), str(c)) for r, c in body.get("history", [])][-20:]
        tenant = str(body.get("tenant") or stack.settings.tenant)
        state = new_state(uuid.uuid4().hex, tenant, question, history)

        async def events() -> AsyncIterator[bytes]:
            async for event in ask_inprocess(stack.agent, state):
                if event["type"] == "final":
                    final = event["state"]
                    event = {
                        "type": "final",
                        "answer": final.answer,
                        "query": final.query,
                        "steps": final.steps,
                        "citations": [c.model_dump() for c in final.citations],
                    }
                yield (json.dumps(event) + "\n").encode()

        return StreamingResponse(events(), media_type="application/x-ndjson")

    async def metrics(_: Request) -> Response:
        for row in await backlog_rows():
            topic = row.topic.removeprefix(stack.names.prefix)
            CONSUMER_LAG.labels(row.stage, topic).set(row.lag)
            CONSUMER_END.labels(row.stage, topic).set(row.end)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/status", status),
            Route("/search", do_search),
            Route("/reindex", reindex, methods=["GET", "POST"]),
            Route("/ask", ask, methods=["POST"]),
            Route("/metrics", metrics),
        ]
    )


def probes_app() -> Starlette:
    """What a single-stage worker serves: liveness, readiness and Prometheus metrics."""

    async def ok(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/healthz", ok), Route("/readyz", ok), Route("/metrics", metrics)])


async def start_server(
    app: Starlette, host: str, port: int
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, task, int(bound)


async def serve(stack: Stack, host: str, port: int) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Start the server in this event loop; returns it, its task and the port it bound."""
    return await start_server(build_app(stack), host, port)

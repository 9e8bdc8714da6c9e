"""The public HTTP API (FastAPI, so an OpenAPI document comes with it at /openapi.json and docs at
/docs): documents in and out, search, and the operator's status, reindex and dead letters, behind
the same JWTs as the chat gateway with the tenant taken from the token. `ragstream publish|delete|
search|status|reindex|dlq` use it, locally and against a remote deployment alike; operators look at
the ops page, ``/ops`` (services/api/ops_page.py)."""

import asyncio
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import topics
from services import ops
from services.api import documents, ops_page, snapshot
from services.api.auth import NOT_OPERATOR, authenticator
from services.api.lag import ScrapedLag
from services.api.ports import ApiPorts
from services.api.sampler import OpsSampler
from services.catchup import ReindexRefused, generation_names, label_of
from services.gateway.auth import Principal
from topics import TopicNames

NO_SEARCH = {"description": "This API process holds no vector index (run it with the index)"}
NO_REINDEX = {"description": "This API process does not host the index generations"}
UNKNOWN_TOPIC = {"description": "Not a topic of the registry"}
NO_GEN = {"description": "Generations are swapped here only where workers build them (a cluster); "
                  "the embedded stack reindexes with /v1/reindex"}  # fmt: skip
DLQ_TOPIC = Annotated[str | None, Query(description="Only this source topic, e.g. docs.ingest.")]


def build_api(ports: ApiPorts) -> FastAPI:
    app = FastAPI(
        title="ragstream",
        summary="Event-driven RAG on Kafka: documents in, cited answers out.",
        version="1",
        responses={401: {"description": "No token, or an expired, forged or malformed one"}},
    )
    user, operator = authenticator(ports.secret)
    app.include_router(documents.router(ports, user))

    async def backlog() -> list[ops.Backlog]:
        if ports.backlog is not None:
            return await ports.backlog()
        return await asyncio.to_thread(ops.backlog, ports.bootstrap, ports.names)

    async def serving() -> TopicNames:
        """The topic names of the generation searches read: after a reindex its private topics (and
        their dead letters) carry its label."""
        if ports.stack is not None:
            return generation_names(ports.names, ports.stack.live_label)
        if ports.generations is not None:
            alias = ports.generations.alias
            collection = await ports.generations.vectors.resolve(alias)
            return generation_names(ports.names, label_of(alias, collection)) if collection else ports.names
        return ports.names

    async def letters() -> list[ops.DeadLetter]:
        return await asyncio.to_thread(ops.dead_letters, ports.bootstrap, await serving())

    sampler = OpsSampler(backlog, letters, ports.index_status, ports.names.prefix)
    kafka = ports.settings.kafka
    lag = ScrapedLag(backlog, ports.names.prefix, kafka.lag_read_timeout_s, kafka.lag_read_interval_s)
    app.include_router(ops_page.router(sampler, operator))

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/readyz", tags=["probes"])
    async def readyz() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/metrics", tags=["probes"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics, with each stage's consumer lag read at scrape time (its last values
        when the broker does not answer in time: services/api/lag.py)."""
        await lag.refresh()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/info", tags=["query"])
    async def info(principal: Annotated[Principal, Depends(user)]) -> dict[str, Any]:
        """Who the token names, and where this deployment's chat gateway listens."""
        return {
            "tenant": principal.tenant,
            "user": principal.user,
            "operator": principal.operator,
            "gateway_url": ports.gateway_url,
            "search": ports.search is not None,
            "reindex": ports.stack is not None,
        }

    @app.get("/v1/search", tags=["query"], responses={400: {"description": "A blank query"}, 503: NO_SEARCH})
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=4000, description="What to look for.")],
        principal: Annotated[Principal, Depends(user)],
        k: Annotated[int, Query(ge=1, le=50, description="How many chunks.")] = 5,
    ) -> dict[str, Any]:
        """The best chunks for the token's tenant (hybrid vector + keyword, graph-fused) and the
        graph entities and relations the query names."""
        if ports.search is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "this API process has no search")
        if not q.strip() or "\x00" in q:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "q must be text with something in it")
        return (await ports.search(q, principal.tenant, k)).to_json()

    @app.get("/v1/status", tags=["operations"], responses={403: NOT_OPERATOR})
    async def stack_status(_: Annotated[Principal, Depends(operator)]) -> dict[str, Any]:
        """Each stage's backlog, the live index version with its chunk and graph counts, what is
        wrong between the stores and the broker (``problems``), and the reindex in progress (where
        this process hosts the index)."""
        rows = await backlog()
        body: dict[str, Any] = {
            "bootstrap": ports.bootstrap,
            "backlog": [
                {"stage": r.stage, "topic": r.topic, "end": r.end, "committed": r.committed, "lag": r.lag}
                for r in rows
            ],
        }
        if ports.index_status is not None:
            body |= await ports.index_status()
            body["problems"] = snapshot.problems(body, rows)
        return body

    def hosted_index() -> Any:
        if ports.stack is None:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "reindex runs in `ragstream up`")
        return ports.stack

    @app.get("/v1/reindex", tags=["operations"], responses={403: NOT_OPERATOR, 501: NO_REINDEX})
    async def reindex_progress(_: Annotated[Principal, Depends(operator)]) -> dict[str, Any]:
        progress: dict[str, Any] = hosted_index().progress.to_json()
        return progress

    @app.post(
        "/v1/reindex",
        tags=["operations"],
        status_code=status.HTTP_202_ACCEPTED,
        responses={403: NOT_OPERATOR, 409: {"description": "A reindex is already running"}, 501: NO_REINDEX},
    )
    async def reindex(
        _: Annotated[Principal, Depends(operator)],
        timeout_s: Annotated[
            float, Query(gt=0, le=86400, description="Give up (and retire it) after this.")
        ] = 3600,
    ) -> JSONResponse:
        """Start building the next index version from the chunk topic; poll GET for progress. It
        fails fast, without swapping, when there is nothing to replay or fewer chunks come back."""
        stack = hosted_index()
        try:
            stack.start_reindex(timeout_s)
        except RuntimeError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        return JSONResponse(stack.progress.to_json(), status_code=status.HTTP_202_ACCEPTED)

    @app.get("/v1/repair", tags=["operations"], responses={403: NOT_OPERATOR, 501: NO_REINDEX})
    async def repair_progress(_: Annotated[Principal, Depends(operator)]) -> dict[str, Any]:
        progress: dict[str, Any] = hosted_index().repair_progress.to_json()
        return progress

    @app.post(
        "/v1/repair",
        tags=["operations"],
        status_code=status.HTTP_202_ACCEPTED,
        responses={
            403: NOT_OPERATOR,
            409: {"description": "A reindex or a repair is already running"},
            501: NO_REINDEX,
        },
    )
    async def repair(
        _: Annotated[Principal, Depends(operator)],
        timeout_s: Annotated[float, Query(gt=0, le=86400, description="Give up after this.")] = 3600,
    ) -> JSONResponse:
        """Re-derive the live index from the chunk topic, in place (after a store was restored from an
        older backup, or wiped): idempotent writes, nothing duplicated; poll GET for progress."""
        stack = hosted_index()
        try:
            stack.start_repair(timeout_s)
        except RuntimeError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        await asyncio.sleep(0.1)
        return JSONResponse(stack.repair_progress.to_json(), status_code=status.HTTP_202_ACCEPTED)

    @app.delete("/v1/reindex", tags=["operations"], responses={403: NOT_OPERATOR, 501: NO_REINDEX})
    async def cancel_reindex(_: Annotated[Principal, Depends(operator)]) -> dict[str, Any]:
        """Cancel the reindex in progress: its new version is retired, searches keep the live one."""
        stack = hosted_index()
        cancelled = stack.cancel_reindex()
        await asyncio.sleep(0.2)
        return {"cancelled": cancelled, **stack.progress.to_json()}

    def cluster_generations() -> Any:
        if ports.generations is None:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, NO_GEN["description"])
        return ports.generations

    @app.get("/v1/generations/{label}", tags=["operations"], responses={403: NOT_OPERATOR, 501: NO_GEN})
    async def generation(
        label: Annotated[str, Path(pattern=r"^v\d+$", description="The generation, e.g. v2.")],
        _: Annotated[Principal, Depends(operator)],
    ) -> dict[str, Any]:
        """Where the index generation built by workers started with RAGSTREAM_GENERATION=<label>
        stands against the live one: lag, chunks, whether it caught up and why it may not swap."""
        state = await cluster_generations().state(label)
        body: dict[str, Any] = state.to_json()
        return body

    @app.post(
        "/v1/generations/{label}/swap",
        tags=["operations"],
        responses={403: NOT_OPERATOR, 409: {"description": "Not caught up, or it would lose documents"},
                   501: NO_GEN},
    )  # fmt: skip
    async def swap_generation(
        label: Annotated[str, Path(pattern=r"^v\d+$", description="The generation, e.g. v2.")],
        _: Annotated[Principal, Depends(operator)],
    ) -> dict[str, Any]:
        """Point the alias at the generation once it has caught up and holds what the live one
        holds; searches switch at once. Refused, with the reason, otherwise."""
        try:
            state = await cluster_generations().swap(label)
        except ReindexRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        body: dict[str, Any] = state.to_json() | {"swapped": True}
        return body

    def dlq_spec(topic: str | None) -> topics.TopicSpec | None:
        try:
            return topics.by_name(topic.removesuffix(topics.DLQ_SUFFIX)) if topic else None
        except KeyError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None

    @app.get("/v1/dlq", tags=["operations"], responses={400: UNKNOWN_TOPIC, 403: NOT_OPERATOR})
    async def dead_letters(_: Annotated[Principal, Depends(operator)], topic: DLQ_TOPIC = None) -> list[Any]:
        """Every dead letter: where it failed, why, and whether it was replayed."""
        letters = await asyncio.to_thread(ops.dead_letters, ports.bootstrap, await serving(), dlq_spec(topic))
        return [
            {
                "dlq_topic": d.dlq_topic,
                "partition": d.partition,
                "offset": d.offset,
                "key": d.key,
                "stage": d.stage,
                "reason": d.reason,
                "error": d.error,
                "replayed": d.replayed,
            }
            for d in letters
        ]

    @app.post("/v1/dlq/replay", tags=["operations"], responses={400: UNKNOWN_TOPIC, 403: NOT_OPERATOR})
    async def replay(_: Annotated[Principal, Depends(operator)], topic: DLQ_TOPIC = None) -> dict[str, int]:
        """Send dead letters not yet replayed back to their source topic, byte for byte."""
        sent = await asyncio.to_thread(ops.replay, ports.bootstrap, await serving(), dlq_spec(topic))
        return {"replayed": len(sent)}

    @app.get("/v1/feedback/candidates", tags=["operations"], responses={403: NOT_OPERATOR})
    async def feedback_candidates(
        principal: Annotated[Principal, Depends(operator)],
        tenant: Annotated[
            str | None, Query(description="This tenant's questions (default: the token's); `*`: all.")
        ] = None,
    ) -> dict[str, Any]:
        """Users' rated answers as golden-set candidates for review (`ragstream eval --from-feedback`):
        the token's tenant's unless another (or `*`) is asked for explicitly."""
        from services.common.codec import make_codec
        from services.eval import feedback

        codec = make_codec(ports.settings.kafka.schema_registry_url)
        records, unreadable = await asyncio.to_thread(feedback.read, ports.bootstrap, ports.names, codec)
        wanted = tenant or principal.tenant
        found = feedback.candidates(records, None if wanted == "*" else wanted)
        return {"ratings": len(records), "unreadable": unreadable, "candidates": found}

    return app

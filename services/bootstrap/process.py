"""Any subset of the roles in ``services.roles`` started in this process, on the adapters
``services.bootstrap.adapters`` chooses from settings.

``ragstream worker ROLE...`` calls ``run_roles`` against an external Kafka, which is how compose and
Helm deploy each role as its own scalable process. A process opens only the ports its roles need:
with the embedded vector engine (qdrant-edge, one owner process per shard) every role that needs
``vectors`` must share one process; with a Qdrant server they separate.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from services import roles
from services.bootstrap.adapters import blob_store, embedder_for, graph_store, vector_index
from services.bootstrap.agent import agent_runtime
from services.bootstrap.gateway import start_gateway
from services.catchup import Generations, collection_of, generation_names, group_suffix
from services.common import kafka_conf
from services.common.settings import Settings
from services.pipeline import Pipeline, run_pipeline
from topics import TopicNames

log = structlog.get_logger("ragstream.bootstrap")


@dataclass
class Running:
    """What ``run_roles`` started: the roles, the pipelines of its stages, its gateway's URL."""

    roles: tuple[roles.Role, ...]
    pipelines: list[Pipeline] = field(default_factory=list)
    gateway_url: str | None = None
    ports: dict[str, Any] = field(default_factory=dict)
    http_app: Any = None  # the public API (FastAPI) when the api role runs here


@contextlib.asynccontextmanager
async def run_roles(
    settings: Settings,
    requested: list[str] | tuple[str, ...],
    bootstrap: str,
    names: TopicNames | None = None,
    opened: dict[str, Any] | None = None,
) -> AsyncIterator[Running]:
    """Run the requested roles in this process against the Kafka at ``bootstrap`` until exit.
    ``opened``: ports the caller already holds (``embedder``, ``vectors``, ``graph``), shared, not
    closed here (the embedded vector engine admits one owner per process)."""
    chosen = roles.resolve(requested)
    names = names or TopicNames(settings.kafka.topic_prefix)
    kafka_conf.use(settings.kafka)
    running = Running(chosen)

    def needed(port: roles.Port) -> bool:
        return any(r.needs(port) for r in chosen)

    async with contextlib.AsyncExitStack() as stack:
        ports: dict[str, Any] = dict(opened or {})
        if needed("embedder") and "embedder" not in ports:
            ports["embedder"] = embedder_for(settings)
            stack.push_async_callback(ports["embedder"].close)
        if needed("vectors") and "vectors" not in ports:
            ports["vectors"] = vector_index(settings)
            stack.push_async_callback(ports["vectors"].close)
        if needed("graph") and "graph" not in ports:
            ports["graph"] = await stack.enter_async_context(graph_store(settings))
        running.ports = ports
        front = [r.name for r in chosen if r.kind == "stage" and not r.generation]
        generation = [r.name for r in chosen if r.kind == "stage" and r.generation]
        if front:
            running.pipelines.append(
                await stack.enter_async_context(
                    run_pipeline(settings, front, bootstrap=bootstrap, names=names, **ports)
                )
            )
        if generation:  # the generation of settings.generation: its own topics, groups, collection
            label = settings.generation
            target = collection_of(settings.stores.collection_alias, label) if label else None
            generation_pipeline = run_pipeline(
                settings,
                generation,
                bootstrap=bootstrap,
                names=generation_names(names, label),
                target_collection=target,
                group_suffix=group_suffix(label),
                **ports,
            )
            running.pipelines.append(await stack.enter_async_context(generation_pipeline))
        nodes = [r.name for r in chosen if r.kind == "agent"]
        if nodes:
            from services.agent.workers import run_agent_workers

            deps, cache = await agent_runtime(
                settings, names, stack, ports.get("embedder"), ports.get("vectors"), ports.get("graph")
            )
            await stack.enter_async_context(
                run_agent_workers(settings, bootstrap, names, deps, which=nodes, cache=cache)
            )
        if "gateway" in {r.name for r in chosen}:
            running.gateway_url = await start_gateway(settings, stack, bootstrap, names)
        if "api" in {r.name for r in chosen}:
            gateway_url = running.gateway_url or settings.gateway.public_url
            running.http_app = await _api(settings, stack, bootstrap, names, ports, gateway_url)
        log.info("roles running", roles=[r.name for r in chosen], bootstrap=bootstrap)
        yield running


async def _api(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    bootstrap: str,
    names: TopicNames,
    ports: dict[str, Any],
    gateway_url: str | None,
) -> Any:
    from services.admin import api_ports, query_extras
    from services.api import build_api
    from services.common.codec import make_codec

    alias = settings.stores.collection_alias
    extras = query_extras(ports["embedder"], ports["vectors"], ports["graph"], alias)
    extras["generations"] = Generations(bootstrap, names, ports["vectors"], alias)
    codec = make_codec(settings.kafka.schema_registry_url)
    api = await stack.enter_async_context(
        api_ports(
            settings, bootstrap, names, blob_store(settings), codec, gateway_url=gateway_url, **extras
        )
    )  # fmt: skip
    return build_api(api)

"""The composition root: adapters chosen from settings, typed by their ports, and any subset of
the roles in ``services.roles`` started in this process.

``ragstream up`` runs every role here with the embedded infrastructure (``services.generations``);
``ragstream worker ROLE...`` calls ``run_roles`` against an external Kafka, which is how compose and
Helm deploy each role as its own scalable process. A process opens only the ports its roles need:
with the embedded vector engine (qdrant-edge, one owner process per shard) every role that needs
``vectors`` must share one process; with a Qdrant server they separate.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import structlog

from services import roles
from services.agent.graph import AgentDeps
from services.catchup import Generations, collection_of, generation_names, group_suffix
from services.common import kafka_conf
from services.common.settings import Settings
from services.models.embedder import Embedder
from services.pipeline import (
    Pipeline,
    blob_store,
    embedder_for,
    graph_store,
    run_pipeline,
    vector_index,
)
from services.stores.cache import SemanticCache
from services.stores.ports import GraphStore, VectorIndex
from topics import TopicNames

log = structlog.get_logger("ragstream.bootstrap")


class NotOpened:
    """Stands in for a port this process's roles do not need: any use is a wiring bug, said plainly."""

    def __init__(self, port: str) -> None:
        self._port = port

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            f"the {self._port!r} port is not opened in this process (its roles do not need it)"
        )


async def agent_runtime(
    settings: Settings,
    names: TopicNames,
    stack: contextlib.AsyncExitStack,
    embedder: Embedder | None,
    vectors: VectorIndex | None,
    graph: GraphStore | None,
) -> tuple[AgentDeps, SemanticCache | None]:
    """The agent's dependencies from settings: chat memory, the answer cache (scoped by this
    deployment's id), the LLM, the reranker and web search, closed with ``stack``."""
    from services.agent.wiring import agent_deps
    from services.models.llm import chat_model_from
    from services.models.reranker import reranker_from_settings
    from services.stores.memory import ChatMemory, PostgresChatMemory, SqliteChatMemory

    memory: ChatMemory
    if settings.stores.postgres_dsn:
        memory = await PostgresChatMemory.connect(settings.stores.postgres_dsn.get_secret_value())
    else:
        memory = SqliteChatMemory(settings.data_dir / "chat" / "memory.sqlite")
    stack.push_async_callback(memory.close)
    cache = None
    if settings.cache_answers and vectors is not None:
        redis = settings.redis()
        stack.push_async_callback(redis.aclose)
        cache = SemanticCache(redis, prefix=f"ragstream:{settings.deployment()}:{names.prefix}")
    llm = chat_model_from(settings.models)
    if llm is not None:
        stack.push_async_callback(llm.close)
    reranker = reranker_from_settings(settings.models, embedder) if embedder is not None else None
    if reranker is not None:
        stack.push_async_callback(reranker.close)
    web_search = None
    if settings.tools.web_search_url:
        from services.tool.web import WebSearch

        web_search = WebSearch(settings.tools.web_search_url, settings.tools.web_search_results)
        stack.push_async_callback(web_search.close)
    deps = agent_deps(
        embedder or cast(Embedder, NotOpened("embedder")),
        vectors or cast(VectorIndex, NotOpened("vectors")),
        graph or cast(GraphStore, NotOpened("graph")),
        settings.stores.collection_alias,
        memory,
        cache,
        reranker=reranker,
        llm=llm,
        web_search=web_search,
        hyde=settings.models.llm_hyde,
        max_tokens=settings.models.llm_max_tokens,
    )
    return deps, cache


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
            running.gateway_url = await _start_gateway(settings, stack, bootstrap, names)
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


def gateway_config(settings: Settings) -> Any:
    """The gateway's configuration from settings: the cluster's partitions and replication factor
    for the topics it creates, a Redis prefix of this deployment, and a stable instance id (its
    reply topic's name) so a restarted gateway reuses its topic instead of leaking a new one."""
    import re
    import socket

    from services.gateway import GatewayConfig

    gw, kafka = settings.gateway, settings.kafka
    overrides: dict[str, Any] = {
        "request_partitions": kafka.partitions,
        "replication_factor": kafka.replication_factor,
        "redis_prefix": f"ragstream:{settings.deployment()}:gw:",
    }
    instance = gw.instance_id or (f"{socket.gethostname()}-{gw.port}" if gw.port else None)
    if instance:
        overrides["gateway_id"] = re.sub(r"[^A-Za-z0-9_-]", "-", instance)[:100]
    return GatewayConfig.from_settings(gw, **overrides)


async def _start_gateway(
    settings: Settings, stack: contextlib.AsyncExitStack, bootstrap: str, names: TopicNames
) -> str:
    from services.common.codec import make_codec
    from services.gateway import Gateway

    redis = settings.redis()
    stack.push_async_callback(redis.aclose)
    gateway = Gateway(
        bootstrap,
        names,
        settings.gateway_secret(),
        redis,
        config=gateway_config(settings),
        codec=make_codec(settings.kafka.schema_registry_url),
    )
    await gateway.start()
    stack.push_async_callback(gateway.stop)
    return gateway.url

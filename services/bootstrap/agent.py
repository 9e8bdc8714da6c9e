"""The chat agent's dependencies from settings: chat memory, the answer cache (scoped by this
deployment's id), the LLM, the reranker and web search, over the ports the process opened."""

from __future__ import annotations

import contextlib
from typing import Any, cast

from services.agent.graph import AgentDeps
from services.common.settings import Settings
from services.models.embedder import Embedder
from services.stores.cache import SemanticCache
from services.stores.ports import GraphStore, VectorIndex
from topics import TopicNames


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
        score_sentences=embedder is not None,
    )
    return deps, cache

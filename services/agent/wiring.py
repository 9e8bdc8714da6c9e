"""The agent's dependencies from the platform's ports: hybrid search + graph facts for retrieve, the
calculator and the sandbox for tool, the rule extractor to find entities for query rewriting."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import structlog
from redis.exceptions import RedisError

from services.agent.answer import SentenceAnswerer, lexical_answer
from services.agent.followup import Referent, referents
from services.agent.graph import AgentDeps, RetrievedContext, build_graph
from services.agent.sentences import proper_names
from services.common.messages import AgentState, ChatTurn, Citation, Passage
from services.extract_graph.extractor import RuleExtractor
from services.models.embedder import Embedder
from services.models.http import ModelUnavailable
from services.models.llm import ChatModel
from services.models.reranker import Reranker
from services.retrieve.search import graph_facts, search
from services.stores.cache import CachedAnswer, SemanticCache, collection_in
from services.stores.hybrid import keywords
from services.stores.memory import ChatMemory
from services.stores.ports import GraphStore, VectorIndex

log = structlog.get_logger("ragstream.agent")


class AnswerCache:
    """The semantic cache as the agent sees it: scoped to the tenant and to the index version the
    alias currently serves, and served only while every chunk the answer cites is still indexed
    (the epoch bump on ``docs.indexed`` is asynchronous: this closes the window before it lands).
    The plan step reads the ``version`` once, looks up under it and carries it in the state; respond
    stores under that same version, so an answer computed while the content changed is never read."""

    def __init__(self, cache: SemanticCache, embedder: Embedder, vectors: VectorIndex, alias: str) -> None:
        self.cache = cache
        self.embedder = embedder
        self.vectors = vectors
        self.alias = alias

    async def version(self, tenant: str) -> str:
        """The version to look up and store under; "" (no caching) while Redis is out."""
        try:
            return await self.cache.version(tenant, await self.vectors.resolve(self.alias))
        except RedisError as exc:  # the cache is an optimisation: a miss, never a failed answer
            log.warning("answer cache unavailable", error=str(exc))
            return ""

    async def _vector(self, query: str) -> list[float]:
        [vector] = await self.embedder.embed([query], interactive=True)
        return vector

    async def _live(self, tenant: str, citations: list[dict[str, Any]]) -> bool:
        for citation in citations:
            must = {"tenant": tenant, "chunk_id": str(citation.get("chunk_id", ""))}
            if await self.vectors.count(self.alias, must) == 0:
                return False
        return True

    async def lookup(self, tenant: str, version: str, query: str) -> CachedAnswer | None:
        try:
            hit = await self.cache.get(tenant, version, query, await self._vector(query))
            if hit is not None and not await self._live(tenant, hit.citations):
                await self.cache.forget(tenant, version, hit.question)
                return None
            return None if hit is None else dataclasses.replace(hit, index_version=collection_in(version))
        except RedisError as exc:
            log.warning("answer cache unavailable", error=str(exc))
            return None

    async def store(
        self, tenant: str, version: str, query: str, answer: str, citations: list[dict[str, Any]]
    ) -> None:
        try:
            await self.cache.put(tenant, version, await self._vector(query), query, answer, citations)
        except RedisError as exc:
            log.warning("answer cache unavailable", error=str(exc))


def person_test(extractor: RuleExtractor) -> Callable[[str], bool]:
    """Whether a text names a person: one the entity extractor knows, or a proper name it does not
    take for an organisation or a place (its name lists cannot know every person: "Orla Brennan")."""

    from services.extract_graph import gazetteer as gz

    not_people = gz.ORG_SUFFIXES | gz.ORG_HEADS | gz.NON_PERSON_LAST | gz.PLACE_SUFFIXES

    # The same passages come back for many questions, and a "who" question tests every sentence of
    # them: the answers are remembered (the extractor's pass was 2% of a 500-chat burst's samples).
    @functools.lru_cache(maxsize=8192)
    def names_a_person(text: str) -> bool:
        entities = extractor.extract(text).entities
        if any(e.label == "Person" for e in entities):
            return True
        others = " ".join(e.name for e in entities)
        return any(
            name not in others
            and name.split()[-1] not in not_people
            and not re.search(re.escape(name) + r"\s+(?:team|group|department|office)\b", text, re.I)
            for name in proper_names(text)
        )

    return names_a_person


def referent_finder(extractor: RuleExtractor) -> Callable[[str], list[Referent]]:
    """What a text names that a pronoun may stand for: the extractor's entities, and proper names its
    lists do not know, a person when ``person_test`` takes them for one ("Orla Brennan")."""
    is_person = person_test(extractor)

    def referents_in(text: str) -> list[Referent]:
        named = [(e.name, e.label == "Person") for e in extractor.extract(text).entities]
        known = " ".join(name for name, _ in named)
        named += [(name, is_person(name)) for name in proper_names(text) if name not in known]
        return referents(text, named)

    return referents_in


def agent_deps(
    embedder: Embedder,
    vectors: VectorIndex,
    graph: GraphStore,
    alias: str,
    memory: ChatMemory | None = None,
    cache: SemanticCache | None = None,
    reranker: Reranker | None = None,
    llm: ChatModel | None = None,
    web_search: Callable[[str], Awaitable[list[str]]] | None = None,
    hyde: bool = False,
    max_tokens: int = 384,
    score_sentences: bool = True,
) -> AgentDeps:
    from services.tool.calculator import evaluate
    from services.tool.expression import extract_expression
    from services.tool.sandbox import run_python

    extractor = RuleExtractor()

    async def retrieve(query: str, tenant: str, limit: int) -> RetrievedContext:
        # The graph facts go into the LLM's prompt only: without an LLM they are not read.
        found = await search(
            query, tenant, embedder, vectors, graph, alias, limit, reranker=reranker, facts=llm is not None
        )
        passages = [
            Passage(
                chunk_id=c.chunk_id,
                doc_id=c.doc_id,
                title=c.title,
                source_uri=c.source_uri,
                page=c.page,
                section=c.section,
                text=c.text,
                score=float(c.score),
            )
            for c in found.chunks
        ]
        facts = [f"{r['source']} —{r['type']}→ {r['target']}" for r in found.relations]
        return RetrievedContext(passages, facts, found.collection or "")

    async def graph_search(text: str, tenant: str) -> list[str]:
        """Facts around the entities named in ``text`` (or, failing that, the name itself), 2 hops."""
        entities = await graph.find_entities(tenant, text, limit=5)
        found = await graph_facts(tenant, entities, graph, hops=2)
        return [f"{r['source']} —{r['type']}→ {r['target']}" for r in found]

    async def vector_search(query: str, tenant: str) -> list[str]:
        found = await search(
            query, tenant, embedder, vectors, graph, alias, 5, reranker=reranker, facts=False
        )
        lines = []
        for c in found.chunks:
            where = f"{c.title}" + (f", page {c.page}" if c.page else "")
            lines.append(f"{where}: {' '.join(c.text.split())[:140]}")
        return lines

    scorer = SentenceAnswerer(
        lambda texts: embedder.embed(texts, interactive=True), keywords, person=person_test(extractor)
    )

    async def answer(query: str, passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
        """Sentences scored with the embedder; by word overlap alone while the embedder is out."""
        try:
            return await scorer(query, passages)
        except ModelUnavailable as exc:
            log.warning("embedder unavailable: answering by word overlap", error=str(exc))
            return lexical_answer(query, passages)

    async def next_hop(query: str, passages: Sequence[Passage]) -> str | None:
        try:
            return await scorer.next_hop(query, passages)
        except ModelUnavailable:
            return None  # one search, answered by word overlap

    return AgentDeps(
        memory=memory,
        cache=AnswerCache(cache, embedder, vectors, alias) if cache is not None else None,
        retrieve=retrieve,
        calculate=evaluate,
        run_code=run_python,
        extract_expression=extract_expression,
        referents=referent_finder(extractor),
        llm=llm,
        graph_search=graph_search,
        vector_search=vector_search,
        web_search=web_search,
        hyde=hyde,
        max_tokens=max_tokens,
        answer=answer if score_sentences else None,
        next_hop=next_hop if score_sentences else None,
    )


def new_state(
    request_id: str,
    tenant: str,
    question: str,
    history: Sequence[tuple[str, str]] = (),
    user: str = "",
    session_id: str = "",
) -> AgentState:
    return AgentState(
        request_id=request_id,
        tenant=tenant,
        user=user,
        session_id=session_id,
        question=question,
        history=[ChatTurn(role=r, content=c) for r, c in history],
    )


async def ask_inprocess(graph: Any, state: AgentState) -> AsyncIterator[dict[str, Any]]:
    """Run the graph in this process, yielding its events (status, token, citations) and finally
    ``{"type": "final", "state": AgentState}``."""
    final: dict[str, Any] | None = None
    async for mode, chunk in graph.astream(state, stream_mode=["custom", "values"]):
        if mode == "custom":
            yield chunk
        else:
            final = chunk
    yield {"type": "final", "state": AgentState.model_validate(final)}


def compile_agent(embedder: Embedder, vectors: VectorIndex, graph: GraphStore, alias: str) -> Any:
    return build_graph(agent_deps(embedder, vectors, graph, alias))


__all__ = ["agent_deps", "ask_inprocess", "compile_agent", "new_state"]

"""Every role of the platform, declared once.

A role is a unit of deployment: one process (or one Kubernetes Deployment, one compose service)
can run one role or several. Each knows the topics it consumes and produces and the ports it
needs, so the embedded stack (``ragstream up``: every role in one process) and the workers
(``ragstream worker ROLE...``: any subset against an external Kafka) are built from the same list,
and so are the pipeline's stage order, an index generation's stages, the backlog rows and the
deployment manifests' tests. Nothing else writes a list of role names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import topics
from topics import TopicSpec

Kind = Literal["stage", "agent", "edge"]
# The ports a role's process must open (services/stores/ports.py, services/models/*):
# ``cache`` is the answer cache, which scopes entries by the index version the vector alias serves,
# so it needs ``vectors`` and ``embedder`` too (see ``needs``).
Port = Literal[
    "blobs", "embedder", "extractor", "vectors", "graph", "ledger", "memory", "cache", "llm",
    "reranker", "web", "redis", "secret",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    kind: Kind
    consumes: tuple[TopicSpec, ...]
    produces: tuple[TopicSpec, ...]
    ports: frozenset[Port]
    description: str
    generation: bool = False  # re-run by a reindex: its groups, topics and collection are per generation

    def needs(self, port: Port) -> bool:
        implied: frozenset[Port] = (
            frozenset({"vectors", "embedder"}) if "cache" in self.ports else frozenset()
        )
        return port in self.ports | implied


def _role(
    name: str,
    kind: Kind,
    consumes: tuple[TopicSpec, ...],
    produces: tuple[TopicSpec, ...],
    ports: set[Port],
    description: str,
    generation: bool = False,
) -> Role:
    return Role(name, kind, consumes, produces, frozenset(ports), description, generation)


REPLIES = (topics.CHAT_REPLIES,)
ROLES: tuple[Role, ...] = (
    _role("parse", "stage", (topics.INGEST,), (topics.PARSED,), {"blobs"}, "documents → text sections"),
    _role("chunk", "stage", (topics.PARSED,), (topics.CHUNKS,), {"blobs"}, "sections → token chunks"),
    _role("embed", "stage", (topics.CHUNKS,), (topics.EMBEDDED,), {"embedder"}, "chunks → vectors", True),
    _role(
        "extract-graph",
        "stage",
        (topics.CHUNKS,),
        (topics.GRAPH,),
        {"extractor"},
        "chunks → entities and relations",
        True,
    ),
    _role(
        "index",
        "stage",
        (topics.EMBEDDED, topics.GRAPH),
        (topics.INDEXED,),
        {"vectors", "graph", "ledger"},
        "vectors and facts → Qdrant and the graph; announces queryable documents",
        True,
    ),
    _role(
        "plan",
        "agent",
        (topics.CHAT_REQUESTS,),
        (topics.AGENT_RETRIEVE, topics.AGENT_TOOL, topics.AGENT_RESPOND, *REPLIES),
        {"memory", "cache", "llm"},
        "decides the route (retrieve, tool, direct); serves cached answers",
    ),
    _role(
        "retrieve",
        "agent",
        (topics.AGENT_RETRIEVE,),
        (topics.AGENT_RESPOND, *REPLIES),
        {"embedder", "vectors", "graph", "reranker", "llm"},
        "hybrid vector search + graph facts, fused and reranked",
    ),
    _role(
        "tool",
        "agent",
        (topics.AGENT_TOOL,),
        (topics.AGENT_RESPOND, *REPLIES),
        {"embedder", "vectors", "graph", "web"},
        "calculator, sandboxed code, graph, vector and web search",
    ),
    _role(
        "respond",
        "agent",
        (topics.AGENT_RESPOND,),
        REPLIES,
        {"memory", "cache", "llm"},
        "streams the cited answer to the asking gateway",
    ),
    _role(
        "gateway",
        "edge",
        REPLIES,
        (topics.CHAT_REQUESTS,),
        {"redis", "secret"},
        "websocket chat: JWT, rate limits, reply routing per instance",
    ),
    # Watches docs.indexed and the dead letters without a consumer group (to answer uploads that
    # wait); searches, so it needs the vector port.
    _role(
        "api",
        "edge",
        (),
        (topics.INGEST,),
        {"blobs", "secret", "embedder", "vectors", "graph"},
        "HTTP API: uploads, deletes, search, status, dead letters (OpenAPI at /docs)",
    ),
)
BY_NAME: dict[str, Role] = {r.name: r for r in ROLES}


def names(kind: Kind | None = None, generation: bool | None = None) -> tuple[str, ...]:
    """Role names in pipeline order, optionally of one kind and in (or out of) an index generation."""
    return tuple(
        r.name
        for r in ROLES
        if (kind is None or r.kind == kind) and (generation is None or r.generation == generation)
    )


STAGES = names("stage")
FRONT_STAGES = names("stage", generation=False)
GENERATION_STAGES = names("stage", generation=True)
AGENT_NODES = names("agent")


def resolve(requested: list[str] | tuple[str, ...]) -> tuple[Role, ...]:
    """The roles named (``all`` for every one), in declaration order; unknown names raise with the list."""
    wanted = set(names()) if "all" in requested else set(requested)
    unknown = wanted - set(BY_NAME)
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(sorted(unknown))}; choose from {', '.join(names())}")
    return tuple(r for r in ROLES if r.name in wanted)

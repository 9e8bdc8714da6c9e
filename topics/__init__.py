"""The topic registry: every Kafka topic the platform uses, with its key, value schema and DLQ.

Services never write topic-name strings; they take a ``TopicSpec`` from here and resolve its name
through ``TopicNames`` (which adds an optional prefix, so tests and parallel stacks stay apart).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.messages import (
    AgentState,
    AnswerFeedback,
    AvroRecord,
    ChunkCreated,
    ChunkEmbedded,
    DocumentIndexed,
    DocumentParsed,
    DocumentSubmitted,
    GraphExtracted,
    ReplyEvent,
)

DLQ_SUFFIX = ".dlq"
# Topic configs that must hold on any broker. The replay source of a reindex and the dead letters
# an operator replays are kept while their documents live: time and size retention are off. Not
# compaction: every chunk of a document shares its key, and compaction keeps one record per key.
# (Tansu enforces neither; Apache Kafka, MSK and Strimzi do.)
KEEP_FOREVER: tuple[tuple[str, str], ...] = (("retention.ms", "-1"), ("retention.bytes", "-1"))
# The chat path's topics carry one conversation step per record, read within seconds (a resumed
# answer within GatewaySettings.retention_s): an hour is plenty. On the embedded durable broker this
# also keeps every fetch fast (services/common/tansu_retention.py).
EPHEMERAL: tuple[tuple[str, str], ...] = (("retention.ms", str(3600 * 1000)),)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    value: type[AvroRecord]
    key: str
    description: str
    dlq: bool = True
    config: tuple[tuple[str, str], ...] = ()  # topic configs set at creation and kept by ensure_topics


INGEST = TopicSpec("docs.ingest", DocumentSubmitted, "doc_id", "documents to index or delete (claim check)")
PARSED = TopicSpec("docs.parsed", DocumentParsed, "doc_id", "parsed documents (sections in the blob store)")
CHUNKS = TopicSpec(
    "docs.chunks",
    ChunkCreated,
    "doc_id",
    "token-sized chunks; the replay source of a reindex (kept forever)",
    config=KEEP_FOREVER,
)
EMBEDDED = TopicSpec("docs.embedded", ChunkEmbedded, "doc_id", "chunks with their vectors")
GRAPH = TopicSpec("docs.graph", GraphExtracted, "doc_id", "entities and relations per chunk")
INDEXED = TopicSpec("docs.indexed", DocumentIndexed, "doc_id", "a document version is queryable", dlq=False)

INGESTION: tuple[TopicSpec, ...] = (INGEST, PARSED, CHUNKS, EMBEDDED, GRAPH, INDEXED)

# The chat agent: the state travels from node to node; replies go to the asking gateway's own topic.
CHAT_REQUESTS = TopicSpec(
    "chat.requests",
    AgentState,
    "request_id",
    "questions from gateways (to plan)",
    config=EPHEMERAL,
)
AGENT_RETRIEVE = TopicSpec(
    "agent.retrieve",
    AgentState,
    "request_id",
    "agent state for the retrieve step",
    config=EPHEMERAL,
)
AGENT_TOOL = TopicSpec(
    "agent.tool",
    AgentState,
    "request_id",
    "agent state for the tool step",
    config=EPHEMERAL,
)
AGENT_RESPOND = TopicSpec(
    "agent.respond",
    AgentState,
    "request_id",
    "agent state for the respond step",
    config=EPHEMERAL,
)
CHAT_REPLIES = TopicSpec(
    "chat.replies",
    ReplyEvent,
    "request_id",
    "answer events; one topic per gateway: chat.replies.<id>",
    dlq=False,
    config=EPHEMERAL,
)
CHAT: tuple[TopicSpec, ...] = (CHAT_REQUESTS, AGENT_RETRIEVE, AGENT_TOOL, AGENT_RESPOND)
# Which topic feeds each agent node (the graph's node names).
NODE_TOPICS: dict[str, TopicSpec] = {
    "plan": CHAT_REQUESTS,
    "retrieve": AGENT_RETRIEVE,
    "tool": AGENT_TOOL,
    "respond": AGENT_RESPOND,
}

# Users' ratings of answers: the raw material of new golden-set questions (`eval --from-feedback`).
FEEDBACK = TopicSpec(
    "chat.feedback",
    AnswerFeedback,
    "request_id",
    "thumbs up/down on answers, with the question, answer and citations (kept forever)",
    dlq=False,
    config=KEEP_FOREVER,
)

ALL: tuple[TopicSpec, ...] = INGESTION + CHAT + (FEEDBACK,)


def by_name(name: str) -> TopicSpec:
    for spec in ALL:
        if spec.name == name:
            return spec
    raise KeyError(f"no topic {name!r} in the registry; known: {', '.join(s.name for s in ALL)}")


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Resolves registry entries to the names on the broker.

    ``prefix`` keeps parallel stacks apart. A reindex generation gets its own prefix for its private
    topics while the ``shared`` ones (the chunk topic it replays, the indexed topic publishers
    watch) keep the live prefix ``base``.
    """

    prefix: str = ""
    base: str = ""
    shared: frozenset[str] = frozenset()

    def __call__(self, spec: TopicSpec) -> str:
        return (self.base if spec.name in self.shared else self.prefix) + spec.name

    def dlq(self, spec: TopicSpec) -> str:
        return self(spec) + DLQ_SUFFIX

    def generation(self, label: str, shared: tuple[TopicSpec, ...]) -> TopicNames:
        """Names for an index generation: private topics under ``<prefix><label>.``."""
        return TopicNames(f"{self.prefix}{label}.", self.prefix, frozenset(s.name for s in shared))

    def replies(self, gateway_id: str) -> str:
        """The reply topic of one gateway instance."""
        return f"{self.prefix}{CHAT_REPLIES.name}.{gateway_id}"

    def all_names(self, specs: tuple[TopicSpec, ...] = ALL) -> list[str]:
        return list(self.configs(specs))

    def configs(self, specs: tuple[TopicSpec, ...] = ALL) -> dict[str, dict[str, str]]:
        """Every topic of ``specs`` and its DLQ, with the configs each must have (DLQs: kept forever)."""
        found: dict[str, dict[str, str]] = {}
        for spec in specs:
            found[self(spec)] = dict(spec.config)
            if spec.dlq:
                found[self.dlq(spec)] = dict(KEEP_FOREVER)
        return found

    def spec_of(self, broker_name: str) -> TopicSpec:
        """The registry entry behind a broker topic name (a DLQ name gives its source topic)."""
        bare = broker_name.removesuffix(DLQ_SUFFIX)
        for spec in ALL:
            if self(spec) == bare:
                return spec
        raise KeyError(f"{broker_name!r} is not a topic of this stack (prefix {self.prefix!r})")

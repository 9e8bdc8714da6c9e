"""Typed messages, GENERATED from schemas/*.avsc by `python -m schemas.codegen`. Do not edit."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AvroRecord(BaseModel):
    """Base of every generated record; ``avro_name()`` names its schema."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def avro_name(cls) -> str:
        # A method, not a ClassVar: LangGraph reads class annotations as state channels.
        return "ragstream." + cls.__name__


Operation = Literal["UPSERT", "DELETE"]


class ChatTurn(AvroRecord):
    "Avro record ragstream.ChatTurn."

    role: str
    content: str


PlanAction = Literal["RETRIEVE", "TOOL", "DIRECT"]


class Passage(AvroRecord):
    "Avro record ragstream.Passage."

    chunk_id: str
    doc_id: str
    title: str
    source_uri: str
    page: int | None = None
    section: str | None = None
    text: str
    score: float


class AgentState(AvroRecord):
    "The chat agent's state: the LangGraph state in-process, and the record that travels on chat.requests and agent.* between the plan, retrieve, tool and respond workers."

    request_id: str
    tenant: str
    user: str = ""
    session_id: str = ""
    question: str
    history: list[ChatTurn] = Field(default_factory=list)
    query: str = ""
    action: PlanAction | None = None
    tool: str | None = None
    tool_input: str | None = None
    tool_output: str | None = None
    tool_error: str | None = None
    passages: list[Passage] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)
    answer: str = ""
    citations: list[Citation] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    reply_to: str = ""
    seq: int = 0
    cached: bool = False
    index_version: str = ""
    cache_version: str = ""


Rating = Literal["UP", "DOWN"]


class AnswerFeedback(AvroRecord):
    "A user's rating of one answer, on the feedback topic, keyed by request_id. The gateway fills in the question, answer, citations and index version from the request it streamed, so a rating stands on its own: `ragstream eval --from-feedback` turns rated answers into golden-set candidates. A user who rates again sends a new feedback_id; the latest given_at wins."

    feedback_id: str
    request_id: str
    tenant: str
    user: str
    session_id: str = ""
    rating: Rating
    comment: str = ""
    question: str
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    index_version: str = ""
    gateway_id: str = ""
    given_at: datetime


class ChunkCreated(AvroRecord):
    "One chunk of one document version on docs.chunks, keyed by doc_id. A DELETE carries no text and chunk_count 0: it travels the same topics so it stays ordered after the document's upserts."

    tenant: str
    doc_id: str
    version: str
    operation: Operation
    chunk_id: str
    ordinal: int
    chunk_count: int
    text: str
    text_sha256: str
    token_count: int = 0
    page: int | None = None
    section: str | None = None
    source_uri: str
    filename: str
    title: str = ""
    content_type: str = ""
    submitted_at: datetime


class ChunkEmbedded(AvroRecord):
    "A chunk with its vector on docs.embedded. model and dim are recorded so an index version knows what it holds."

    chunk: ChunkCreated
    vector: list[float]
    model: str
    dim: int


class Citation(AvroRecord):
    "A numbered source of an answer: [n] in the text maps to this document, page and chunk."

    n: int
    chunk_id: str
    doc_id: str
    title: str
    source_uri: str
    page: int | None = None


class DocumentIndexed(AvroRecord):
    "A document version is fully queryable (or fully removed, for a DELETE), on docs.indexed. May arrive more than once: consumers treat it as idempotent."

    tenant: str
    doc_id: str
    version: str
    operation: Operation
    source_uri: str
    title: str = ""
    chunk_count: int
    collection: str
    indexed_at: datetime


class DocumentParsed(AvroRecord):
    "A parsed document on docs.parsed. The sections (text, page, title) are a JSON blob in the blob store; version is the sha256 of the source bytes."

    tenant: str
    doc_id: str
    version: str
    operation: Operation
    source_uri: str
    filename: str
    title: str = ""
    content_type: str = ""
    sections_uri: str | None = None
    page_count: int | None = None
    section_count: int = 0
    char_count: int = 0
    submitted_at: datetime


class DocumentSubmitted(AvroRecord):
    "A document to (re)index or delete, on docs.ingest, keyed by doc_id. The bytes stay in the blob store (claim check); this record carries their URI and sha256."

    tenant: str
    doc_id: str
    source_uri: str
    filename: str
    operation: Operation = "UPSERT"
    blob_uri: str | None = None
    sha256: str | None = None
    size_bytes: int = 0
    content_type: str | None = None
    submitted_at: datetime
    attributes: dict[str, str] = Field(default_factory=dict)


EntityLabel = Literal["Person", "Organization", "Location", "Concept", "Product"]


class EntityMention(AvroRecord):
    "Avro record ragstream.EntityMention."

    name: str
    label: EntityLabel


RelationType = Literal["WORKS_FOR", "LOCATED_IN", "RELATES_TO", "PART_OF"]


class RelationMention(AvroRecord):
    "Avro record ragstream.RelationMention."

    source: EntityMention
    type: RelationType
    target: EntityMention


class GraphExtracted(AvroRecord):
    "Entities and relations one chunk states, on docs.graph, restricted to the declared labels and relation types."

    chunk: ChunkCreated
    entities: list[EntityMention]
    relations: list[RelationMention]
    extractor: str


ReplyType = Literal["STATUS", "TOKEN", "CITATIONS", "FINAL", "ERROR"]


class ReplyEvent(AvroRecord):
    "One event of an answer, on the reply topic of the gateway that holds the socket, keyed by request_id (so a request's events stay in order). seq numbers them from 0 so a client can resume after a reconnect."

    request_id: str
    seq: int
    type: ReplyType
    step: str | None = None
    text: str = ""
    citations: list[Citation] = Field(default_factory=list)
    emitted_at: datetime
    code: str | None = None
    index_version: str | None = None

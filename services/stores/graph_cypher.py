"""The knowledge graph's model and Cypher, shared by the FalkorDB and Neo4j adapters.

Model::

    (:Chunk {tenant, id, version, doc_id})
    (:Entity:<Label> {tenant, key, norm, name, label})      key = label + ':' + norm
    (:Chunk)-[:MENTIONS]->(:Entity)
    (:Entity)-[:<RELATION_TYPE> {doc_id, version}]->(:Entity)

Chunks are MERGEd on (tenant, id, version), so a new version of a document never reuses the old
version's chunk nodes even when chunk ids are version-independent. Relation edges are MERGEd per
(source, type, target, doc_id): two documents stating one fact hold two edges, so pruning one
document keeps the other's. Labels and relation types cannot be Cypher parameters, so they are
checked against the allowed sets of ``ports`` before being placed in the text; every other value
travels as a parameter. Nothing here builds Cypher from free text. This module holds the model's
checks and the writes; ``graph_reads`` the reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from services.stores.ports import (
    ENTITY_LABELS,
    RELATION_TYPES,
    ChunkFacts,
    Entity,
    EntityLabel,
    RelationType,
)

# Rows per UNWIND statement: big enough to amortise round trips, small enough that FalkorDB's
# textual parameter header (the client renders params into the query string) stays modest.
BATCH_ROWS: Final = 2000


@dataclass(frozen=True, slots=True)
class Statement:
    """One parameterised Cypher statement."""

    cypher: str
    params: Mapping[str, Any]


# --------------------------------------------------------------------------- validation & keys


def check_label(label: str) -> EntityLabel:
    """Return ``label`` if it is an allowed entity label; it goes into Cypher text, so refuse others."""
    if label not in ENTITY_LABELS:
        raise ValueError(f"entity label {label!r} is not one of {', '.join(ENTITY_LABELS)}")
    return label


def check_relation_type(rel_type: str) -> RelationType:
    """Return ``rel_type`` if allowed; it goes into Cypher text, so refuse anything else."""
    if rel_type not in RELATION_TYPES:
        raise ValueError(f"relation type {rel_type!r} is not one of {', '.join(RELATION_TYPES)}")
    return rel_type


def normalize_name(name: str) -> str:
    """Casefold and collapse whitespace: the form entity identity and look-ups compare."""
    return " ".join(name.casefold().split())


def entity_key(entity: Entity) -> str:
    """The per-tenant identity of an entity: ``Label:normalized name``."""
    label = check_label(entity.label)
    norm = normalize_name(entity.name)
    if not norm:
        raise ValueError(f"entity name {entity.name!r} is blank")
    return f"{label}:{norm}"


def _check_text(what: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


# --------------------------------------------------------------------------- write


def _merge_entities(label: EntityLabel) -> str:
    # ON CREATE keeps the first spelling seen as the display name; replays change nothing.
    return (
        "UNWIND $rows AS r "
        f"MERGE (e:Entity:{check_label(label)} {{tenant: r.tenant, key: r.key}}) "
        "ON CREATE SET e.name = r.name, e.norm = r.norm, e.label = r.label"
    )


def _merge_relations(rel_type: RelationType) -> str:
    return (
        "UNWIND $rows AS r "
        "MATCH (a:Entity {tenant: r.tenant, key: r.source}) "
        "MATCH (b:Entity {tenant: r.tenant, key: r.target}) "
        f"MERGE (a)-[x:{check_relation_type(rel_type)} {{doc_id: r.doc_id}}]->(b) "
        "SET x.version = r.version"
    )


MERGE_CHUNKS: Final = (
    "UNWIND $rows AS r "
    "MERGE (c:Chunk {tenant: r.tenant, id: r.id, version: r.version}) "
    "SET c.doc_id = r.doc_id"
)
MERGE_MENTIONS: Final = (
    "UNWIND $rows AS r "
    "MATCH (c:Chunk {tenant: r.tenant, id: r.id, version: r.version}) "
    "MATCH (e:Entity {tenant: r.tenant, key: r.key}) "
    "MERGE (c)-[:MENTIONS]->(e)"
)


def _batches(rows: list[dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows[start : start + BATCH_ROWS]


def plan_write(facts: Sequence[ChunkFacts]) -> list[Statement]:
    """Validate every fact, then turn the batch into UNWIND statements, in dependency order.

    Validation runs before any statement exists, so a batch with one bad label writes nothing.
    Relation endpoints count as mentions of their chunk even if the extractor did not list them
    among its entities; otherwise they would be entities no chunk mentions, never pruned.
    """
    chunks: dict[tuple[str, str, str], dict[str, str]] = {}
    entities: dict[EntityLabel, dict[tuple[str, str], dict[str, str]]] = {}
    mentions: dict[tuple[str, str, str, str], dict[str, str]] = {}
    relations: dict[RelationType, dict[tuple[str, str, str, str], dict[str, str]]] = {}

    def add_entity(f: ChunkFacts, entity: Entity) -> str:
        key = entity_key(entity)
        by_key = entities.setdefault(entity.label, {})
        by_key.setdefault(
            (f.tenant, key),
            {
                "tenant": f.tenant,
                "key": key,
                "name": " ".join(entity.name.split()),
                "norm": normalize_name(entity.name),
                "label": entity.label,
            },
        )
        mentions.setdefault(
            (f.tenant, f.chunk_id, f.version, key),
            {"tenant": f.tenant, "id": f.chunk_id, "version": f.version, "key": key},
        )
        return key

    for f in facts:
        for what in ("tenant", "doc_id", "version", "chunk_id"):
            _check_text(what, getattr(f, what))
        chunks[(f.tenant, f.chunk_id, f.version)] = {
            "tenant": f.tenant,
            "id": f.chunk_id,
            "version": f.version,
            "doc_id": f.doc_id,
        }
        for entity in f.entities:
            add_entity(f, entity)
        for rel in f.relations:
            rel_type = check_relation_type(rel.type)
            source, target = add_entity(f, rel.source), add_entity(f, rel.target)
            relations.setdefault(rel_type, {})[(f.tenant, source, target, f.doc_id)] = {
                "tenant": f.tenant,
                "source": source,
                "target": target,
                "doc_id": f.doc_id,
                "version": f.version,
            }

    plan: list[Statement] = []
    plan += [Statement(MERGE_CHUNKS, {"rows": b}) for b in _batches(list(chunks.values()))]
    for label, by_key in entities.items():
        cypher = _merge_entities(label)
        plan += [Statement(cypher, {"rows": b}) for b in _batches(list(by_key.values()))]
    plan += [Statement(MERGE_MENTIONS, {"rows": b}) for b in _batches(list(mentions.values()))]
    for rel_type, by_edge in relations.items():
        cypher = _merge_relations(rel_type)
        plan += [Statement(cypher, {"rows": b}) for b in _batches(list(by_edge.values()))]
    return plan


# --------------------------------------------------------------------------- prune

_VERSION_FILTER: Final = "($keep IS NULL OR {v}.version <> $keep)"


def _prune_document() -> str:
    # One statement, so the store never shows a half-pruned document (FalkorDB has no multi-query
    # transactions; a single query is atomic there). Edges of every allowed type go first; each
    # step ends in an aggregate, which yields one row even when it matched nothing, so the chain
    # goes on. Then chunks, then the entities those chunks mentioned that nothing mentions now.
    parts = [
        f"MATCH ()-[r{i}:{check_relation_type(t)}]->() "
        f"WHERE r{i}.doc_id = $doc_id AND {_VERSION_FILTER.format(v=f'r{i}')} "
        f"DELETE r{i} WITH count(*) AS n{i}"
        for i, t in enumerate(RELATION_TYPES)
    ]
    parts.append(
        "MATCH (c:Chunk {doc_id: $doc_id}) "
        f"WHERE {_VERSION_FILTER.format(v='c')} "
        "OPTIONAL MATCH (c)-[:MENTIONS]->(e:Entity) "
        "WITH collect(DISTINCT c) AS chunks, collect(DISTINCT e) AS ents "
        "FOREACH (x IN chunks | DETACH DELETE x) "
        "WITH ents UNWIND ents AS e "
        "WITH e WHERE NOT ()-[:MENTIONS]->(e) "
        "DETACH DELETE e"
    )
    return " ".join(parts)


PRUNE_DOCUMENT: Final = _prune_document()


def plan_prune(doc_id: str, keep_version: str | None) -> Statement:
    _check_text("doc_id", doc_id)
    if keep_version is not None:
        _check_text("keep_version", keep_version)
    return Statement(PRUNE_DOCUMENT, {"doc_id": doc_id, "keep": keep_version})


# --------------------------------------------------------------------------- counts & checkpoints

COUNT_CHUNKS: Final = "MATCH (c:Chunk {doc_id: $doc_id, version: $version}) RETURN count(c) AS n"

# Where the index stage stands in its input topics, kept in the graph with the facts (ports.GraphStore).
CHECKPOINT_SAVE = (
    "UNWIND $rows AS row MERGE (k:Checkpoint {consumer: $consumer, position: row.position}) "
    "SET k.offset = CASE WHEN k.offset IS NULL OR k.offset < row.offset THEN row.offset ELSE k.offset END"
)


def checkpoint_params(consumer: str, positions: Mapping[str, int]) -> dict[str, Any]:
    rows = [{"position": key, "offset": int(offset)} for key, offset in sorted(positions.items())]
    return {"consumer": consumer, "rows": rows}

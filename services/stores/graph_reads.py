"""The read side of the knowledge graph's Cypher (see ``graph_cypher`` for the model), shared by the
FalkorDB and Neo4j adapters: facts around named entities, entities named in a text, the chunks that
mention them, statistics and the index stage's checkpoints. Every value travels as a parameter."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any, Final

from services.stores.graph_cypher import check_label, normalize_name
from services.stores.ports import ENTITY_LABELS, Entity, GraphChunk, GraphFact

# Longest entity name, in words, that find_entities looks for in a text.
MAX_NAME_WORDS: Final = 8
_EDGE_PUNCT: Final = string.punctuation + "“”‘’«»„…–—"

# Rows: a_name, a_label, rel_type, b_name, b_label, doc_ids. An edge touching two looked-up
# entities is seen twice, hence DISTINCT; aggregation folds one fact's per-document edges.
NEIGHBOURS: Final = (
    "UNWIND $lookups AS l "
    "MATCH (e:Entity {tenant: $tenant, norm: l.norm}) "
    "WHERE l.label IS NULL OR e.label = l.label "
    "MATCH (e)-[r]-(:Entity) "
    "WITH DISTINCT r "
    "WITH startNode(r) AS a, type(r) AS t, endNode(r) AS b, r.doc_id AS d "
    "WITH a.name AS a_name, a.label AS a_label, t AS rel_type, b.name AS b_name, "
    "b.label AS b_label, collect(DISTINCT d) AS doc_ids "
    "RETURN a_name, a_label, rel_type, b_name, b_label, doc_ids "
    "ORDER BY size(doc_ids) DESC, a_name, rel_type, b_name "
    "LIMIT $limit"
)

# Rows: norm, name, label.
ENTITIES_BY_NORM: Final = (
    "UNWIND $norms AS n "
    "MATCH (e:Entity {tenant: $tenant, norm: n}) "
    "RETURN e.norm AS norm, e.name AS name, e.label AS label"
)

# Retrieval through the graph. Rows: chunk id, doc id, how many of the looked-up entities (direct)
# or of their neighbours (near: one relation away, not looked up themselves) the chunk mentions.
# Grouped by chunk id, since one id could briefly exist in two versions before a prune.
_SEEDS: Final = (
    "UNWIND $lookups AS l "
    "MATCH (e:Entity {tenant: $tenant, norm: l.norm}) "
    "WHERE l.label IS NULL OR e.label = l.label "
)
CHUNKS_DIRECT: Final = (
    _SEEDS + "MATCH (c:Chunk {tenant: $tenant})-[:MENTIONS]->(e) "
    "WITH c.id AS id, c.doc_id AS doc_id, count(DISTINCT e) AS n "
    "RETURN id, doc_id, n ORDER BY n DESC, id LIMIT $limit"
)
CHUNKS_NEAR: Final = (
    _SEEDS + "WITH collect(DISTINCT e) AS seeds "
    "UNWIND seeds AS s "
    "MATCH (s)-[]-(x:Entity {tenant: $tenant}) "
    "WHERE NOT x IN seeds "
    "MATCH (c:Chunk {tenant: $tenant})-[:MENTIONS]->(x) "
    "WITH c.id AS id, c.doc_id AS doc_id, count(DISTINCT x) AS n "
    "RETURN id, doc_id, n ORDER BY n DESC, id LIMIT $limit"
)

STATS_TENANT: Final = {
    "entities": "MATCH (e:Entity {tenant: $tenant}) RETURN count(e) AS n",
    "relations": "MATCH (:Entity {tenant: $tenant})-[r]->(:Entity) RETURN count(r) AS n",
    "chunks": "MATCH (c:Chunk {tenant: $tenant}) RETURN count(c) AS n",
    "mentions": "MATCH (:Chunk {tenant: $tenant})-[r:MENTIONS]->() RETURN count(r) AS n",
}
STATS_ALL: Final = {
    "entities": "MATCH (e:Entity) RETURN count(e) AS n",
    "relations": "MATCH (:Entity)-[r]->(:Entity) RETURN count(r) AS n",
    "chunks": "MATCH (c:Chunk) RETURN count(c) AS n",
    "mentions": "MATCH (:Chunk)-[r:MENTIONS]->() RETURN count(r) AS n",
}


def name_lookups(names: Sequence[str]) -> list[dict[str, str | None]]:
    """Turn names (plain, or entity keys such as ``Person:Ada Lovelace``) into look-up rows."""
    lookups: dict[tuple[str, str | None], dict[str, str | None]] = {}
    for raw in names:
        label: str | None = None
        name = raw
        prefix, sep, rest = raw.partition(":")
        if sep and prefix.strip() in ENTITY_LABELS and rest.strip():
            label, name = prefix.strip(), rest
        norm = normalize_name(name)
        if norm:
            lookups.setdefault((norm, label), {"norm": norm, "label": label})
    return list(lookups.values())


def neighbour_facts(rows: Sequence[Sequence[Any]]) -> list[GraphFact]:
    """Rows of ``NEIGHBOURS`` as facts, each with the sorted documents that state it."""
    return [
        GraphFact(
            source=Entity(name=a_name, label=check_label(a_label)),
            type=rel_type,
            target=Entity(name=b_name, label=check_label(b_label)),
            doc_ids=tuple(sorted(doc_ids)),
        )
        for a_name, a_label, rel_type, b_name, b_label, doc_ids in rows
    ]


def text_candidates(text: str, max_words: int = MAX_NAME_WORDS) -> dict[str, int]:
    """Every normalized run of up to ``max_words`` words in ``text``, with its first position.

    Entity names are then matched exactly against these (an index look-up), so "Al" is not
    found inside "also", and trailing punctuation or a possessive does not hide a name.
    """
    words = text.casefold().split()
    found: dict[str, int] = {}
    for i in range(len(words)):
        for n in range(1, min(max_words, len(words) - i) + 1):
            gram = " ".join(words[i : i + n])
            stripped = gram.strip(_EDGE_PUNCT)
            for candidate in (gram, stripped, stripped.removesuffix("'s").removesuffix("’s")):
                if candidate:
                    found.setdefault(candidate, i)
    return found


def rank_entities(rows: Sequence[Sequence[Any]], positions: Mapping[str, int], limit: int) -> list[Entity]:
    """Entities in the order their names first appear in the text, then by label."""
    ordered = sorted(rows, key=lambda r: (positions.get(r[0], len(positions)), r[2], r[1]))
    seen: set[tuple[str, str]] = set()
    result: list[Entity] = []
    for _norm, name, label in ordered:
        if (name, label) not in seen:
            seen.add((name, label))
            result.append(Entity(name=name, label=check_label(label)))
    return result[: max(limit, 0)]


CHECKPOINT_LOAD = "MATCH (k:Checkpoint {consumer: $consumer}) RETURN k.position, k.offset"


class CypherReads:
    """The read side of the GraphStore port, the same Cypher for FalkorDB and Neo4j; an adapter
    supplies ``_rows`` (run a read query, return rows as lists)."""

    async def _rows(self, cypher: str, params: dict[str, Any]) -> list[list[Any]]:
        raise NotImplementedError

    async def checkpoints(self, consumer: str) -> dict[str, int]:
        rows = await self._rows(CHECKPOINT_LOAD, {"consumer": consumer})
        return {str(key): int(offset) for key, offset in rows}

    async def neighbours(self, tenant: str, names: Sequence[str], limit: int) -> list[GraphFact]:
        lookups = name_lookups(names)
        if not lookups or limit <= 0:
            return []
        params = {"tenant": tenant, "lookups": lookups, "limit": limit}
        return neighbour_facts(await self._rows(NEIGHBOURS, params))

    async def find_entities(self, tenant: str, text: str, limit: int) -> list[Entity]:
        positions = text_candidates(text)
        if not positions or limit <= 0:
            return []
        rows = await self._rows(ENTITIES_BY_NORM, {"tenant": tenant, "norms": list(positions)})
        return rank_entities(rows, positions, limit)

    async def chunks_for_entities(
        self, tenant: str, names: Sequence[str], limit: int, hops: int = 2
    ) -> list[GraphChunk]:
        lookups = name_lookups(names)
        if not lookups or limit <= 0 or hops < 1:
            return []
        params = {"tenant": tenant, "lookups": lookups, "limit": limit}
        found: dict[str, GraphChunk] = {
            str(cid): GraphChunk(str(cid), str(doc_id), direct=int(n))
            for cid, doc_id, n in await self._rows(CHUNKS_DIRECT, params)
        }
        if hops >= 2:
            for cid, doc_id, n in await self._rows(CHUNKS_NEAR, params):
                seen = found.get(str(cid))
                direct = seen.direct if seen else 0
                found[str(cid)] = GraphChunk(str(cid), str(doc_id), direct=direct, indirect=int(n))
        ranked = sorted(found.values(), key=lambda c: (-c.direct, -c.indirect, c.chunk_id))
        return ranked[:limit]

    async def stats(self, tenant: str | None = None) -> dict[str, int]:
        queries = STATS_ALL if tenant is None else STATS_TENANT
        params = {} if tenant is None else {"tenant": tenant}
        return {name: int((await self._rows(q, params))[0][0]) for name, q in queries.items()}

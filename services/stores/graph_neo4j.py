"""Neo4j adapter for the ``GraphStore`` port: the Cypher of ``graph_cypher`` on the async driver.

Unlike FalkorDB, Neo4j runs one ``write`` batch in a single transaction, and its uniqueness
constraints keep concurrent writers (several consumers MERGEing one entity) from duplicating nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Self

from neo4j import AsyncGraphDatabase, AsyncManagedTransaction, RoutingControl

from services.stores import graph_cypher as cy
from services.stores.graph_reads import CypherReads
from services.stores.ports import RELATION_TYPES, ChunkFacts


def _schema_statements() -> list[str]:
    stmts = [
        "CREATE CONSTRAINT ragstream_chunk_identity IF NOT EXISTS "
        "FOR (c:Chunk) REQUIRE (c.tenant, c.id, c.version) IS UNIQUE",
        "CREATE CONSTRAINT ragstream_entity_identity IF NOT EXISTS "
        "FOR (e:Entity) REQUIRE (e.tenant, e.key) IS UNIQUE",
        "CREATE INDEX ragstream_chunk_doc IF NOT EXISTS FOR (c:Chunk) ON (c.doc_id)",
        "CREATE INDEX ragstream_chunk_tenant IF NOT EXISTS FOR (c:Chunk) ON (c.tenant)",
        "CREATE INDEX ragstream_entity_norm IF NOT EXISTS FOR (e:Entity) ON (e.tenant, e.norm)",
        "CREATE INDEX ragstream_entity_tenant IF NOT EXISTS FOR (e:Entity) ON (e.tenant)",
    ]
    stmts += [
        f"CREATE INDEX ragstream_rel_{t.lower()}_doc IF NOT EXISTS "
        f"FOR ()-[r:{cy.check_relation_type(t)}]-() ON (r.doc_id)"
        for t in RELATION_TYPES
    ]
    return stmts


class Neo4jGraphStore(CypherReads):
    """``GraphStore`` on a Neo4j database. Call ``open()`` (or use ``connect``) before use."""

    INDEX_WAIT_S: Final = 120

    def __init__(self, uri: str, user: str, password: str, database: str | None = None) -> None:
        self._driver = AsyncGraphDatabase.driver(uri, auth=(user, password))
        self._database = database

    @classmethod
    async def connect(cls, uri: str, user: str, password: str, database: str | None = None) -> Self:
        store = cls(uri, user, password, database)
        await store.open()
        return store

    async def open(self) -> None:
        """Create constraints and indexes if missing, and wait until they are online."""
        await self._driver.verify_connectivity()
        for stmt in _schema_statements():
            await self._driver.execute_query(stmt, database_=self._database)
        await self._driver.execute_query(
            "CALL db.awaitIndexes($seconds)", {"seconds": self.INDEX_WAIT_S}, database_=self._database
        )

    async def _rows(self, cypher: str, params: dict[str, Any]) -> list[list[Any]]:
        records, _, _ = await self._driver.execute_query(
            cypher, params, database_=self._database, routing_=RoutingControl.READ
        )
        return [list(record.values()) for record in records]

    async def write(self, facts: Sequence[ChunkFacts]) -> None:
        plan = cy.plan_write(facts)
        if not plan:
            return

        async def run_all(tx: AsyncManagedTransaction) -> None:
            for stmt in plan:
                result = await tx.run(stmt.cypher, dict(stmt.params))
                await result.consume()

        async with self._driver.session(database=self._database) as session:
            await session.execute_write(run_all)

    async def count_chunks(self, doc_id: str, version: str) -> int:
        rows = await self._rows(cy.COUNT_CHUNKS, {"doc_id": doc_id, "version": version})
        return int(rows[0][0])

    async def checkpoint(self, consumer: str, positions: Mapping[str, int]) -> None:
        params = cy.checkpoint_params(consumer, positions)
        await self._driver.execute_query(cy.CHECKPOINT_SAVE, params, database_=self._database)

    async def prune_document(self, doc_id: str, keep_version: str | None) -> None:
        stmt = cy.plan_prune(doc_id, keep_version)
        await self._driver.execute_query(stmt.cypher, dict(stmt.params), database_=self._database)

    async def drop(self) -> None:
        """Delete every node and edge of the database (tests and resets); the schema stays."""
        await self._driver.execute_query("MATCH (n) DETACH DELETE n", database_=self._database)

    async def close(self) -> None:
        await self._driver.close()

"""The document ledger: the newest revision seen per document, so late or replayed messages of an
older revision (or of a deleted document) are skipped instead of resurrecting stale data.

A revision is the ``submitted_at`` of the publish that produced the message; it travels with every
record. Equal revisions are current (redelivery and replay of the same publish must still apply).
Embedded default: SQLite in the data directory (one index process owns it); with a Postgres DSN
configured, a table shared by every index worker (``PostgresLedger``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Protocol

import asyncpg

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    revision INTEGER NOT NULL,
    version TEXT NOT NULL,
    operation TEXT NOT NULL
)
"""


class SqliteLedger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = asyncio.Lock()

    def _observe(self, tenant: str, doc_id: str, revision: int, version: str, operation: str) -> bool:
        row = self._db.execute("SELECT revision FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None and revision < row[0]:
            return False
        if row is None or revision > row[0]:
            self._db.execute(
                "INSERT INTO documents (doc_id, tenant, revision, version, operation) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(doc_id) DO UPDATE SET tenant=excluded.tenant, revision=excluded.revision, "
                "version=excluded.version, operation=excluded.operation",
                (doc_id, tenant, revision, version, operation),
            )
        return True

    async def observe(self, tenant: str, doc_id: str, revision: int, version: str, operation: str) -> bool:
        """Record the message's revision; False when a newer revision of the document is known."""
        async with self._lock:
            return await asyncio.to_thread(self._observe, tenant, doc_id, revision, version, operation)

    async def revision(self, doc_id: str) -> int | None:
        """The newest revision of the document seen (None: never seen); records nothing."""
        async with self._lock:
            query = "SELECT revision FROM documents WHERE doc_id = ?"
            row = await asyncio.to_thread(lambda: self._db.execute(query, (doc_id,)).fetchone())
        return None if row is None else int(row[0])

    async def close(self) -> None:
        self._db.close()


class Ledger(Protocol):
    async def observe(
        self, tenant: str, doc_id: str, revision: int, version: str, operation: str
    ) -> bool: ...
    async def revision(self, doc_id: str) -> int | None: ...
    async def close(self) -> None: ...


_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS ragstream_ledger (
    generation TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    revision BIGINT NOT NULL,
    version TEXT NOT NULL,
    operation TEXT NOT NULL,
    PRIMARY KEY (generation, doc_id)
)
"""

# One statement, so concurrent index workers cannot interleave a read and a write: the upsert only
# moves a revision forward; the select sees the row as it was before this statement.
_PG_OBSERVE = """
WITH moved AS (
    INSERT INTO ragstream_ledger AS l (generation, doc_id, tenant, revision, version, operation)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (generation, doc_id) DO UPDATE
        SET tenant = EXCLUDED.tenant, revision = EXCLUDED.revision,
            version = EXCLUDED.version, operation = EXCLUDED.operation
        WHERE l.revision < EXCLUDED.revision
    RETURNING 1
)
SELECT revision FROM ragstream_ledger WHERE generation = $1 AND doc_id = $2
"""


class PostgresLedger:
    """The ledger in Postgres (asyncpg), shared by every index worker of a generation."""

    def __init__(self, pool: asyncpg.Pool, generation: str) -> None:
        self._pool = pool
        self.generation = generation

    @classmethod
    async def connect(cls, dsn: str, generation: str = "") -> PostgresLedger:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        async with pool.acquire() as conn:
            await conn.execute(_PG_SCHEMA)
        return cls(pool, generation)

    async def observe(self, tenant: str, doc_id: str, revision: int, version: str, operation: str) -> bool:
        before = await self._pool.fetchval(
            _PG_OBSERVE, self.generation, doc_id, tenant, revision, version, operation
        )
        return before is None or revision >= before

    async def revision(self, doc_id: str) -> int | None:
        query = "SELECT revision FROM ragstream_ledger WHERE generation = $1 AND doc_id = $2"
        value = await self._pool.fetchval(query, self.generation, doc_id)
        return None if value is None else int(value)

    async def close(self) -> None:
        await self._pool.close()

"""The document ledger: the newest revision seen per document, so late or replayed messages of an
older revision (or of a deleted document) are skipped instead of resurrecting stale data.

A revision is the ``submitted_at`` of the publish that produced the message; it travels with every
record. Equal revisions are current (redelivery and replay of the same publish must still apply).
Embedded default: SQLite in the data directory (one index process owns it).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

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

    async def close(self) -> None:
        self._db.close()

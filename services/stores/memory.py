"""Chat memory: the turns of each conversation, used to rewrite follow-up questions.

Postgres (asyncpg) in production, with versioned migrations; SQLite in the data directory when no
Postgres is configured. A turn is keyed by (request_id, role), so a redelivered or replayed answer is
stored once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Protocol

import asyncpg


class ChatMemory(Protocol):
    async def append(
        self, tenant: str, user: str, session_id: str, request_id: str, role: str, content: str
    ) -> None:
        """Store one turn; storing the same (request_id, role) again changes nothing."""

    async def history(
        self, tenant: str, user: str, session_id: str, limit: int = 20
    ) -> list[tuple[str, str]]:
        """The last ``limit`` turns of the conversation, oldest first, as (role, content)."""

    async def close(self) -> None: ...


# Append-only: a migration, once released, is never edited; add the next version instead.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE chat_turns (
        id BIGSERIAL PRIMARY KEY,
        tenant TEXT NOT NULL,
        user_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (request_id, role)
    );
    CREATE INDEX chat_turns_conversation ON chat_turns (tenant, user_id, session_id, id);
    """,
)


async def migrate(conn: asyncpg.Connection) -> int:
    """Apply pending migrations in one transaction each, under an advisory lock (several processes
    may start at once). Returns the schema version."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS ragstream_migrations (version INT PRIMARY KEY, applied_at "
        "TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    await conn.execute("SELECT pg_advisory_lock(727274)")
    try:
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM ragstream_migrations")
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO ragstream_migrations (version) VALUES ($1)", version)
        return len(MIGRATIONS)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(727274)")


class PostgresChatMemory:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> PostgresChatMemory:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=8)
        async with pool.acquire() as conn:
            await migrate(conn)
        return cls(pool)

    async def append(
        self, tenant: str, user: str, session_id: str, request_id: str, role: str, content: str
    ) -> None:
        await self._pool.execute(
            "INSERT INTO chat_turns (tenant, user_id, session_id, request_id, role, content) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id, role) DO NOTHING",
            tenant,
            user,
            session_id,
            request_id,
            role,
            content,
        )

    async def history(
        self, tenant: str, user: str, session_id: str, limit: int = 20
    ) -> list[tuple[str, str]]:
        rows = await self._pool.fetch(
            "SELECT role, content FROM (SELECT id, role, content FROM chat_turns "
            "WHERE tenant = $1 AND user_id = $2 AND session_id = $3 ORDER BY id DESC LIMIT $4) t ORDER BY id",
            tenant,
            user,
            session_id,
            limit,
        )
        return [(r["role"], r["content"]) for r in rows]

    async def close(self) -> None:
        await self._pool.close()


class SqliteChatMemory:
    """The embedded store: one SQLite file, calls serialized (one process owns it)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS chat_turns (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "tenant TEXT NOT NULL, "
            "user_id TEXT NOT NULL, session_id TEXT NOT NULL, request_id TEXT NOT NULL, role TEXT NOT NULL, "
            "content TEXT NOT NULL, UNIQUE (request_id, role))"
        )
        self._lock = asyncio.Lock()

    async def _run(self, sql: str, args: tuple[object, ...]) -> list[tuple[str, str]]:
        async with self._lock:
            return await asyncio.to_thread(lambda: list(self._db.execute(sql, args).fetchall()))

    async def append(
        self, tenant: str, user: str, session_id: str, request_id: str, role: str, content: str
    ) -> None:
        if role not in ("user", "assistant"):
            raise ValueError(f"role must be 'user' or 'assistant', not {role!r}")
        await self._run(
            "INSERT OR IGNORE INTO chat_turns (tenant, user_id, session_id, request_id, role, content) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, user, session_id, request_id, role, content),
        )

    async def history(
        self, tenant: str, user: str, session_id: str, limit: int = 20
    ) -> list[tuple[str, str]]:
        rows = await self._run(
            "SELECT role, content FROM (SELECT id, role, content FROM chat_turns "
            "WHERE tenant = ? AND user_id = ? AND session_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
            (tenant, user, session_id, limit),
        )
        return [(str(r), str(c)) for r, c in rows]

    async def close(self) -> None:
        self._db.close()

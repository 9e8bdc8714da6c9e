"""Chat memory on the machine's real Postgres (migrations, idempotent turns) and on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.stores.memory import MIGRATIONS, ChatMemory, PostgresChatMemory, SqliteChatMemory, migrate

pytestmark = pytest.mark.integration
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["postgres", "sqlite"])
async def memory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChatMemory]:
    """A chat memory on Postgres (must be running) or SQLite."""
    store: ChatMemory
    if request.param == "postgres":
        store = await PostgresChatMemory.connect(POSTGRES_DSN)
    else:
        store = SqliteChatMemory(tmp_path / "memory.sqlite")
    yield store
    await store.close()


async def test_history_is_per_conversation_and_ordered(memory: ChatMemory) -> None:
    """Turns come back oldest first, only for the same tenant, user and session."""
    session = uuid.uuid4().hex
    await memory.append("t", "u", session, session + "r1", "user", "Where is Helios Labs based?")
    await memory.append("t", "u", session, session + "r1", "assistant", "In Graz.")
    await memory.append("t", "u", session, session + "r2", "user", "Who works for it?")
    await memory.append("t", "other-user", session, session + "r3", "user", "not mine")
    await memory.append("t2", "u", session, session + "r4", "user", "other tenant")
    assert await memory.history("t", "u", session) == [
        ("user", "Where is Helios Labs based?"),
        ("assistant", "In Graz."),
        ("user", "Who works for it?"),
    ]


async def test_a_replayed_turn_is_stored_once(memory: ChatMemory) -> None:
    """Appending the same (request_id, role) again, as a redelivery would, keeps one turn."""
    session = uuid.uuid4().hex
    request = uuid.uuid4().hex
    for _ in range(3):
        await memory.append("t", "u", session, request, "assistant", "the answer")
    assert await memory.history("t", "u", session) == [("assistant", "the answer")]


async def test_history_limit_keeps_the_latest(memory: ChatMemory) -> None:
    """With a limit, the most recent turns are returned, still oldest first."""
    session = uuid.uuid4().hex
    for i in range(5):
        await memory.append("t", "u", session, f"{session}-{i}", "user", f"q{i}")
    assert await memory.history("t", "u", session, limit=2) == [("user", "q3"), ("user", "q4")]


async def test_migrations_are_recorded_and_idempotent() -> None:
    """Running the migrations again applies nothing and reports the latest version."""
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        assert await migrate(conn) == len(MIGRATIONS)
        assert await migrate(conn) == len(MIGRATIONS)
        versions = await conn.fetch("SELECT version FROM ragstream_migrations ORDER BY version")
        assert [r["version"] for r in versions] == list(range(1, len(MIGRATIONS) + 1))
    finally:
        await conn.close()

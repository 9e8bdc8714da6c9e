"""The document ledger, on SQLite and on the machine's real Postgres: revisions only move forward,
equal revisions stay current (redelivery), and generations are independent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.index.ledger import Ledger, PostgresLedger, SqliteLedger

pytestmark = pytest.mark.integration

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgres"])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ledger]:
    """A fresh ledger: SQLite in tmp_path, or a unique generation in the local Postgres (must be up)."""
    if request.param == "sqlite":
        store: Ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    else:
        store = await PostgresLedger.connect(POSTGRES_DSN, generation=f"test-{uuid.uuid4().hex}")
    yield store
    await store.close()


async def test_newer_revision_wins_and_older_is_stale(ledger: Ledger) -> None:
    """After revision 200 is seen, 100 is stale and 300 is current."""
    assert await ledger.observe("t", "d1", 200, "v2", "UPSERT")
    assert not await ledger.observe("t", "d1", 100, "v1", "UPSERT")
    assert await ledger.observe("t", "d1", 300, "v3", "UPSERT")
    assert not await ledger.observe("t", "d1", 200, "v2", "UPSERT")


async def test_equal_revision_stays_current(ledger: Ledger) -> None:
    """Redelivery or replay of the same publish is still applied."""
    assert await ledger.observe("t", "d2", 500, "v", "UPSERT")
    assert await ledger.observe("t", "d2", 500, "v", "UPSERT")


async def test_a_delete_hides_older_upserts(ledger: Ledger) -> None:
    """A DELETE at revision 20 makes a late UPSERT of revision 10 stale."""
    assert await ledger.observe("t", "d3", 20, "", "DELETE")
    assert not await ledger.observe("t", "d3", 10, "v1", "UPSERT")


async def test_the_newest_revision_is_read_without_recording_anything(ledger: Ledger) -> None:
    """What a reindex generation asks of the live one's ledger: read only."""
    assert await ledger.revision("d4") is None
    assert await ledger.observe("t", "d4", 70, "v", "UPSERT")
    assert await ledger.revision("d4") == 70
    assert await ledger.observe("t", "d4", 50, "v0", "UPSERT") is False
    assert await ledger.revision("d4") == 70


async def test_documents_are_independent(ledger: Ledger) -> None:
    """One document's revision says nothing about another's."""
    assert await ledger.observe("t", "a", 900, "v", "UPSERT")
    assert await ledger.observe("t", "b", 1, "v", "UPSERT")


async def test_postgres_generations_are_independent() -> None:
    """A reindex generation keeps its own ledger rows in the shared Postgres table."""
    live = await PostgresLedger.connect(POSTGRES_DSN, generation=f"live-{uuid.uuid4().hex}")
    new = await PostgresLedger.connect(POSTGRES_DSN, generation=f"v2-{uuid.uuid4().hex}")
    try:
        assert await live.observe("t", "doc", 50, "v", "UPSERT")
        assert await new.observe("t", "doc", 10, "v0", "UPSERT")
    finally:
        await live.close()
        await new.close()

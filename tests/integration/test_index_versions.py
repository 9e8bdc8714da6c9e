"""The index stage's versions of one document on the real stores (qdrant-edge, a FalkorDB child, the
SQLite ledger): whatever order and batching the two topics deliver, exactly the newest version ends
up in both stores and is announced, also across a restart. A review found the three sequences below
each leaving the wrong version (or two) behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.messages import (
    ChunkCreated,
    ChunkEmbedded,
    DocumentIndexed,
    EntityMention,
    GraphExtracted,
)
from services.index.app import Indexer
from services.index.ledger import SqliteLedger
from services.stores.graph_falkor import FalkorGraphStore, FalkorServer
from services.stores.vectors_edge import EdgeVectorIndex

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, tzinfo=UTC)
DOC = "doc-1"


@pytest.fixture(scope="module")
def falkor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorServer]:
    with FalkorServer(tmp_path_factory.mktemp("falkordb")) as server:
        yield server


@dataclass
class Stores:
    root: Path
    vectors: EdgeVectorIndex
    graph: FalkorGraphStore
    announced: list[str] = field(default_factory=list)

    def indexer(self) -> Indexer:
        """An index process (a new one is a restart: nothing in memory, the same stores and ledger)."""

        async def announce(event: DocumentIndexed) -> None:
            self.announced.append(event.version or event.operation)

        ledger = SqliteLedger(self.root / "ledger.sqlite")
        return Indexer(announce, self.vectors, self.graph, ledger, "chunks")

    async def versions(self) -> tuple[dict[str, int], dict[str, int]]:
        """Chunks per version in the vector index and in the graph."""
        collection = await self.vectors.resolve("chunks")
        assert collection is not None
        found = {}
        for version in ("v1", "v2"):
            found[version] = (
                await self.vectors.count(collection, must={"doc_id": DOC, "version": version}),
                await self.graph.count_chunks(DOC, version),
            )
        return {v: n for v, (n, _) in found.items()}, {v: g for v, (_, g) in found.items()}


@pytest.fixture
async def stores(tmp_path: Path, falkor: FalkorServer) -> AsyncIterator[Stores]:
    vectors = EdgeVectorIndex(tmp_path / "vectors")
    graph = await FalkorGraphStore.connect(falkor.host, falkor.port, graph=f"t_{uuid.uuid4().hex}")
    yield Stores(tmp_path, vectors, graph)
    await graph.drop()
    await vectors.close()


def chunk(version: str, i: int, n: int, seconds: int) -> ChunkCreated:
    return ChunkCreated(
        tenant="acme", doc_id=DOC, version=version, operation="UPSERT", chunk_id=f"{DOC}:{version}:{i}",
        ordinal=i, chunk_count=n, text=f"Chunk {i} of {version} names Helios Labs.", text_sha256=f"{i}",
        source_uri="file:///doc-1.md", filename="doc-1.md", submitted_at=T0 + timedelta(seconds=seconds),
    )  # fmt: skip


def chunks(version: str, n: int, seconds: int) -> list[ChunkCreated]:
    return [chunk(version, i, n, seconds) for i in range(n)]


def deleted(seconds: int) -> ChunkCreated:
    return ChunkCreated(
        tenant="acme", doc_id=DOC, version="", operation="DELETE", chunk_id="", ordinal=0, chunk_count=0,
        text="", text_sha256="", source_uri="file:///doc-1.md", filename="doc-1.md",
        submitted_at=T0 + timedelta(seconds=seconds),
    )  # fmt: skip


def embedded(records: list[ChunkCreated]) -> list[ChunkEmbedded]:
    return [ChunkEmbedded(chunk=c, vector=[0.5, 0.5, 0.5, 0.5], model="test", dim=4) for c in records]


def extracted(records: list[ChunkCreated]) -> list[GraphExtracted]:
    helios = [EntityMention(name="Helios Labs", label="Organization")]
    return [
        GraphExtracted(chunk=c, entities=helios if c.text else [], relations=[], extractor="rules")
        for c in records
    ]


async def test_a_poll_holding_the_old_versions_tail_and_the_new_version_keeps_the_new(stores: Stores) -> None:
    """v1's last chunk and v2 arrive in one poll of docs.embedded, the graph handler ahead on v1: both
    were current when checked, and completing v1 pruned the v2 vectors just written (v1 announced, v2
    never complete)."""
    v1, v2 = chunks("v1", 3, 0), chunks("v2", 3, 1)
    index = stores.indexer()
    await index.on_graph(extracted(v1))
    await index.on_embedded(embedded(v1[:2]))
    await index.on_embedded(embedded([v1[2], *v2]))
    await index.on_graph(extracted(v2))
    assert await stores.versions() == ({"v1": 0, "v2": 3}, {"v1": 0, "v2": 3})
    assert stores.announced == ["v2"]


async def test_a_version_the_graph_handler_finishes_after_a_restart_is_completed(stores: Stores) -> None:
    """v2's vectors were written before a restart, its graph facts after: the graph handler of the new
    process waited for a vector written by itself, so v2 was never completed nor v1 pruned."""
    v1, v2 = chunks("v1", 2, 0), chunks("v2", 2, 1)
    before = stores.indexer()
    await before.on_embedded(embedded(v1))
    await before.on_graph(extracted(v1))
    await before.on_embedded(embedded(v2))
    after = stores.indexer()
    await after.on_graph(extracted(v2))
    assert await stores.versions() == ({"v1": 0, "v2": 2}, {"v1": 0, "v2": 2})
    assert stores.announced == ["v1", "v2"]


async def test_a_delete_then_a_new_version_in_one_poll_keeps_the_new_version(stores: Stores) -> None:
    """The document deleted and published again, both in one poll: the DELETE, settled after the new
    version's vectors were written, removed them."""
    v1, v2 = chunks("v1", 2, 0), chunks("v2", 2, 2)
    index = stores.indexer()
    await index.on_embedded(embedded(v1))
    await index.on_graph(extracted(v1))
    await index.on_embedded(embedded([deleted(1), *v2]))
    await index.on_graph(extracted([deleted(1), *v2]))
    assert await stores.versions() == ({"v1": 0, "v2": 2}, {"v1": 0, "v2": 2})
    assert stores.announced == ["v1", "v2"]


async def test_a_reindex_replaying_an_older_version_leaves_the_live_graph_alone(stores: Stores) -> None:
    """A reindex generation (its own ledger, a collection of its own, the one graph searches read)
    replays docs.chunks from the start. It completed v1, which the live generation had replaced by v2,
    and pruned v2's facts from the live graph (v1's back in their place, for good if the reindex
    stopped there). It now skips what the live generation's ledger has replaced."""
    v1, v2 = chunks("v1", 2, 0), chunks("v2", 2, 1)
    live = stores.indexer()
    for version in (v1, v2):
        await live.on_embedded(embedded(version))
        await live.on_graph(extracted(version))
    announced: list[str] = []

    async def quiet(event: DocumentIndexed) -> None:
        announced.append(event.version)

    ledger = SqliteLedger(stores.root / "ledger.v2.sqlite")
    catching_up = Indexer(quiet, stores.vectors, stores.graph, ledger, "chunks", "chunks_v2", live.ledger)
    await catching_up.on_embedded(embedded(v1))
    await catching_up.on_graph(extracted(v1))
    assert await stores.versions() == ({"v1": 0, "v2": 2}, {"v1": 0, "v2": 2})  # the live index, untouched
    await catching_up.on_embedded(embedded(v2))
    await catching_up.on_graph(extracted(v2))
    assert set(announced) == {"v2"}  # each handler finds it complete: the live graph holds v2 already
    assert await stores.vectors.count("chunks_v2", must={"doc_id": DOC, "version": "v1"}) == 0
    assert await stores.vectors.count("chunks_v2", must={"doc_id": DOC, "version": "v2"}) == 2


async def test_a_new_generations_graph_handler_before_its_first_vector_waits(stores: Stores) -> None:
    """The graph handler of a reindex generation may run before its embedded handler has created the
    collection: it waits for the vectors. (The restart fix first counted in the missing collection,
    and the crash e2e test saw the generation dead-letter those records.)"""
    v1 = chunks("v1", 2, 0)
    await stores.indexer().on_embedded(embedded(v1))  # the live generation's collection exists
    ledger = SqliteLedger(stores.root / "ledger.v2.sqlite")
    announce = stores.indexer().announce
    catching_up = Indexer(announce, stores.vectors, stores.graph, ledger, "chunks", "chunks_v2")
    await catching_up.on_graph(extracted(v1))  # chunks_v2 does not exist yet: no error, nothing done
    await catching_up.on_embedded(embedded(v1))
    assert await stores.vectors.count("chunks_v2", must={"doc_id": DOC, "version": "v1"}) == 2

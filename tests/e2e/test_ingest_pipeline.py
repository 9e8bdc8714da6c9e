"""The whole ingestion pipeline on the real broker and stores: a folder of mixed real documents
(some broken) flows through the five stages; the result matches the in-process reference exactly,
broken files land in the DLQ with their reason, and updates, deletes and restarts keep it exact."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bench.corpus import CorpusManifest, generate_corpus, generate_large_pdf
from services import ops
from services.chunk.chunker import TokenChunker
from services.common import ids
from services.common.settings import Settings
from services.extract_graph.extractor import RuleExtractor
from services.index.app import Indexer
from services.index.ledger import SqliteLedger
from services.inprocess import discard, ingest_inprocess
from services.models.embedder import LocalEmbedder
from services.parse.parsers import parse_document
from services.pipeline import Pipeline, run_pipeline
from services.publisher import DocumentPublisher, Outcome, OutcomeWatcher, Submission, source_uri
from services.retrieve.search import search
from services.stores.blobs import LocalBlobStore
from services.stores.graph_falkor import FalkorGraphStore, FalkorServer
from services.stores.vectors_edge import EdgeVectorIndex
from topics import TopicNames

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TENANT = "acme"


@dataclass
class Reference:
    chunks: dict[str, int]  # path -> chunk count
    entities: int
    relations: int


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    """One loaded MiniLM for the module (loading takes seconds)."""
    return LocalEmbedder()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusManifest:
    """A deterministic folder of pdf, docx, html, md and txt files plus broken ones."""
    return generate_corpus(tmp_path_factory.mktemp("corpus"), n_docs=10, seed=11)


@pytest.fixture(scope="module")
async def reference(
    corpus: CorpusManifest, embedder: LocalEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Reference:
    """The same stages called in-process (no Kafka) on the good files, into separate stores."""
    root = tmp_path_factory.mktemp("reference")
    vectors = EdgeVectorIndex(root / "vectors")
    with FalkorServer(root / "graph") as server:
        graph = await FalkorGraphStore.connect(server.host, server.port, graph="reference")
        indexer = Indexer(discard, vectors, graph, SqliteLedger(root / "ledger.sqlite"), "chunks")
        report = await ingest_inprocess(
            corpus.good_paths,
            TENANT,
            blobs=LocalBlobStore(root / "blobs"),
            chunker=TokenChunker(),
            embedder=embedder,
            extractor=RuleExtractor(),
            indexer=indexer,
        )
        stats = await graph.stats(TENANT)
        await graph.close()
    await vectors.close()
    assert not report.failed, report.failed
    return Reference(report.indexed, stats["entities"], stats["relations"])


async def publish_and_wait(pipe: Pipeline, paths: list[Path], timeout: float = 240) -> list[Outcome]:
    watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
    publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
    subs = [await publisher.upsert(p, TENANT) for p in paths]
    publisher.flush()
    try:
        return await watcher.wait(subs, timeout)
    finally:
        watcher.close()


async def delete_and_wait(pipe: Pipeline, path: Path) -> Outcome:
    watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
    publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
    sub: Submission = publisher.delete(source_uri(path), TENANT)
    publisher.flush()
    try:
        [outcome] = await watcher.wait([sub], 120)
        return outcome
    finally:
        watcher.close()


@dataclass
class Ingested:
    pipe: Pipeline
    outcomes: list[Outcome]
    settings: Settings


@pytest.fixture(scope="module")
async def ingested(
    kafka_bootstrap: str,
    corpus: CorpusManifest,
    embedder: LocalEmbedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Ingested]:
    """The streaming pipeline, with the whole corpus (good and broken) published and settled."""
    names = TopicNames(prefix=f"e2e-{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path_factory.mktemp("stack"))
    settings.kafka.partitions = 2
    async with run_pipeline(settings, bootstrap=kafka_bootstrap, names=names, embedder=embedder) as pipe:
        outcomes = await publish_and_wait(pipe, corpus.all_paths)
        yield Ingested(pipe, outcomes, settings)


async def chunks_of(pipe: Pipeline, path: Path, version: str | None = None) -> int:
    collection = await pipe.vectors.resolve("chunks")
    must = {"doc_id": ids.doc_id(TENANT, source_uri(path))}
    if version:
        must["version"] = version
    return int(await pipe.vectors.count(collection, must=must))


async def test_every_good_document_is_indexed_with_the_reference_chunk_count(
    ingested: Ingested, corpus: CorpusManifest, reference: Reference
) -> None:
    """Streaming gives, per document, exactly the chunks the in-process stages give."""
    status = {o.submission.path: o for o in ingested.outcomes}
    for doc in corpus.documents:
        outcome = status[str(doc.path)]
        assert outcome.status == "indexed", (doc.filename, outcome)
        assert outcome.chunks == reference.chunks[str(doc.path)]
        assert await chunks_of(ingested.pipe, doc.path) == reference.chunks[str(doc.path)]
    # each version's time from publish to queryable is on /metrics (the registry is this process's:
    # other tests' documents may add to it, never take away)
    fresh = REGISTRY.get_sample_value("ragstream_freshness_seconds_count", {"operation": "UPSERT"})
    assert fresh is not None
    assert fresh >= len(corpus.documents)
    within_an_hour = REGISTRY.get_sample_value(
        "ragstream_freshness_seconds_bucket", {"operation": "UPSERT", "le": "3600.0"}
    )
    assert within_an_hour == fresh


async def test_graph_matches_the_reference_exactly(ingested: Ingested, reference: Reference) -> None:
    """The knowledge graph holds the same number of entities and relations as the in-process run."""
    stats = await ingested.pipe.graph.stats(TENANT)
    assert stats["entities"] == reference.entities > 0
    assert stats["relations"] == reference.relations > 0


async def test_broken_files_are_dead_lettered_with_their_reason(
    ingested: Ingested, corpus: CorpusManifest
) -> None:
    """Each broken file fails at parse with the expected reason and its dead letter names it."""
    status = {o.submission.path: o for o in ingested.outcomes}
    for broken in corpus.broken:
        outcome = status[str(broken.path)]
        assert (outcome.status, outcome.stage, outcome.reason) == ("failed", "parse", broken.expected_reason)
    letters = await asyncio.to_thread(ops.dead_letters, ingested.pipe.bootstrap, ingested.pipe.names)
    by_key = {letter.key: letter for letter in letters}
    assert len(letters) == len(corpus.broken)
    for broken in corpus.broken:
        letter = by_key[ids.doc_id(TENANT, source_uri(broken.path))]
        assert letter.reason == broken.expected_reason
        assert letter.source_topic == ingested.pipe.names.prefix + "docs.ingest"


async def test_search_finds_the_document_by_its_marker(ingested: Ingested, corpus: CorpusManifest) -> None:
    """A query for one document's unique marker returns that document among the top hits."""
    doc = corpus.documents[0]
    pipe = ingested.pipe
    result = await search(doc.marker, TENANT, pipe.embedder, pipe.vectors, pipe.graph, "chunks", limit=3)
    hits = [c for c in result.chunks if doc.marker_code in c.text]
    assert hits
    assert hits[0].source_uri == source_uri(doc.path)
    other = await search(doc.marker, "someone-else", pipe.embedder, pipe.vectors, pipe.graph, "chunks")
    assert other.chunks == []


async def test_republishing_unchanged_files_duplicates_nothing(
    ingested: Ingested, corpus: CorpusManifest, reference: Reference
) -> None:
    """At-least-once redelivery of whole documents leaves every count unchanged."""
    outcomes = await publish_and_wait(ingested.pipe, corpus.good_paths[:3])
    assert [o.status for o in outcomes] == ["indexed"] * 3
    for path in corpus.good_paths[:3]:
        assert await chunks_of(ingested.pipe, path) == reference.chunks[str(path)]
    stats = await ingested.pipe.graph.stats(TENANT)
    assert stats["entities"] == reference.entities


async def test_update_replaces_old_chunks_and_facts(ingested: Ingested, corpus: CorpusManifest) -> None:
    """A changed file replaces its chunks; facts only the old version stated leave the graph."""
    doc = next(d for d in corpus.documents if d.kind == "txt")
    old_version = next(o.submission.version for o in ingested.outcomes if o.submission.path == str(doc.path))
    doc.path.write_text(
        "Zelda Quarrington works for Vexillum Dynamics Inc. Vexillum Dynamics Inc is headquartered in Oslo.\n"
    )
    [outcome] = await publish_and_wait(ingested.pipe, [doc.path])
    assert outcome.status == "indexed"
    assert await chunks_of(ingested.pipe, doc.path, old_version) == 0
    assert await chunks_of(ingested.pipe, doc.path) == outcome.chunks == 1
    names = {e.name for e in await ingested.pipe.graph.find_entities(TENANT, "Vexillum Dynamics Inc", 5)}
    assert "Vexillum Dynamics Inc" in names
    doc_id = ids.doc_id(TENANT, source_uri(doc.path))
    assert await ingested.pipe.graph.count_chunks(doc_id, old_version) == 0


async def test_delete_removes_the_document_from_both_stores(
    ingested: Ingested, corpus: CorpusManifest
) -> None:
    """A delete reaches the vectors and the graph; other documents stay."""
    doc = next(d for d in corpus.documents if d.kind == "md")
    before = await ingested.pipe.vectors.count(
        await ingested.pipe.vectors.resolve("chunks"), must={"tenant": TENANT}
    )
    mine = await chunks_of(ingested.pipe, doc.path)
    outcome = await delete_and_wait(ingested.pipe, doc.path)
    assert outcome.status == "deleted"
    assert await chunks_of(ingested.pipe, doc.path) == 0
    doc_id = ids.doc_id(TENANT, source_uri(doc.path))
    version = next(o.submission.version for o in ingested.outcomes if o.submission.path == str(doc.path))
    assert await ingested.pipe.graph.count_chunks(doc_id, version) == 0
    after = await ingested.pipe.vectors.count(
        await ingested.pipe.vectors.resolve("chunks"), must={"tenant": TENANT}
    )
    assert after == before - mine


async def test_restart_mid_run_neither_drops_nor_duplicates(
    kafka_bootstrap: str,
    corpus: CorpusManifest,
    reference: Reference,
    embedder: LocalEmbedder,
    tmp_path: Path,
) -> None:
    """Stopping the workers mid-ingest and starting them again ends with exactly the reference counts."""
    names = TopicNames(prefix=f"e2e-{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path / "stack")
    # ~480 chunks: several embed batches, so it is certainly still in flight when the first small
    # document is announced and the workers are stopped
    big = generate_large_pdf(tmp_path / "big.pdf", pages=120)
    big_chunks = len(TokenChunker().chunk(parse_document(big, big.name).sections))
    # A fresh copy of the corpus (other tests in this module edit theirs); same seed, same content.
    fresh = generate_corpus(tmp_path / "corpus", n_docs=10, seed=11)
    by_name = {Path(path).name: count for path, count in reference.chunks.items()}
    paths = fresh.good_paths
    expected = [by_name[p.name] for p in paths]
    async with run_pipeline(settings, bootstrap=kafka_bootstrap, names=names, embedder=embedder) as pipe:
        watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
        publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
        subs = [await publisher.upsert(big, "bulk")] + [await publisher.upsert(p, TENANT) for p in paths]
        publisher.flush()
        first = await watcher.wait(subs, 120, stop_after=1)  # stop as soon as one document is done
        watcher.close()
    in_flight = [o for o in first if o.status == "pending"]
    assert in_flight, "the restart should happen with documents still in flight"
    async with run_pipeline(settings, bootstrap=kafka_bootstrap, names=names, embedder=embedder) as pipe:
        # Events announced before a new watcher starts are not seen by it: check the stores instead.
        big_id = ids.doc_id("bulk", source_uri(big))
        wanted_graph = (reference.entities, reference.relations)
        deadline = asyncio.get_running_loop().time() + 240
        while asyncio.get_running_loop().time() < deadline:
            counts = [await chunks_of(pipe, p) for p in paths]
            collection = await pipe.vectors.resolve("chunks")
            big_count = await pipe.vectors.count(collection, must={"doc_id": big_id}) if collection else 0
            stats = await pipe.graph.stats(TENANT)
            if (counts, big_count, (stats["entities"], stats["relations"])) == (
                expected,
                big_chunks,
                wanted_graph,
            ):
                break
            await asyncio.sleep(1)
        assert [await chunks_of(pipe, p) for p in paths] == expected
        assert (
            await pipe.vectors.count(await pipe.vectors.resolve("chunks"), must={"doc_id": big_id})
            == big_chunks
        )
        stats = await pipe.graph.stats(TENANT)
        assert (stats["entities"], stats["relations"]) == wanted_graph


async def test_workers_stopped_while_their_groups_form_start_again_and_ingest(
    kafka_bootstrap: str, embedder: LocalEmbedder, tmp_path: Path
) -> None:
    """Workers stopped half a second after they started (their consumer groups still forming) and
    started again take their partitions back: on Tansu, a member that left a forming group blocked it
    for good under dynamic membership (the restarted pipeline never indexed anything); as a static
    member (Settings.group_instance) the restarted process replaces its former self."""
    names = TopicNames(prefix=f"e2e-{uuid.uuid4().hex[:8]}.")
    settings = Settings(home=tmp_path / "stack")
    paths = generate_corpus(tmp_path / "corpus", n_docs=3, seed=5).good_paths
    async with run_pipeline(settings, bootstrap=kafka_bootstrap, names=names, embedder=embedder):
        await asyncio.sleep(0.5)
    async with run_pipeline(settings, bootstrap=kafka_bootstrap, names=names, embedder=embedder) as pipe:
        watcher = OutcomeWatcher(pipe.bootstrap, pipe.names, pipe.codec)
        publisher = DocumentPublisher(pipe.bootstrap, pipe.names, pipe.codec, pipe.blobs)
        subs = [await publisher.upsert(p, TENANT) for p in paths]
        publisher.flush()
        outcomes = await watcher.wait(subs, 90)
        watcher.close()
    assert [o.status for o in outcomes] == ["indexed"] * len(paths)

"""Extractive answers on the bundled golden set, answerers side by side (no LLM).

The set is indexed once in this process (the in-process stages into qdrant-edge and a FalkorDB
child); every question then runs through the agent graph once per answerer. Retrieval is the same for
all of them, so the columns differ only in how the answer is chosen from the same passages:

* ``lexical``: word overlap with a half-the-words gate (the answer before issue 11.3);
* ``sentences``: sentences scored by meaning and words, the gate on the best one (the default).

    python -m bench.answers                # the table
    python -m bench.answers --explain      # plus the best candidates of every miss
    python -m bench.answers --show q011    # every candidate of that question, if it missed
    python -m bench.answers --questions bench/heldout.jsonl   # the held-out questions instead

``bench/heldout.jsonl`` holds 40 questions about the same documents (20 asked in a user's own words,
20 the documents do not answer), written from the documents by a helper that never saw the code nor
the bundled questions: what the answerer's rules were fitted on is the bundled set, and this is how
one sees whether they hold on questions they were not fitted on.

``ragstream eval`` measures a running stack end to end (gateway, Kafka, cache); this measures only the
answer step, in about a minute, which is what tuning the answerer needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from services.agent.answer import SentenceAnswerer
from services.agent.graph import build_graph
from services.agent.wiring import agent_deps, person_test
from services.chunk.chunker import TokenChunker
from services.common.messages import Passage
from services.eval import GOLDEN_DIR
from services.eval.golden import GoldenItem, documents, load
from services.eval.local import ask_golden
from services.eval.metrics import Outcome, Scores, by_kind, score, summarise
from services.eval.runner import SCHEME, source_of
from services.extract_graph.extractor import RuleExtractor
from services.index.app import Indexer
from services.index.ledger import SqliteLedger
from services.inprocess import discard, ingest_inprocess
from services.models.embedder import LocalEmbedder
from services.stores.blobs import LocalBlobStore
from services.stores.graph_falkor import FalkorGraphStore, FalkorServer
from services.stores.hybrid import keywords
from services.stores.vectors_edge import EdgeVectorIndex

TENANT = "eval"
ALIAS = "chunks"
Asked = dict[str, tuple[str, list[Passage]]]  # question id → (query searched, passages answered from)
COLUMNS = ("hit@1", "hit@5", "fact", "cites", "idk", "false_idk")


async def ask_all(
    graph: Any, items: list[GoldenItem], hits: dict[str, list[str]], asked: Asked
) -> list[Scores]:
    """Every question through the graph, conversations in order; ``asked`` gets the query each was
    searched with (a follow-up's pronoun resolved) and the passages it was answered from."""
    scored = []
    async for done in ask_golden(graph, TENANT, items):
        final = done.state
        outcome = Outcome(
            answer=final.answer,
            cited=[source_of(c.source_uri) for c in final.citations],
            hits=hits.get(done.item.id, []),
            seconds=done.seconds,
        )
        scored.append(score(done.item, outcome))
        asked[done.item.id] = (final.query or done.item.question, final.passages)
    return scored


def table(results: dict[str, list[Scores]]) -> str:
    names = list(results)
    lines = [f"{'':<22}" + "".join(f"{n:>12}" for n in names)]
    overall = {n: summarise(s) for n, s in results.items()}
    kinds = {n: by_kind(s) for n, s in results.items()}
    for metric in COLUMNS:
        lines.append(f"{metric:<22}" + "".join(f"{_fmt(overall[n][metric]):>12}" for n in names))
    for kind in kinds[names[0]]:
        for metric in ("hit@1", "fact", "cites", "idk", "false_idk"):
            values = [kinds[n][kind][metric] for n in names]
            if any(v is not None for v in values):
                lines.append(f"{kind + ' ' + metric:<22}" + "".join(f"{_fmt(v):>12}" for v in values))
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def right(s: Scores) -> bool:
    return s.fact if s.item.answerable else s.idk


async def explain(
    scorer: SentenceAnswerer, scores: list[Scores], before: list[Scores], asked: Asked, show: set[str]
) -> None:
    """The best candidates of every question the sentence answerer got wrong, among the passages it
    was answered from (a chained question's second search included)."""
    was = {s.item.id: right(s) for s in before}
    for s in scores:
        if right(s):
            continue
        query, passages = asked[s.item.id]
        ranked = await scorer.score(query, passages)
        mark = " (lexical: right)" if was.get(s.item.id) else ""
        print(f"\n{s.item.id} [{s.item.kind}]{mark} {s.item.question}  facts={list(s.item.facts)}")
        if query != s.item.question:
            print(f"  searched: {query}")
        print(f"  answer: {s.answer[:160]}")
        print(f"  passages: {', '.join(f'{source_of(p.source_uri)}' for p in passages)}")
        holding = [i for i, c in enumerate(ranked) if any(f.lower() in c.text.lower() for f in s.item.facts)]
        if holding:
            at = holding[0]
            print(f"  the fact is in candidate {at + 1} of {len(ranked)}: {ranked[at].text[:100]}")
        for c in ranked[: len(ranked) if s.item.id in show else 4]:
            print(
                f"  {scorer.value(c):.3f} sem={c.semantic:.3f} lex={c.lexical:.2f} shaped={c.shaped:d} "
                f"p{c.rank}: {c.text[:110]}"
            )


@dataclasses.dataclass(frozen=True)
class Golden:
    """A golden set indexed in this process."""

    items: list[GoldenItem]
    embedder: LocalEmbedder
    vectors: EdgeVectorIndex
    graph: FalkorGraphStore


@contextlib.asynccontextmanager
async def golden_indexed(golden: Path, questions: Path | None = None) -> AsyncIterator[Golden]:
    """The set's documents through the in-process stages into qdrant-edge and a FalkorDB child, in a
    temporary directory, named as `ragstream eval` names them."""
    docs = golden / "docs"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        embedder = LocalEmbedder()
        vectors = EdgeVectorIndex(root / "vectors")
        with FalkorServer(root / "graph") as server:
            graph = await FalkorGraphStore.connect(server.host, server.port)
            indexer = Indexer(discard, vectors, graph, SqliteLedger(root / "ledger.sqlite"), ALIAS)
            started = time.perf_counter()
            report = await ingest_inprocess(
                documents(golden),
                TENANT,
                blobs=LocalBlobStore(root / "blobs"),
                chunker=TokenChunker(),
                embedder=embedder,
                extractor=RuleExtractor(),
                indexer=indexer,
                # as `ragstream eval` names them: ids (and so the order of ties) do not depend on
                # where the checkout is (file URIs moved hit@1 by 0.1 between two directories)
                uri_of=lambda path: SCHEME + path.relative_to(docs).as_posix(),
            )
            print(f"indexed {len(report.indexed)} documents, {report.chunks} chunks in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            try:
                yield Golden(load(golden, questions), embedder, vectors, graph)
            finally:
                await graph.close()
                await vectors.close()


async def main(golden: Path, questions: Path | None, explain_misses: bool, show: set[str]) -> None:
    async with golden_indexed(golden, questions) as indexed:
        items, embedder = indexed.items, indexed.embedder
        deps = agent_deps(embedder, indexed.vectors, indexed.graph, ALIAS)
        hits = {}
        for item in items:
            if item.turn == 1 and item.answerable:
                found = await deps.retrieve(item.question, TENANT, 5)
                hits[item.id] = [source_of(p.source_uri) for p in found.passages]
        scorer = SentenceAnswerer(
            lambda texts: embedder.embed(texts, interactive=True),
            keywords,
            person=person_test(RuleExtractor()),
        )
        answerers = {
            "lexical": dataclasses.replace(deps, answer=None, next_hop=None),
            "sentences": deps,  # the product's wiring
        }
        results: dict[str, list[Scores]] = {}
        asked: Asked = {}
        for name, variant in answerers.items():
            started = time.perf_counter()
            results[name] = await ask_all(build_graph(variant), items, hits, asked)
            print(f"{name}: {len(items)} questions in {time.perf_counter() - started:.1f} s")
        print()
        print(table(results))
        if explain_misses or show:
            await explain(scorer, results["sentences"], results["lexical"], asked, show)


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--golden", type=Path, default=GOLDEN_DIR, help="a golden set directory")
    parser.add_argument(
        "--questions", type=Path, metavar="FILE", help="ask these questions (JSONL) instead of the set's own"
    )
    parser.add_argument("--explain", action="store_true", help="print the best candidates of every miss")
    parser.add_argument("--show", action="append", default=[], metavar="ID", help="every candidate of a miss")
    args = parser.parse_args()
    asyncio.run(main(args.golden, args.questions, args.explain, set(args.show)))


if __name__ == "__main__":
    cli()

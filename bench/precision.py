"""The in-process embedder at float32 and at the precision ``auto`` picks for this CPU, side by side.

    python -m bench.precision [--repeat 3]

One process, the same texts for both: the bundled golden set's documents chunked as the pipeline
chunks them (bulk: passes of 16, as ingestion runs them) and its questions (one at a time, as chat
asks them). Reported per precision: texts per second, the cosine of each vector to the float32 one,
and retrieval on the golden set by brute-force cosine over those chunks (hit@1, hit@5 of a chunk from
an expected document), so speed and quality are read in one table.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from services.chunk.chunker import TokenChunker
from services.eval import GOLDEN_DIR
from services.eval.golden import documents, load
from services.models.embedder import LocalEmbedder
from services.models.precision import choose, cpu_flags, describe
from services.parse.parsers import parse_document


def corpus() -> tuple[list[str], list[str]]:
    """Chunk texts and the name of the document each comes from."""
    chunker = TokenChunker()
    texts, sources = [], []
    docs = GOLDEN_DIR / "docs"
    for path in documents(GOLDEN_DIR):
        parsed = parse_document(path, path.name)
        for chunk in chunker.chunk(parsed.sections):
            texts.append(chunk.text)
            sources.append(path.relative_to(docs).as_posix())
    return texts, sources


def timed(embedder: LocalEmbedder, texts: Sequence[str], per_pass: int, repeat: int) -> tuple[float, list]:
    """Best texts/s over ``repeat`` runs of ``per_pass`` texts a pass, and the vectors."""
    best, vectors = 0.0, []
    for _ in range(repeat):
        started = time.perf_counter()
        vectors = []
        for i in range(0, len(texts), per_pass):
            vectors.extend(embedder.embed_sync(texts[i : i + per_pass], batch_size=per_pass))
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best, vectors


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def main(repeat: int) -> None:
    chosen = choose("auto")
    print(f"CPU bf16 support: {sorted(cpu_flags() & {'amx_bf16', 'avx512_bf16'}) or 'none'}; auto = {chosen}")
    texts, sources = corpus()
    items = [i for i in load(GOLDEN_DIR) if i.answerable and i.turn == 1]
    questions = [i.question for i in items]
    print(f"{len(texts)} chunks, {len(questions)} questions\n")
    rows = {}
    reference: dict[str, list] = {}
    for precision in ("float32", chosen) if chosen != "float32" else ("float32",):
        embedder = LocalEmbedder(precision=precision)
        embedder.embed_sync(texts[:16])  # warm-up
        chunk_rate, chunk_vectors = timed(embedder, texts, 16, repeat)
        query_rate, query_vectors = timed(embedder, questions, 1, repeat)
        if precision == "float32":
            reference = {"chunks": chunk_vectors, "queries": query_vectors}
        cosines = [dot(a, b) for a, b in zip(chunk_vectors, reference["chunks"], strict=True)]
        cosines += [dot(a, b) for a, b in zip(query_vectors, reference["queries"], strict=True)]
        hit1 = hit5 = 0
        for item, q in zip(items, query_vectors, strict=True):
            ranked = sorted(range(len(texts)), key=lambda i, q=q: -dot(q, chunk_vectors[i]))
            found = [sources[i] for i in ranked[:5]]
            hit1 += found[0] in item.sources
            hit5 += any(s in item.sources for s in found)
        rows[describe(precision)] = (
            chunk_rate,
            query_rate,
            min(cosines),
            hit1 / len(items),
            hit5 / len(items),
        )
    base = rows["float32"]
    print(f"{'precision':<26}{'chunks/s':>10}{'ratio':>8}{'queries/s':>11}{'ratio':>8}"
          f"{'min cos':>9}{'hit@1':>7}{'hit@5':>7}")  # fmt: skip
    for name, (chunks, queries, cosine, h1, h5) in rows.items():
        print(f"{name:<26}{chunks:>10.1f}{chunks / base[0]:>7.2f}x{queries:>11.1f}{queries / base[1]:>7.2f}x"
              f"{cosine:>9.4f}{h1:>7.2f}{h5:>7.2f}")  # fmt: skip


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the best is kept)")
    main(parser.parse_args().repeat)


if __name__ == "__main__":
    cli()

"""The generated corpus and the raw embedder: every chunk embedded in one call, the ceiling."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.corpus import CorpusManifest, generate_corpus, generate_large_pdf
from bench.ingest import EMBED_BATCH, Figures


def make_corpus(dest: Path, n_docs: int, seed: int, pages_per_pdf: int) -> CorpusManifest:
    """The generated corpus (no broken files). ``pages_per_pdf`` > 0 replaces every PDF with a
    large prose PDF of that many pages (heavier documents; the default keeps the corpus's own)."""
    manifest = generate_corpus(dest, n_docs=n_docs, seed=seed, include_broken=False)
    if pages_per_pdf > 0:
        for k, doc in enumerate(manifest.by_kind("pdf")):
            generate_large_pdf(doc.path, pages=pages_per_pdf, seed=seed * 1000 + k)
    return manifest


def corpus_summary(paths: list[Path]) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for p in paths:
        kinds[p.suffix.lstrip(".")] = kinds.get(p.suffix.lstrip("."), 0) + 1
    return {
        "files": len(paths),
        "bytes": sum(p.stat().st_size for p in paths),
        "by_type": dict(sorted(kinds.items())),
    }


@dataclass(frozen=True)
class PlacedChunk:
    title: str | None
    section: str | None
    text: str


def chunk_texts(paths: list[Path], chunker: Any) -> list[str]:
    """What the pipeline's embed stage reads for these files' chunks: each with its document's title and
    section heading (services/embed/app.py: read_as), so the raw embedder does the same work."""
    from services.embed.app import read_as
    from services.parse.parsers import parse_document

    texts: list[str] = []
    for path in paths:
        parsed = parse_document(path, path.name)
        texts.extend(
            read_as(PlacedChunk(parsed.title, c.section, c.text)) for c in chunker.chunk(parsed.sections)
        )
    return texts


def bench_raw(paths: list[Path], embedder: Any, chunker: Any) -> Figures:
    started = time.perf_counter()
    texts = chunk_texts(paths, chunker)
    parse_chunk_s = time.perf_counter() - started
    embedder.embed_sync(texts[:EMBED_BATCH], batch_size=EMBED_BATCH)  # warm-up, untimed
    started = time.perf_counter()
    vectors = embedder.embed_sync(texts, batch_size=EMBED_BATCH)
    seconds = time.perf_counter() - started
    assert len(vectors) == len(texts)
    return Figures(
        "raw-embedder",
        len(paths),
        len(texts),
        seconds,
        stages={"parse+chunk (untimed)": parse_chunk_s, "embed": seconds},
        extra={"batch_size": EMBED_BATCH},
    )

"""Deterministic test corpus: PDF, DOCX, HTML, Markdown and text documents about a fictional world.

``generate_corpus`` writes documents in roughly equal shares per type, each with a few sections of
2-6 paragraphs, written in plain sentence patterns an offline extractor can recognise::

    Alice Moreau works for Northwind Analytics.            (Person WORKS_FOR Organization)
    Northwind Analytics is headquartered in Lyon, France.  (Organization LOCATED_IN Location)
    Lyon is a city in France.                              (Location LOCATED_IN Location)
    Alice Moreau lives in Porto.                           (Person LOCATED_IN Location)
    The Falcon Router is a product of Northwind Analytics. (Product PART_OF Organization)
    Quantum annealing is part of optimisation research.    (Concept PART_OF Concept)
    Alice Moreau is an expert in quantum annealing.        (Person RELATES_TO Concept)
    Northwind Analytics invests in quantum annealing.      (Organization RELATES_TO Concept)

Facts come from one seeded "world", so they never contradict each other across documents; each
document draws two organisations (with their people, products, cities and concepts), so documents
share some entities and not others. Concepts and fields are written in lower case except at the
start of a sentence: compare entity names case-insensitively. Every document carries a unique
marker sentence ("The reference code for this document is RS-7003, codename Amber Heron.") so a
search test can target it. Generation is byte-for-byte deterministic for a given seed.

Run ``python -m bench.corpus DEST`` to write a corpus and its ``manifest.json`` next to it.

This module holds the manifest types, ``generate_corpus`` and the command line; the word lists,
the world and the per-document plans live in :mod:`bench.corpus_world`, the per-format writers
and ``generate_large_pdf`` in :mod:`bench.corpus_writers`. Their public names are re-exported
here, so import everything from ``bench.corpus``.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus_world import (
    CITIES,
    CODENAME_FIRST,
    CODENAME_SECOND,
    CONCEPTS,
    FILLER,
    FIRST_NAMES,
    LAST_NAMES,
    ORG_FIRST,
    ORG_SECOND,
    PRODUCT_FIRST,
    PRODUCT_SECOND,
    ROLES,
    SECTION_TITLES,
    TITLE_SUFFIXES,
    Fact,
    _build_world,
    _plan_document,
)
from bench.corpus_writers import (
    LARGE_PDF_CHAPTER_EVERY,
    MD_FENCE_COMMENT,
    _write_docx,
    _write_html,
    _write_markdown,
    _write_pdf,
    _write_text,
    generate_large_pdf,
    large_pdf_chapter_title,
    large_pdf_page_sentence,
)

__all__ = [
    "CITIES",
    "CODENAME_FIRST",
    "CODENAME_SECOND",
    "CONCEPTS",
    "DOCX",
    "FILLER",
    "FIRST_NAMES",
    "HTML",
    "KINDS",
    "LARGE_PDF_CHAPTER_EVERY",
    "LAST_NAMES",
    "MARKDOWN",
    "MD_FENCE_COMMENT",
    "ORG_FIRST",
    "ORG_SECOND",
    "PDF",
    "PRODUCT_FIRST",
    "PRODUCT_SECOND",
    "ROLES",
    "SECTION_TITLES",
    "TEXT",
    "TITLE_SUFFIXES",
    "BrokenDocument",
    "CorpusDocument",
    "CorpusManifest",
    "Fact",
    "generate_corpus",
    "generate_large_pdf",
    "large_pdf_chapter_title",
    "large_pdf_page_sentence",
    "main",
]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"

KINDS: tuple[str, ...] = ("pdf", "docx", "html", "md", "txt")
_KIND_TYPES = {"pdf": PDF, "docx": DOCX, "html": HTML, "md": MARKDOWN, "txt": TEXT}


# --------------------------------------------------------------------------------------------------
# Manifest types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorpusDocument:
    """A good document and what a correct pipeline must find in it."""

    path: Path
    filename: str
    kind: str  # pdf | docx | html | md | txt
    content_type: str
    title: str  # the title the parser should report (the file stem for .txt)
    marker: str  # a sentence that occurs in this document only
    marker_code: str  # "RS-7003"
    marker_section: str | None  # the section title the marker sits under (None for .txt)
    marker_page: int | None  # 1-based page of the marker (PDF only)
    section_titles: tuple[str, ...]  # headings the parser should report (empty for .txt)
    entities: tuple[str, ...]  # every entity name written into the document, sorted
    entity_labels: dict[str, str]  # name -> Person | Organization | Location | Concept | Product
    facts: tuple[Fact, ...]
    forbidden: tuple[str, ...] = ()  # noise (html chrome, scripts) that must NOT reach the text
    table_rows: tuple[tuple[str, ...], ...] = ()  # docx table cells (header first)
    page_count: int | None = None


@dataclass(frozen=True, slots=True)
class BrokenDocument:
    path: Path
    filename: str
    expected_reason: str  # a services.parse.parsers.ParseError reason
    description: str


@dataclass(slots=True)
class CorpusManifest:
    root: Path
    seed: int
    documents: list[CorpusDocument] = field(default_factory=list)
    broken: list[BrokenDocument] = field(default_factory=list)

    @property
    def good_paths(self) -> list[Path]:
        return [d.path for d in self.documents]

    @property
    def broken_paths(self) -> list[Path]:
        return [b.path for b in self.broken]

    @property
    def all_paths(self) -> list[Path]:
        return self.good_paths + self.broken_paths

    def document(self, filename: str) -> CorpusDocument:
        for doc in self.documents:
            if doc.filename == filename:
                return doc
        raise KeyError(filename)

    def by_kind(self, kind: str) -> list[CorpusDocument]:
        return [d for d in self.documents if d.kind == kind]

    def entity_documents(self) -> dict[str, list[str]]:
        """Entity name -> filenames of the documents that mention it."""
        out: dict[str, list[str]] = {}
        for doc in self.documents:
            for name in doc.entities:
                out.setdefault(name, []).append(doc.filename)
        return out

    def to_dict(self) -> dict[str, Any]:
        def plain(obj: Any) -> Any:
            if isinstance(obj, Path):
                return str(obj)
            if isinstance(obj, dict):
                return {k: plain(v) for k, v in obj.items()}
            if isinstance(obj, list | tuple):
                return [plain(v) for v in obj]
            return obj

        return {
            "root": str(self.root),
            "seed": self.seed,
            "documents": [plain(asdict(d)) for d in self.documents],
            "broken": [plain(asdict(b)) for b in self.broken],
        }

    def save(self, path: Path) -> Path:
        """Write the manifest as JSON (keep it outside ``root`` if ``root`` is ingested as a folder)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path


def _write_broken(dest: Path, seed: int) -> list[BrokenDocument]:
    rng = random.Random(seed)
    items = [
        ("broken-empty.txt", b"", "empty", "a zero-byte text file"),
        (
            "broken-corrupt.pdf",
            b"%PDF-1.7\n" + rng.randbytes(4096),
            "corrupt",
            "a PDF header followed by random bytes",
        ),
        (
            "broken-unsupported.xyz",
            b"XYZ\x00\x01 proprietary container " + rng.randbytes(256),
            "unsupported_type",
            "an unknown extension with unrecognisable bytes",
        ),
        (
            "broken-not-a-zip.docx",
            b"This is plain text pretending to be a Word document.\n",
            "corrupt",
            "a .docx that is not a zip archive",
        ),
        (
            "broken-scripts-only.html",
            b"<!DOCTYPE html><html><head><title></title><script>var a = 1;</script>"
            b"<style>p { color: red; }</style></head><body><script>document.write('x');</script>"
            b"<noscript>enable js</noscript></body></html>",
            "empty",
            "HTML whose only content is scripts and styles",
        ),
    ]
    out = []
    for name, data, reason, description in items:
        path = dest / name
        path.write_bytes(data)
        out.append(BrokenDocument(path, name, reason, description))
    return out


def generate_corpus(
    dest: Path, n_docs: int = 24, seed: int = 7, include_broken: bool = True
) -> CorpusManifest:
    """Write ``n_docs`` documents (types in turn: pdf, docx, html, md, txt) and, if asked, one
    broken file per failure mode into ``dest``; return what was written. Files already in ``dest``
    are left alone (same names are overwritten)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    world = _build_world(seed)
    codenames = [f"{a} {b}" for a in CODENAME_FIRST for b in CODENAME_SECOND]
    random.Random(seed ^ 0x5EED).shuffle(codenames)
    manifest = CorpusManifest(root=dest, seed=seed)
    for index in range(n_docs):
        kind = KINDS[index % len(KINDS)]
        plan = _plan_document(world, seed, index, kind, codenames[index % len(codenames)])
        path = dest / plan.filename
        marker_page: int | None = None
        page_count: int | None = None
        forbidden: tuple[str, ...] = ()
        table_rows: tuple[tuple[str, ...], ...] = ()
        title = plan.title
        section_titles = tuple(t for t, _ in plan.sections)
        marker_section: str | None = plan.marker_section
        if kind == "pdf":
            marker_page, page_count = _write_pdf(plan, path)
        elif kind == "docx":
            table_rows = _write_docx(plan, path)
        elif kind == "html":
            orgs = [n for n, label in plan.entity_labels.items() if label == "Organization"]
            forbidden = _write_html(plan, path, orgs)
        elif kind == "md":
            _write_markdown(plan, path)
        else:
            _write_text(plan, path)
            title = path.stem
            section_titles = ()
            marker_section = None
        manifest.documents.append(
            CorpusDocument(
                path=path,
                filename=plan.filename,
                kind=kind,
                content_type=_KIND_TYPES[kind],
                title=title,
                marker=plan.marker,
                marker_code=plan.marker_code,
                marker_section=marker_section,
                marker_page=marker_page,
                section_titles=section_titles,
                entities=tuple(sorted(plan.entity_labels)),
                entity_labels=dict(sorted(plan.entity_labels.items())),
                facts=tuple(plan.facts),
                forbidden=forbidden,
                table_rows=table_rows,
                page_count=page_count,
            )
        )
    if include_broken:
        manifest.broken.extend(_write_broken(dest, seed))
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the ragstream test corpus.")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-broken", action="store_true")
    parser.add_argument("--large-pdf-pages", type=int, default=0)
    args = parser.parse_args(argv)
    manifest = generate_corpus(args.dest, args.docs, args.seed, include_broken=not args.no_broken)
    saved = manifest.save(args.dest.parent / f"{args.dest.name}-manifest.json")
    print(f"{len(manifest.documents)} documents, {len(manifest.broken)} broken -> {args.dest} ({saved})")
    if args.large_pdf_pages:
        print(generate_large_pdf(args.dest.parent, args.large_pdf_pages, args.seed))


if __name__ == "__main__":
    main()

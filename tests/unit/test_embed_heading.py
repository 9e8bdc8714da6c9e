"""What a chunk is embedded and keyword-indexed as: its text under its document title and section
heading, so a chunk that never names its topic is still found by it (issue 11.4)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.messages import ChunkCreated
from services.embed.app import heading, read_as
from services.stores.hybrid import keywords, sparse_document


def chunk(text: str, title: str = "", section: str | None = None) -> ChunkCreated:
    return ChunkCreated(
        tenant="t", doc_id="d", version="v", operation="UPSERT", chunk_id="c", ordinal=0, chunk_count=1,
        text=text, text_sha256="0" * 64, section=section, source_uri="file:///p.md", filename="p.md",
        title=title, submitted_at=datetime.now(UTC),
    )  # fmt: skip


def test_the_embedder_reads_title_and_section_before_the_text() -> None:
    hotels = chunk("The limit is EUR 160 per night.", "Travel and expenses policy", "3. Hotels")
    assert read_as(hotels) == "Travel and expenses policy — 3. Hotels\n\nThe limit is EUR 160 per night."


def test_a_heading_is_said_once_and_not_when_the_text_starts_with_it() -> None:
    assert heading(chunk("Some text.", "Policy", "Policy")) == "Policy"
    assert heading(chunk("# Policy\n\nSome text.", "Policy", None)) == ""
    assert read_as(chunk("Some text.")) == "Some text."
    assert heading(chunk("Text.", "A  title\n", " ")) == "A title"


def test_the_keyword_index_finds_a_chunk_by_its_section() -> None:
    payload = {"text": "The limit is EUR 160 per night.", "title": "Travel policy", "section": "3. Hotels"}
    document = sparse_document(payload)
    assert document is not None
    assert keywords("hotels") <= set(document.indices)
    plain = sparse_document({"text": payload["text"]})
    assert plain is not None
    assert not keywords("hotels") <= set(plain.indices)

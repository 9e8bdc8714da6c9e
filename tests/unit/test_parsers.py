"""Parsing each supported type from generated files, and every failure mode's reason."""

from __future__ import annotations

import gzip
import pickle
import random
import shutil
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from bench.corpus import (
    MD_FENCE_COMMENT,
    CorpusManifest,
    generate_corpus,
    generate_large_pdf,
    large_pdf_chapter_title,
    large_pdf_page_sentence,
)
from services.parse.parsers import (
    DOCX,
    HTML,
    MARKDOWN,
    PDF,
    TEXT,
    ParsedDocument,
    ParseError,
    detect_content_type,
    normalize_text,
    parse_document,
)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusManifest:
    return generate_corpus(tmp_path_factory.mktemp("corpus"), n_docs=10, seed=7)


@pytest.fixture(scope="module")
def parsed(corpus: CorpusManifest) -> dict[str, ParsedDocument]:
    return {d.filename: parse_document(d.path, d.filename) for d in corpus.documents}


def marker_sections(doc_parsed: ParsedDocument, marker: str) -> list[tuple[str | None, int | None]]:
    return [(s.title, s.page) for s in doc_parsed.sections if marker in flat(s.text)]


def test_corpus_has_every_type_in_equal_shares(corpus: CorpusManifest) -> None:
    """Ten documents cover pdf, docx, html, md and txt twice each."""
    kinds = [d.kind for d in corpus.documents]
    assert {k: kinds.count(k) for k in set(kinds)} == {"pdf": 2, "docx": 2, "html": 2, "md": 2, "txt": 2}


def test_pdf_keeps_text_pages_and_outline_headings(corpus: CorpusManifest, parsed: dict) -> None:
    """PDF text is extracted per 1-based page and outline headings become section titles."""
    for doc in corpus.by_kind("pdf"):
        result = parsed[doc.filename]
        assert result.content_type == PDF
        assert result.title == doc.title
        assert result.page_count == doc.page_count
        assert doc.page_count >= 3
        assert {s.page for s in result.sections} == set(range(1, doc.page_count + 1))
        assert list(dict.fromkeys(s.title for s in result.sections)) == list(doc.section_titles)
        assert marker_sections(result, doc.marker) == [(doc.marker_section, doc.marker_page)]
        # headings are section titles, not body text
        assert all(not s.text.startswith(s.title or "\0") for s in result.sections)


def test_docx_headings_become_sections_and_tables_are_included(corpus: CorpusManifest, parsed: dict) -> None:
    """DOCX heading paragraphs start sections, the Title style is the title and table cells are text."""
    for doc in corpus.by_kind("docx"):
        result = parsed[doc.filename]
        assert result.content_type == DOCX
        assert result.title == doc.title
        assert result.page_count is None
        assert [s.title for s in result.sections] == list(doc.section_titles)
        assert marker_sections(result, doc.marker) == [(doc.marker_section, None)]
        text = result.text
        assert doc.table_rows
        for row in doc.table_rows:
            assert " | ".join(row) in text


def test_html_drops_noise_and_keeps_article(corpus: CorpusManifest, parsed: dict) -> None:
    """HTML scripts, styles, nav, site header/footer, aside, noscript and forms never reach the text."""
    for doc in corpus.by_kind("html"):
        result = parsed[doc.filename]
        assert result.content_type == HTML
        assert result.title == doc.title
        assert [s.title for s in result.sections] == list(doc.section_titles)
        text = result.text
        assert doc.forbidden
        for noise in doc.forbidden:
            assert noise not in text
        assert marker_sections(result, doc.marker) == [(doc.marker_section, None)]
        # inline <strong> around organisation names adds no stray spaces
        assert " ." not in text
        assert "  " not in text


def test_markdown_headings_and_fenced_code(corpus: CorpusManifest, parsed: dict) -> None:
    """Markdown '#' headings start sections while a '#' line inside a code fence stays body text."""
    for doc in corpus.by_kind("md"):
        result = parsed[doc.filename]
        assert result.content_type == MARKDOWN
        assert result.title == doc.title
        assert [s.title for s in result.sections] == list(doc.section_titles)
        assert MD_FENCE_COMMENT in result.sections[0].text
        assert marker_sections(result, doc.marker) == [(doc.marker_section, None)]


def test_plain_text_is_one_section_titled_by_file_stem(corpus: CorpusManifest, parsed: dict) -> None:
    """A .txt file becomes one untitled section and the document title falls back to the stem."""
    for doc in corpus.by_kind("txt"):
        result = parsed[doc.filename]
        assert result.content_type == TEXT
        assert result.title == Path(doc.filename).stem == doc.title
        assert len(result.sections) == 1
        assert result.sections[0].title is None
        assert doc.marker in result.text


def test_every_entity_and_fact_sentence_survives_parsing(corpus: CorpusManifest, parsed: dict) -> None:
    """Each entity name and fact sentence written into a document is in its parsed text."""
    for doc in corpus.documents:
        text = flat(parsed[doc.filename].text)
        lowered = text.lower()
        for name in doc.entities:
            assert name.lower() in lowered, (doc.filename, name)
        for fact in doc.facts:
            assert fact.sentence in text, (doc.filename, fact.sentence)


def test_text_is_normalised(corpus: CorpusManifest, parsed: dict) -> None:
    """Parsed sections have no leading/trailing space, no double spaces, at most one blank line."""
    for result in parsed.values():
        for section in result.sections:
            assert section.text == section.text.strip()
            assert "  " not in section.text
            assert "\n\n\n" not in section.text
            assert "\t" not in section.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken-empty.txt", "empty"),
        ("broken-corrupt.pdf", "corrupt"),
        ("broken-unsupported.xyz", "unsupported_type"),
        ("broken-not-a-zip.docx", "corrupt"),
        ("broken-scripts-only.html", "empty"),
    ],
)
def test_broken_files_fail_with_expected_reason(corpus: CorpusManifest, name: str, reason: str) -> None:
    """Each broken corpus file raises ParseError with the reason its manifest entry promises."""
    broken = {b.filename: b for b in corpus.broken}[name]
    assert broken.expected_reason == reason
    with pytest.raises(ParseError) as info:
        parse_document(broken.path, broken.filename)
    assert info.value.reason == reason
    assert info.value.message


def test_corrupt_pdf_message_carries_library_error(corpus: CorpusManifest) -> None:
    """A corrupt PDF's message names the pypdf exception that rejected it."""
    broken = {b.filename: b for b in corpus.broken}["broken-corrupt.pdf"]
    with pytest.raises(ParseError, match=r"Pdf\w*Error") as info:
        parse_document(broken.path, broken.filename)
    assert str(info.value).startswith("corrupt: ")


def test_encrypted_pdf_is_reported_and_owner_only_pdf_opens(corpus: CorpusManifest, tmp_path: Path) -> None:
    """A user-password PDF fails as 'encrypted'; one locked only by an owner password still parses."""
    source = corpus.by_kind("pdf")[0]
    for user, expect_error in (("secret", True), ("", False)):
        writer = PdfWriter(clone_from=PdfReader(source.path))
        writer.encrypt(user_password=user, owner_password="owner", algorithm="AES-256")
        target = tmp_path / f"locked-{bool(user)}.pdf"
        with target.open("wb") as fh:
            writer.write(fh)
        if expect_error:
            with pytest.raises(ParseError) as info:
                parse_document(target, target.name)
            assert info.value.reason == "encrypted"
        else:
            assert source.marker in flat(parse_document(target, target.name).text)


def test_password_protected_docx_container_is_encrypted(tmp_path: Path) -> None:
    """An OLE container holding an EncryptionInfo stream and named .docx is reported as 'encrypted'."""
    target = tmp_path / "locked.docx"
    target.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\0" * 64
    )
    with pytest.raises(ParseError) as info:
        parse_document(target, target.name)
    assert info.value.reason == "encrypted"


def test_file_over_limit_is_too_large(corpus: CorpusManifest) -> None:
    """A file bigger than max_bytes is refused as 'too_large' before any parsing."""
    doc = corpus.by_kind("md")[0]
    with pytest.raises(ParseError) as info:
        parse_document(doc.path, doc.filename, max_bytes=100)
    assert info.value.reason == "too_large"


def test_missing_file_is_not_a_parse_error(tmp_path: Path) -> None:
    """A path that does not exist raises FileNotFoundError, not ParseError."""
    with pytest.raises(FileNotFoundError):
        parse_document(tmp_path / "nope.txt", "nope.txt")


@pytest.mark.parametrize(
    ("kind", "lying_name", "expected"),
    [
        ("pdf", "report.txt", PDF),
        ("docx", "notes.pdf", DOCX),
        ("html", "page.md", HTML),
        ("pdf", "scan.xyz", PDF),
    ],
)
def test_magic_bytes_win_when_the_extension_lies(
    corpus: CorpusManifest, tmp_path: Path, kind: str, lying_name: str, expected: str
) -> None:
    """A file whose extension lies is detected and parsed by its magic bytes."""
    doc = corpus.by_kind(kind)[0]
    target = tmp_path / lying_name
    shutil.copyfile(doc.path, target)
    assert detect_content_type(lying_name, target.read_bytes()[:8192]) == expected
    result = parse_document(target, lying_name)
    assert result.content_type == expected
    assert doc.marker in flat(result.text)


def test_detect_content_type_rules() -> None:
    """Extensions map to types, unknown or foreign binaries are unsupported, bare text is plain text."""
    assert detect_content_type("a.md", b"# Title\n") == MARKDOWN
    assert detect_content_type("A.HTM", b"<p>x</p>") == HTML
    assert detect_content_type("notes", b"just some words\n") == TEXT
    assert detect_content_type("x.txt", b"  <!DOCTYPE html><html><body>x</body></html>") == HTML
    assert detect_content_type("x.bin", b"junk\n%PDF-1.7\n") == PDF  # header within the first KiB
    for name, head in (
        ("x.xyz", b"hello"),
        ("archive.zip", b"PK\x03\x04....other/file.xml"),
        ("legacy.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16),
        ("blob", b"\x00\x01\x02\x03"),
    ):
        with pytest.raises(ParseError) as info:
            detect_content_type(name, head)
        assert info.value.reason == "unsupported_type"


def test_claimed_content_type_is_used_when_the_name_says_nothing(
    corpus: CorpusManifest, tmp_path: Path
) -> None:
    """A supported MIME claim (with parameters) decides the parser for a file with a useless name."""
    doc = corpus.by_kind("md")[0]
    target = tmp_path / "upload.bin"
    shutil.copyfile(doc.path, target)
    result = parse_document(target, "upload.bin", "text/markdown; charset=utf-8")
    assert result.content_type == MARKDOWN
    assert [s.title for s in result.sections] == list(doc.section_titles)


def test_zip_that_is_not_a_word_document_is_corrupt_docx(tmp_path: Path) -> None:
    """A real zip named .docx without word/document.xml is 'corrupt'."""
    target = tmp_path / "fake.docx"
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("hello.txt", "hello")
    with pytest.raises(ParseError) as info:
        parse_document(target, target.name)
    assert info.value.reason == "corrupt"


def test_plain_text_falls_back_from_utf8(tmp_path: Path) -> None:
    """Non-UTF-8 text (cp1252) and UTF-16 with a BOM are decoded rather than rejected."""
    cp = tmp_path / "legacy.txt"
    cp.write_bytes("Caf\u00e9 cr\u00e8me \u2013 na\u00efve".encode("cp1252"))
    assert parse_document(cp, cp.name).text == "Caf\u00e9 cr\u00e8me \u2013 na\u00efve"
    u16 = tmp_path / "wide.txt"
    u16.write_bytes("Gr\u00fc\u00dfe aus Graz".encode("utf-16"))
    assert parse_document(u16, u16.name).text == "Gr\u00fc\u00dfe aus Graz"


@pytest.mark.parametrize(
    ("name", "data", "named"),
    [
        ("nuls.txt", b"\x00\x01\x02\x00" * 64, "binary data"),
        ("random.txt", random.Random(7).randbytes(4096), "binary data"),
        # mtime=0: the same bytes in every process (test workers must collect the same test ids)
        ("notes.md", gzip.compress(b"# Notes\n\n" + b"some text " * 500, mtime=0), "application/gzip"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png"),
        ("tool.md", b"\x7fELF\x02\x01\x01" + bytes(300), "application/x-executable"),
    ],
    ids=["nuls.txt", "random.txt", "notes.md", "photo.txt", "tool.md"],
)
def test_binary_content_named_as_text_is_refused(tmp_path: Path, name: str, data: bytes, named: str) -> None:
    """Random bytes, a gzip named .md, an image or a program named .txt: unsupported_type, named."""
    target = tmp_path / name
    target.write_bytes(data)
    with pytest.raises(ParseError) as info:
        parse_document(target, target.name)
    assert info.value.reason == "unsupported_type"
    assert named in str(info.value)


def test_text_with_accents_escapes_and_cp1252_stays_text(tmp_path: Path) -> None:
    """Legitimate text is never mistaken for binary: cp1252, ANSI colour escapes, form feeds, tabs."""
    target = tmp_path / "log.txt"
    target.write_bytes("Caf\u00e9 \x1b[31mred\x1b[0m\tcol\fnext page\n".encode("cp1252") * 50)
    assert "Caf\u00e9" in parse_document(target, target.name).text


def test_html_title_falls_back_to_first_h1_then_stem(tmp_path: Path) -> None:
    """Without <title> the first h1 is the title; without either, the file stem."""
    a = tmp_path / "a.html"
    a.write_text("<html><body><h1>Main Heading</h1><p>Body text here.</p></body></html>")
    assert parse_document(a, a.name).title == "Main Heading"
    b = tmp_path / "plain-page.html"
    b.write_text("<html><body><p>Only a paragraph. <br>Second line.</p></body></html>")
    result = parse_document(b, b.name)
    assert result.title == "plain-page"
    assert result.sections[0].title is None
    assert result.text == "Only a paragraph.\nSecond line."


def test_markdown_setext_and_front_matter(tmp_path: Path) -> None:
    """Setext headings start sections and a front-matter title names the document."""
    target = tmp_path / "doc.md"
    target.write_text(
        "---\ntitle: From Front Matter\n---\nIntro line.\n\nFirst\n=====\n\nAlpha.\n\nSecond\n------\nBeta.\n"
    )
    result = parse_document(target, target.name)
    assert result.title == "From Front Matter"
    assert [(s.title, s.text) for s in result.sections] == [
        (None, "Intro line."),
        ("First", "Alpha."),
        ("Second", "Beta."),
    ]


def test_normalize_text_rules() -> None:
    """Ligatures, odd spaces, controls, space runs and blank-line runs are normalised."""
    raw = "  e\ufb03cient\u00a0 data\t\tflow\x07 \r\n\r\n\r\n\n next\u200b line  \n"
    assert normalize_text(raw) == "efficient data flow\n\nnext line"
    assert normalize_text("") == ""


def test_parse_error_is_picklable_and_validates_reason() -> None:
    """ParseError survives pickling with its reason and refuses unknown reasons."""
    err = pickle.loads(pickle.dumps(ParseError("corrupt", "bad bytes")))
    assert (err.reason, err.message, str(err)) == ("corrupt", "bad bytes", "corrupt: bad bytes")
    with pytest.raises(ValueError, match="unknown parse error reason"):
        ParseError("weird", "x")  # type: ignore[arg-type]


def test_large_pdf_page_numbers_and_chapters(tmp_path: Path) -> None:
    """Every page of a generated 25-page PDF is its own numbered section under its chapter heading."""
    path = generate_large_pdf(tmp_path, 25)
    result = parse_document(path, path.name)
    assert result.page_count == 25
    for page in range(1, 26):
        on_page = [s for s in result.sections if s.page == page]
        assert on_page, page
        assert large_pdf_page_sentence(page) in on_page[0].text
        assert on_page[0].title == large_pdf_chapter_title((page - 1) // 10 + 1)


def test_corpus_is_deterministic_and_shares_some_entities(tmp_path: Path) -> None:
    """The same seed writes byte-identical files; documents share some entities but not all."""
    first = generate_corpus(tmp_path / "a", n_docs=10, seed=11)
    second = generate_corpus(tmp_path / "b", n_docs=10, seed=11)
    for a, b in zip(first.documents + first.broken, second.documents + second.broken, strict=True):
        assert a.filename == b.filename
        assert a.path.read_bytes() == b.path.read_bytes(), a.filename
    assert [d.entities for d in first.documents] == [d.entities for d in second.documents]
    counts = [len(files) for files in first.entity_documents().values()]
    assert max(counts) > 1
    assert min(counts) == 1
    assert len({d.marker for d in first.documents}) == len(first.documents)


SPHINX = """<html><body><main>
<h2>Checksums<a class="headerlink" href="#checksums" title="Link to this heading">\u00b6</a></h2>
<dl class="py function"><dt class="sig sig-object py" id="pkg.checksum">
<span class="sig-prename descclassname"><span class="pre">pkg.</span></span><span
class="sig-name descname"><span class="pre">checksum</span></span><span class="sig-paren">(</span><em
class="sig-param"><span class="n"><span class="pre">data</span></span></em><span class="optional">[</span>,
<em class="sig-param"><span class="n"><span class="pre">value</span></span></em><span
class="optional">]</span><span class="sig-paren">)</span><a
class="headerlink" href="#pkg.checksum" title="Link to this definition">\u00b6</a></dt>
<dd><p>Returns the checksum of <em>data</em>; the caf\u00e9 edition uses <code class="docutils literal"><span
class="pre">pkg.checksum(data)</span></code> too.</p></dd></dl></main></body></html>"""


def test_reference_html_reads_like_the_page(tmp_path: Path) -> None:
    """Inline elements keep a signature intact, permalink marks are dropped, and a page without a
    declared charset is read as UTF-8 (not Latin-1: "¶" and "é" stay one character)."""
    page = tmp_path / "ref.html"
    page.write_bytes(SPHINX.encode())
    parsed = parse_document(page, "ref.html", None)
    assert [s.title for s in parsed.sections] == ["Checksums"]
    assert parsed.sections[0].text == (
        "pkg.checksum(data[, value])\n\n"
        "Returns the checksum of data; the caf\u00e9 edition uses pkg.checksum(data) too."
    )


def test_html_that_declares_its_charset_is_read_in_it(tmp_path: Path) -> None:
    page = tmp_path / "latin.html"
    page.write_bytes(
        '<html><head><meta charset="iso-8859-1"></head><body><p>caf\u00e9</p></body></html>'.encode("latin-1")
    )
    assert parse_document(page, "latin.html", None).sections[0].text == "caf\u00e9"

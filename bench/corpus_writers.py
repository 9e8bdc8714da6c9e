"""File writers for the test corpus (see :mod:`bench.corpus`).

Holds one writer per document format (PDF via fpdf2, DOCX via python-docx with fixed zip
timestamps, HTML with noise around the article, Markdown with a fenced block, plain text) that turn
a ``_DocPlan`` into a file, and ``generate_large_pdf``, a hand-written many-page PDF.
"""

from __future__ import annotations

import html
import io
import random
import textwrap
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus_world import FILLER, _build_world, _cap, _DocPlan

_FIXED_TIME = datetime(2024, 1, 1, tzinfo=UTC)
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)

#: A Markdown fenced block written into every .md file; its ``#`` line must not become a heading.
MD_FENCE_COMMENT = "# example configuration"


# --------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------


def _write_pdf(plan: _DocPlan, path: Path) -> tuple[int | None, int]:
    """Returns (marker page, page count)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(_FIXED_TIME)
    pdf.set_title(plan.title)
    pdf.set_author("ragstream bench")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    marker_page: int | None = None
    for k, (title, paragraphs) in enumerate(plan.sections):
        pdf.add_page()
        if k == 0:
            pdf.start_section(plan.title, level=0)
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 9, plan.title, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        pdf.start_section(title, level=1)
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            if paragraph == plan.marker:
                if pdf.will_page_break(14):
                    pdf.add_page()
                marker_page = pdf.page_no()
            pdf.multi_cell(0, 5.5, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))
    return marker_page, pdf.page_no()


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps (python-docx stamps entries with the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _write_docx(plan: _DocPlan, path: Path) -> tuple[tuple[str, ...], ...]:
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title = plan.title
    props.author = "ragstream bench"
    props.last_modified_by = "ragstream bench"
    props.created = props.modified = props.last_printed = _FIXED_TIME.replace(tzinfo=None)
    props.revision = 1
    document.add_heading(plan.title, level=0)
    rows: tuple[tuple[str, ...], ...] = (
        ("Name", "Organization", "Role"),
        *((p.name, p.org, p.role) for p in plan.people),
    )
    for k, (title, paragraphs) in enumerate(plan.sections):
        document.add_heading(title, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
        if k == 0:
            table = document.add_table(rows=0, cols=3)
            table.style = "Table Grid"
            for row in rows:
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=True):
                    cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(_deterministic_zip(buffer.getvalue()))
    return rows


def _write_html(plan: _DocPlan, path: Path, orgs: list[str]) -> tuple[str, ...]:
    n = plan.index
    noise = {
        "style": f"NOISE-STYLE-{n}",
        "script": f"NOISE-SCRIPT-{n}",
        "header": f"NOISE-HEADER-{n}",
        "nav": f"NOISE-NAV-{n}",
        "aside": f"NOISE-ASIDE-{n}",
        "form": f"NOISE-FORM-{n}",
        "noscript": f"NOISE-NOSCRIPT-{n}",
        "footer": f"NOISE-FOOTER-{n}",
        "body_script": f"NOISE-BODYSCRIPT-{n}",
    }

    def para(text: str) -> str:
        escaped = html.escape(text)
        for org in orgs:  # inline markup must not break words or add stray spaces
            escaped = escaped.replace(html.escape(org), f"<strong>{html.escape(org)}</strong>")
        return f"      <p>{escaped}</p>"

    body = []
    for title, paragraphs in plan.sections:
        body.append(f"    <section>\n      <h2>{html.escape(title)}</h2>")
        body.extend(para(p) for p in paragraphs)
        body.append("    </section>")
    sections_html = "\n".join(body)
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(plan.title)}</title>
  <style>.noise {{ color: red; }} body::after {{ content: "{noise["style"]}"; }}</style>
  <script>var tracking = "{noise["script"]}"; console.log(tracking);</script>
</head>
<body>
  <header class="site-header"><div class="logo">{noise["header"]} Example Portal</div></header>
  <nav><ul><li><a href="/">Home</a></li><li><a href="/news">{noise["nav"]}</a></li></ul></nav>
  <main>
  <article>
    <h1>{html.escape(plan.title)}</h1>
{sections_html}
  </article>
  <aside><h3>Related</h3><p>{noise["aside"]} More stories you may like.</p></aside>
  </main>
  <form action="/subscribe"><label>{noise["form"]} Subscribe</label><input name="email"></form>
  <noscript>{noise["noscript"]} Please enable JavaScript.</noscript>
  <footer><p>{noise["footer"]} Copyright notice.</p></footer>
  <script>document.write("{noise["body_script"]}");</script>
</body>
</html>
"""
    path.write_text(document, encoding="utf-8")
    return (*noise.values(), "Related", "Subscribe", "Example Portal", "Copyright notice")


def _write_markdown(plan: _DocPlan, path: Path) -> None:
    parts = [f"# {plan.title}", ""]
    for k, (title, paragraphs) in enumerate(plan.sections):
        parts += [f"## {title}", ""]
        for paragraph in paragraphs:
            parts += [paragraph, ""]
        if k == 0:
            parts += ["```", MD_FENCE_COMMENT, "retries = 3", "```", ""]
    path.write_text("\n".join(parts), encoding="utf-8")


def _write_text(plan: _DocPlan, path: Path) -> None:
    parts = [plan.title, ""]
    for title, paragraphs in plan.sections:
        parts += [title.upper(), ""]
        for paragraph in paragraphs:
            parts += [paragraph, ""]
    path.write_text("\n".join(parts), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# A large PDF, fast: a hand-written PDF with plain Helvetica text, one template reused per page
# --------------------------------------------------------------------------------------------------

LARGE_PDF_CHAPTER_EVERY = 10


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1", "replace") + b")"


def large_pdf_page_sentence(page: int) -> str:
    """The sentence printed at the top of ``page`` (1-based) of :func:`generate_large_pdf` output."""
    return f"This is page {page} of the large reference document."


def large_pdf_chapter_title(chapter: int) -> str:
    return f"Chapter {chapter}"


def generate_large_pdf(dest: Path, pages: int, seed: int = 7) -> Path:
    """Write a ``pages``-page PDF of prose (about 4,000 characters a page) and return its path.

    ``dest`` is either the file to write (``*.pdf``) or a folder (the file is then
    ``large-<pages>p.pdf``). Every page starts with :func:`large_pdf_page_sentence`; every
    ``LARGE_PDF_CHAPTER_EVERY`` pages a chapter starts, with a bold heading and an outline entry.
    The body lines are one pool of wrapped paragraphs reused at a shifting offset, so writing
    1,000 pages takes well under a second.
    """
    if pages < 1:
        raise ValueError("pages must be >= 1")
    dest = Path(dest)
    if dest.suffix.lower() == ".pdf":
        path = dest
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        path = dest / f"large-{pages}p.pdf"

    world = _build_world(seed)
    rng = random.Random(seed + 1)
    pool: list[str] = []
    for _ in range(60):
        org = rng.choice(world.orgs)
        person = rng.choice(org.people)
        sentences = [
            f"{person.name} works for {org.name}.",
            f"{org.name} is headquartered in {org.city}, {world.countries[org.city]}.",
            f"The {rng.choice(org.products)} is a product of {org.name}.",
            _cap(f"{person.expertise} is part of {world.fields[person.expertise]}."),
            *rng.sample(FILLER, 5),
        ]
        rng.shuffle(sentences)
        pool.extend(textwrap.wrap(" ".join(sentences), 92))
        pool.append("")
    lines_per_page = 50

    font_ids = (3, 4)  # Helvetica, Helvetica-Bold
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
    first_page = 7
    chapters = list(range(0, pages, LARGE_PDF_CHAPTER_EVERY))
    first_outline = first_page + 2 * pages
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R /PageMode /UseOutlines >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(pages))
        + b"] /Count %d >>" % pages,
        font_ids[0]: font % b"Helvetica",
        font_ids[1]: font % b"Helvetica-Bold",
        5: b"<< /Title (Large reference document) /Producer (ragstream bench) >>",
        6: b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>"
        % (first_outline, first_outline + len(chapters) - 1, len(chapters)),
    }
    resources = b"<< /Font << /F1 %d 0 R /F2 %d 0 R >> >>" % font_ids
    for i in range(pages):
        page_obj, content_obj = first_page + 2 * i, first_page + 2 * i + 1
        ops = [b"BT", b"/F1 11 Tf", b"14 TL", b"56 790 Td"]
        if i % LARGE_PDF_CHAPTER_EVERY == 0:
            chapter = large_pdf_chapter_title(i // LARGE_PDF_CHAPTER_EVERY + 1)
            ops += [b"/F2 16 Tf", _pdf_string(chapter) + b" Tj", b"T*", b"T*", b"/F1 11 Tf"]
        ops += [_pdf_string(large_pdf_page_sentence(i + 1)) + b" Tj", b"T*", b"T*"]
        offset = (i * 37) % len(pool)
        for k in range(lines_per_page):
            line = pool[(offset + k) % len(pool)]
            ops.append(_pdf_string(line) + b" Tj T*" if line else b"T*")
        ops.append(b"ET")
        stream = zlib.compress(b"\n".join(ops), 6)
        objects[content_obj] = (
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
        objects[page_obj] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources "
            + resources
            + b" /Contents %d 0 R >>" % content_obj
        )
    for j, start in enumerate(chapters):
        links = b""
        if j > 0:
            links += b" /Prev %d 0 R" % (first_outline + j - 1)
        if j < len(chapters) - 1:
            links += b" /Next %d 0 R" % (first_outline + j + 1)
        objects[first_outline + j] = (
            b"<< /Title "
            + _pdf_string(large_pdf_chapter_title(j + 1))
            + b" /Parent 6 0 R"
            + links
            + b" /Dest [%d 0 R /XYZ 0 842 null] >>" % (first_page + 2 * start)
        )

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    count = max(objects) + 1
    offsets = [0] * count
    for num in range(1, count):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % count)
    out.write(b"".join(b"%010d 00000 n \n" % offsets[num] for num in range(1, count)))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref))
    path.write_bytes(out.getvalue())
    return path

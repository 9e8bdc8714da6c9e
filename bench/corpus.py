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
"""

from __future__ import annotations

import argparse
import html
import io
import json
import random
import re
import textwrap
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"

KINDS: tuple[str, ...] = ("pdf", "docx", "html", "md", "txt")
_KIND_TYPES = {"pdf": PDF, "docx": DOCX, "html": HTML, "md": MARKDOWN, "txt": TEXT}
_FIXED_TIME = datetime(2024, 1, 1, tzinfo=UTC)
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)

#: A Markdown fenced block written into every .md file; its ``#`` line must not become a heading.
MD_FENCE_COMMENT = "# example configuration"

FIRST_NAMES = (
    "Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Keiko", "Lars", "Maya", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tessa",
    "Umar", "Vera", "Wendell", "Ximena", "Yusuf", "Zara", "Amara", "Bastian", "Celine", "Dario",
    "Esther", "Florian", "Gwen", "Hamid", "Isolde", "Joaquin", "Katya", "Leandro", "Mirela", "Niall",
)  # fmt: skip
LAST_NAMES = (
    "Moreau", "Lindqvist", "Okafor", "Brennan", "Castellano", "Haddad", "Novak", "Takahashi",
    "Ferreira", "Kowalski", "Abernathy", "Delacroix", "Oyelaran", "Varga", "Whitcombe", "Rahman",
    "Quintero", "Sorensen", "Petrakis", "Mbeki", "Ivanova", "Lachance", "Nakamura", "Ostrowski",
    "Fairbanks", "Hollister", "Marchetti", "Eriksen", "Tanaka", "Gallagher",
)  # fmt: skip
ORG_FIRST = (
    "Northwind", "Bluefin", "Cedarline", "Helios", "Ironbark", "Juniper", "Kestrel", "Larkspur",
    "Meridian", "Nimbus", "Orchard", "Pinecrest", "Quillon", "Riverstone", "Silverpeak", "Tidewater",
)  # fmt: skip
ORG_SECOND = (
    "Analytics", "Robotics", "Logistics", "Biotech", "Systems", "Energy", "Foods", "Labs",
    "Dynamics", "Networks",
)  # fmt: skip
CITIES = (
    ("Lyon", "France"), ("Porto", "Portugal"), ("Graz", "Austria"), ("Tampere", "Finland"),
    ("Leeds", "United Kingdom"), ("Bergen", "Norway"), ("Utrecht", "Netherlands"),
    ("Gdansk", "Poland"), ("Valencia", "Spain"), ("Turin", "Italy"), ("Aarhus", "Denmark"),
    ("Ghent", "Belgium"), ("Osaka", "Japan"), ("Curitiba", "Brazil"), ("Adelaide", "Australia"),
    ("Halifax", "Canada"),
)  # fmt: skip
PRODUCT_FIRST = (
    "Falcon", "Otter", "Lynx", "Heron", "Badger", "Marten", "Osprey", "Puffin", "Raven",
    "Walrus", "Bison", "Cobra", "Dingo", "Gecko", "Ibex", "Jackal",
)  # fmt: skip
PRODUCT_SECOND = ("Router", "Scanner", "Gateway", "Sensor", "Planner", "Ledger", "Console", "Tracker")
CONCEPTS = (
    ("quantum annealing", "optimisation research"),
    ("federated learning", "machine learning"),
    ("graph partitioning", "distributed systems"),
    ("soil carbon mapping", "climate science"),
    ("protein folding", "structural biology"),
    ("demand forecasting", "operations research"),
    ("edge caching", "network engineering"),
    ("battery recycling", "materials science"),
    ("speech diarisation", "signal processing"),
    ("route optimisation", "logistics planning"),
    ("anomaly detection", "data science"),
    ("crop phenotyping", "agricultural science"),
)
CODENAME_FIRST = (
    "Amber", "Cobalt", "Crimson", "Dusky", "Emerald", "Frosted", "Golden", "Hazel", "Indigo",
    "Jade", "Lunar", "Misty", "Onyx", "Pearl", "Russet", "Scarlet", "Tawny", "Velvet",
)  # fmt: skip
CODENAME_SECOND = (
    "Heron", "Kingfisher", "Lapwing", "Magpie", "Nightjar", "Oriole", "Plover", "Quail",
    "Redstart", "Siskin", "Thrush", "Wagtail", "Warbler", "Wren",
)  # fmt: skip
ROLES = ("Engineer", "Analyst", "Director", "Researcher", "Designer", "Coordinator")
SECTION_TITLES = (
    "Overview", "People and Teams", "Products", "Research Directions", "Locations",
    "Partnerships", "Outlook", "Background",
)  # fmt: skip
TITLE_SUFFIXES = ("Field Notes", "Annual Briefing", "Market Review", "Research Digest", "Team Report")
FILLER = (
    "The committee reviewed the budget for the next quarter.",
    "Several pilot projects were completed ahead of schedule.",
    "Progress was steady despite a difficult supply situation.",
    "The team published a short summary of its methods.",
    "Most of the work this year focused on reliability and cost.",
    "A second review is planned for the spring.",
    "Customers asked for clearer documentation and simpler pricing.",
    "The internal survey showed high satisfaction with the new tools.",
    "Hiring slowed in the second half of the year.",
    "The board approved a modest increase in research spending.",
    "Field trials produced encouraging but preliminary results.",
    "Training sessions were held every month for new staff.",
    "Energy use in the main office fell by a tenth.",
    "The group shared its benchmark data with academic partners.",
    "An independent audit found no major issues.",
    "The roadmap was revised twice after customer feedback.",
    "Maintenance windows were moved to weekends to reduce disruption.",
    "Quarterly results were in line with the forecast.",
    "A small task force studied the long-term risks.",
    "The weekly seminar series attracted a growing audience.",
    "New safety guidelines were introduced in the laboratories.",
    "Partners praised the clarity of the final report.",
    "The archive of past projects was digitised and indexed.",
    "Open positions were advertised in three languages.",
    "The prototype passed its first round of stress tests.",
    "Travel was reduced in favour of remote meetings.",
    "A mentoring programme paired junior and senior staff.",
    "The data platform was migrated to a new storage layer.",
    "Feedback from the pilot customers was largely positive.",
    "The annual retreat focused on planning and strategy.",
)


# --------------------------------------------------------------------------------------------------
# Manifest types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fact:
    """One relation stated in a document. ``relation`` is one of WORKS_FOR, LOCATED_IN, PART_OF,
    RELATES_TO (``services.stores.ports.RELATION_TYPES``)."""

    subject: str
    relation: str
    object: str
    sentence: str


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


# --------------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Person:
    name: str
    org: str
    home: str  # city
    expertise: str  # concept
    role: str


@dataclass(slots=True)
class _Org:
    name: str
    city: str
    products: list[str]
    concepts: list[str]
    people: list[_Person] = field(default_factory=list)


@dataclass(slots=True)
class _World:
    orgs: list[_Org]
    countries: dict[str, str]  # city -> country
    fields: dict[str, str]  # concept -> field


def _build_world(seed: int) -> _World:
    rng = random.Random(seed)
    countries = dict(CITIES)
    fields = dict(CONCEPTS)
    org_names = [f"{a} {rng.choice(ORG_SECOND)}" for a in rng.sample(ORG_FIRST, 12)]
    products = [f"{a} {b}" for a in PRODUCT_FIRST for b in PRODUCT_SECOND]
    rng.shuffle(products)
    people_names = [f"{f} {l}" for f in FIRST_NAMES for l in LAST_NAMES]  # noqa: E741
    rng.shuffle(people_names)
    concept_names = [c for c, _ in CONCEPTS]
    cities = [c for c, _ in CITIES]
    orgs: list[_Org] = []
    used_first: set[str] = set()
    for name in org_names:
        org = _Org(
            name=name,
            city=rng.choice(cities),
            products=[products.pop() for _ in range(rng.randint(1, 2))],
            concepts=rng.sample(concept_names, rng.randint(1, 2)),
        )
        while len(org.people) < 3:
            person = people_names.pop()
            first = person.split()[0]
            if first in used_first:  # one person per first name keeps names easy to tell apart
                continue
            used_first.add(first)
            org.people.append(
                _Person(person, name, rng.choice(cities), rng.choice(org.concepts), rng.choice(ROLES))
            )
        orgs.append(org)
    return _World(orgs, countries, fields)


def _cap(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


@dataclass(slots=True)
class _DocPlan:
    index: int
    kind: str
    title: str
    filename: str
    marker: str
    marker_code: str
    sections: list[tuple[str, list[str]]]  # (title, paragraphs)
    marker_section: str
    entity_labels: dict[str, str]
    facts: list[Fact]
    people: list[_Person]


def _plan_document(world: _World, seed: int, index: int, kind: str, codename: str) -> _DocPlan:
    rng = random.Random(seed * 1_000_003 + index)
    orgs = rng.sample(world.orgs, 2)
    labels: dict[str, str] = {}
    facts: list[Fact] = []

    def fact(subject: str, relation: str, obj: str, sentence: str) -> None:
        facts.append(Fact(subject, relation, obj, _cap(sentence)))

    people: list[_Person] = []
    seen_cities: set[str] = set()
    for org in orgs:
        labels[org.name] = "Organization"
        country = world.countries[org.city]
        labels[org.city] = labels[country] = "Location"
        fact(org.name, "LOCATED_IN", org.city, f"{org.name} is headquartered in {org.city}, {country}.")
        if org.city not in seen_cities:
            seen_cities.add(org.city)
            fact(org.city, "LOCATED_IN", country, f"{org.city} is a city in {country}.")
        for product in org.products:
            labels[product] = "Product"
            fact(product, "PART_OF", org.name, f"The {product} is a product of {org.name}.")
        for concept in org.concepts:
            labels[concept] = "Concept"
            fact(org.name, "RELATES_TO", concept, f"{org.name} invests in {concept}.")
        for person in rng.sample(org.people, 2):
            people.append(person)
            labels[person.name] = "Person"
            fact(person.name, "WORKS_FOR", org.name, f"{person.name} works for {org.name}.")
            labels[person.expertise] = "Concept"
            expert = f"{person.name} is an expert in {person.expertise}."
            fact(person.name, "RELATES_TO", person.expertise, expert)
            if rng.random() < 0.5:
                labels[person.home] = "Location"
                fact(person.name, "LOCATED_IN", person.home, f"{person.name} lives in {person.home}.")
    for concept in sorted({c for c, label in labels.items() if label == "Concept"}):
        field_name = world.fields[concept]
        labels[field_name] = "Concept"
        fact(concept, "PART_OF", field_name, f"{concept} is part of {field_name}.")

    titles = ["Overview", *rng.sample(SECTION_TITLES[1:], rng.randint(2, 3))]
    fact_sentences = [f.sentence for f in facts]
    rng.shuffle(fact_sentences)
    n_paragraphs = [rng.randint(2, 5) for _ in titles]  # +1 for the marker section: at most 6
    total = sum(n_paragraphs)
    per_paragraph = [fact_sentences[i::total] for i in range(total)]
    sections: list[tuple[str, list[str]]] = []
    k = 0
    for title, count in zip(titles, n_paragraphs, strict=True):
        paragraphs = []
        for _ in range(count):
            sentences = per_paragraph[k] + rng.sample(FILLER, rng.randint(2, 3))
            k += 1
            rng.shuffle(sentences)
            paragraphs.append(" ".join(sentences))
        sections.append((title, paragraphs))

    marker_code = f"RS-{seed * 1000 + index + 1}"
    marker = f"The reference code for this document is {marker_code}, codename {codename}."
    where = rng.randrange(len(sections))
    position = rng.randint(1, len(sections[where][1]))
    sections[where][1].insert(position, marker)

    title = f"{orgs[0].name} and {orgs[1].name}: {rng.choice(TITLE_SUFFIXES)}"
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if len(slug) > 48:
        slug = slug[:49].rsplit("-", 1)[0]
    filename = f"{index:03d}-{slug}.{kind}"
    return _DocPlan(
        index=index,
        kind=kind,
        title=title,
        filename=filename,
        marker=marker,
        marker_code=marker_code,
        sections=sections,
        marker_section=sections[where][0],
        entity_labels=labels,
        facts=facts,
        people=people,
    )


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

"""The fictional world behind the test corpus (see :mod:`bench.corpus`).

Holds the word lists, the seeded world built from them (organisations with their people, products,
cities and concepts), the ``Fact`` a document states, and ``_plan_document``, which decides the
title, sections, sentences and marker of one document before any file is written.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Fact:
    """One relation stated in a document. ``relation`` is one of WORKS_FOR, LOCATED_IN, PART_OF,
    RELATES_TO (``services.stores.ports.RELATION_TYPES``)."""

    subject: str
    relation: str
    object: str
    sentence: str


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

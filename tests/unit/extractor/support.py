"""What the extractor's tests read from an extraction, and a small corpus for invariants."""

from __future__ import annotations

from services.extract_graph.extractor import RuleExtractor

Fact = tuple[str, str, str]


def entities(extractor: RuleExtractor, text: str) -> set[tuple[str, str]]:
    return {(e.name, e.label) for e in extractor.extract(text).entities}


def relations(extractor: RuleExtractor, text: str) -> set[Fact]:
    return {(r.source.name, r.type, r.target.name) for r in extractor.extract(text).relations}


def explicit(extractor: RuleExtractor, text: str) -> set[Fact]:
    return {f for f in relations(extractor, text) if f[1] != "RELATES_TO"}


# A small mixed corpus for invariants that must hold on any text.
CORPUS = [
    "Dr. Jane Smith, the CEO of Acme Corp, lives in Springfield, Illinois.",
    "Maria Garcia joined Globex Corporation in 2019. Globex hired John Smith as CTO.",
    "Acme Cloud is a division of Acme Corp. Acme Corp was acquired by Initech LLC.",
    "Munich is a city in Bavaria. Bavaria is part of Germany.",
    "Berlin-based startup Quantix raised money. Zeta Labs, a Paris-based firm, released Orion 2.",
    "Machine learning is a subfield of artificial intelligence.",
    "Apple Inc. launched the iPhone 15 in September. The iPhone 15 is a smartphone made by Apple.",
    "Bank of America is headquartered in Charlotte, North Carolina.",
    "Satya Nadella, Microsoft's chief executive, spoke in Redmond on Tuesday.",
    "Toyota Motor Corporation is a Japanese manufacturer headquartered in Toyota City, Aichi, Japan.",
    "The European Central Bank (ECB) is in Frankfurt. Christine Lagarde is President of the ECB.",
    "Alice Wong, Bob Li, Carol Diaz and Dan Cho met Eve Park in Oslo, Rome, Lima and Cairo.",
    "## Releases & Versioning\nWe publish releases and versioning notes for every version.",
    "Our Q3 revenue grew 12%. Section 3 and Table 2 list the results of Phase 3.",
]

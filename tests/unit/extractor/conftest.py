"""The offline rule extractor, shared by the extractor's tests."""

from __future__ import annotations

import pytest

from services.extract_graph.extractor import RuleExtractor


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    return RuleExtractor()

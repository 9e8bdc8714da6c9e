"""The Ray Serve model apps' ``dtype: auto`` (the CPU profile's setting), without Ray: float32 weights
with bfloat16 products where the CPU multiplies them natively, vectors and scores that agree with
float32, unit norms, and half-precision weights still refused on a CPU."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

pytest.importorskip("ray.serve", reason="needs the serving extra: pip install -e '.[serving]'")

from model_serving.embed import EmbedSettings, encode, load_model
from model_serving.rerank import PairScorer, RerankSettings
from services.models.precision import choose, describe

pytestmark = pytest.mark.integration

TEXTS = [
    "The Quillfeather archive opens at nine on weekdays.",
    "A return ferry ticket to Lanthorn Island costs six crowns.",
    "Kafka partition 3 holds chunk 21 of the quarterly report.",
]


def test_auto_is_accepted_on_cpu_and_half_weights_are_not() -> None:
    settings = EmbedSettings(dtype="auto", device="cpu", dim=384)
    assert settings.weights_dtype() == "float32"
    assert settings.precision() == describe(choose("auto"))
    assert EmbedSettings(dtype="auto", device="cuda", dim=384).weights_dtype() == "float16"
    with pytest.raises(ValidationError, match="needs device 'cuda'"):
        EmbedSettings(dtype="bfloat16", device="cpu", dim=384)


def test_auto_vectors_agree_with_float32_and_have_unit_norm() -> None:
    full, _ = load_model(EmbedSettings(dtype="float32", dim=384))
    auto_settings = EmbedSettings(dtype="auto", dim=384)
    auto, dim = load_model(auto_settings)
    reference = encode(full, EmbedSettings(dtype="float32", dim=384), TEXTS)
    vectors = encode(auto, auto_settings, TEXTS)
    assert dim == 384
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert (vectors * reference).sum(axis=1).min() > 0.999


def test_auto_rerank_scores_agree_with_float32() -> None:
    pairs = [("when does the archive open?", text) for text in TEXTS]
    full = PairScorer(RerankSettings(dtype="float32")).score(pairs)
    auto = PairScorer(RerankSettings(dtype="auto")).score(pairs)
    assert [a[0] for a in auto] == pytest.approx([f[0] for f in full], abs=0.01)  # cosines
    assert sorted(range(3), key=lambda i: -auto[i][0]) == sorted(range(3), key=lambda i: -full[i][0])

"""The ``rerank`` Ray Serve application (model_serving/rerank.py) on a real local Ray: both request
shapes (``/v1/rerank`` as vLLM/Jina/Cohere, ``/rerank`` as TEI), the relevant passage first, 400s for
bad input, cross-request batching of pairs, the workers' HttpReranker equal to the in-process
LocalReranker, and the GPU profile's config checked for shape without a GPU.

The cross-encoder backend runs too, beside the CPU profile in the same Ray: no cross-encoder weights
exist offline, so the test builds one from MiniLM's BERT encoder with a freshly initialised
(seeded, untrained) one-logit head. Its scores mean nothing; the tests pin only the shape, the
determinism and the contract (sigmoid of the in-process CrossEncoder's logits, raw logits on
request). One Ray start for the whole module."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("ray.serve", reason="needs the serving extra: pip install -e '.[serving]'")

from model_serving.serve import CONFIG_DIR, ConfigError, check_config, load_config
from services.models.embedder import LocalEmbedder
from services.models.precision import choose, describe
from services.models.reranker import HttpReranker, LocalReranker, ModelRequestError
from tests.integration.serving.conftest import CE_PREFIX
from tests.serving import Served

pytestmark = [
    pytest.mark.integration,
    # Ray Serve's own pydantic models use Field(update_type=...), deprecated in pydantic 2
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
]

CPU_CONFIG = CONFIG_DIR / "rerank-minilm-cpu.yaml"
GPU_CONFIG = CONFIG_DIR / "rerank-bge-v2-m3-gpu.yaml"

QUERY = "Where is Helios Labs headquartered?"
TEXTS = [
    "The committee reviewed the budget for the next quarter.",
    "Helios Labs is headquartered in Graz, Austria.",
    "Greta Sorensen works for Helios Labs.",
    "Bergen is a city in Norway.",
    "Juniper Networks is headquartered in Bergen, Norway.",
    "Battery recycling is part of materials science.",
]


@pytest.fixture(scope="module")
def served(cpu_models: Served) -> Served:
    """The rerank app of the CPU profile (bi-encoder MiniLM)."""
    return Served(f"{cpu_models.url}/rerank", cpu_models.timings)


@pytest.fixture(scope="module")
def ce(cpu_models: Served) -> Served:
    """The tiny cross-encoder app beside it (tests/integration/serving/conftest.py)."""
    return Served(f"{cpu_models.url}{CE_PREFIX}", cpu_models.timings)


@pytest.fixture(scope="module")
def local() -> LocalReranker:
    """The in-process bi-encoder, the reference for what the CPU profile returns."""
    return LocalReranker(LocalEmbedder(precision="auto"))  # what the Ray CPU profile runs (dtype: auto)


async def _post(url: str, path: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return await http.post(path, json=body)


async def test_v1_rerank_puts_the_relevant_passage_first(served: Served) -> None:
    """/v1/rerank answers in the Jina/Cohere/vLLM shape: results best first, each with its input index,
    score and text; the headquarters sentence leads; top_n trims; the model name and usage come back."""
    answer = await _post(served.url, "/v1/rerank", {"model": "my-name", "query": QUERY, "documents": TEXTS})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"].startswith("rerank-")
    assert body["model"] == "my-name"
    assert body["usage"]["total_tokens"] > len(TEXTS) * 8
    results = body["results"]
    assert sorted(r["index"] for r in results) == list(range(len(TEXTS)))
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert results[0]["index"] == 1
    assert all(r["document"] == {"text": TEXTS[r["index"]]} for r in results)

    top = await _post(served.url, "/v1/rerank", {"query": QUERY, "documents": TEXTS, "top_n": 2})
    assert [r["index"] for r in top.json()["results"]] == [r["index"] for r in results[:2]]
    assert top.json()["model"] == "all-MiniLM-L6-v2"
    bare = await _post(
        served.url,
        "/v1/rerank",
        {"query": QUERY, "documents": [{"text": t} for t in TEXTS], "return_documents": False},
    )
    assert [r["index"] for r in bare.json()["results"]] == [r["index"] for r in results]
    assert all("document" not in r for r in bare.json()["results"])


async def test_tei_rerank_shape(served: Served) -> None:
    """/rerank answers in TEI's shape: a list best first of {index, score}, text only on request; for
    the bi-encoder raw scores equal the normalised ones (both are cosines)."""
    answer = await _post(served.url, "/rerank", {"query": QUERY, "texts": TEXTS})
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert isinstance(rows, list)
    assert set(rows[0]) == {"index", "score"}
    assert rows[0]["index"] == 1
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    raw = await _post(
        served.url,
        "/rerank",
        {"query": QUERY, "texts": TEXTS, "raw_scores": True, "return_text": True, "truncate": True},
    )
    assert [(r["index"], r["text"]) for r in raw.json()] == [(r["index"], TEXTS[r["index"]]) for r in rows]
    assert [r["score"] for r in raw.json()] == pytest.approx([r["score"] for r in rows], abs=1e-6)


async def test_http_reranker_through_ray_serve_equals_in_process(
    served: Served, local: LocalReranker
) -> None:
    """The workers' HttpReranker gets from Ray Serve the in-process LocalReranker's scores, in input order."""
    client = HttpReranker(served.url, "all-MiniLM-L6-v2", batch_size=4)
    try:
        remote = await client.rerank(QUERY, TEXTS)
    finally:
        await client.close()
    reference = await local.rerank(QUERY, TEXTS)
    # both compute in bfloat16 where the CPU has it (dtype auto): a cosine moves by up to ~1e-3 with
    # the texts it shares a forward pass with (7e-4 measured); in float32 they agree to 1e-5
    assert remote == pytest.approx(reference, abs=1e-5 if choose("auto") == "float32" else 2e-3)
    assert sorted(range(len(TEXTS)), key=lambda i: -remote[i]) == sorted(
        range(len(TEXTS)), key=lambda i: -reference[i]
    )


async def test_concurrent_requests_are_batched(served: Served) -> None:
    """Pairs of concurrent requests share forward passes, and no pass exceeds max_batch_size."""
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as http:
        before = (await http.get("/stats")).json()
        answers = await asyncio.gather(
            *(http.post("/v1/rerank", json={"query": f"q{i}", "documents": TEXTS[:2]}) for i in range(12)),
            http.post("/rerank", json={"query": QUERY, "texts": [f"passage {i}" for i in range(40)]}),
        )
        after = (await http.get("/stats")).json()
    assert all(answer.status_code == 200 for answer in answers)
    ran = after["batches"] - before["batches"]
    sizes: list[int] = after["batch_sizes"][-ran:]
    assert sum(sizes) == after["pairs"] - before["pairs"] == 12 * 2 + 40
    assert max(sizes) <= after["max_batch_size"] == 32
    assert ran < 13, f"the 13 requests were not batched: {sizes}"


async def test_health_and_models(served: Served) -> None:
    """/healthz reports the loaded model and backend; /v1/models lists the served name."""
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        health = (await http.get("/healthz")).json()
        models = (await http.get("/v1/models")).json()
    assert health == {
        "status": "ok",
        "model": "all-MiniLM-L6-v2",
        "backend": "bi-encoder",
        "device": "cpu",
        "dtype": "auto",
        "precision": describe(choose("auto")),
        "max_seq_length": 256,
    }
    assert [m["id"] for m in models["data"]] == ["all-MiniLM-L6-v2"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'["a"]', "must be a JSON object"),
        (b'{"documents": ["a"]}', "'query' is required"),
        (b'{"query": " ", "documents": ["a"]}', "'query' is required"),
        (b'{"query": "q"}', "'documents' is required"),
        (b'{"query": "q", "documents": []}', "'documents' is required"),
        (b'{"query": "q", "documents": "a"}', "'documents' is required"),
        (b'{"query": "q", "documents": ["ok", 3]}', r"documents\[1\] must be a string"),
        (b'{"query": "q", "documents": ["ok", ""]}', r"documents\[1\] is an empty string"),
        (b'{"query": "q", "documents": ["a"], "top_n": 0}', "'top_n' must be a positive integer"),
        (b'{"query": "q", "documents": ["a"], "return_documents": "no"}', "'return_documents' must be"),
        pytest.param(
            json.dumps({"query": "q", "documents": ["x"] * 1025}).encode(), "at most 1024", id="1025-docs"
        ),
    ],
)
async def test_bad_v1_input_is_a_400_with_a_message(served: Served, body: bytes, message: str) -> None:
    """Malformed /v1/rerank requests get 400 with an OpenAI-style error naming the problem."""
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        answer = await http.post("/v1/rerank", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert re.search(message, error["message"]), error["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "q"}, "'texts' is required"),
        ({"query": "q", "texts": [None]}, r"texts\[0\] must be a string"),
        ({"texts": ["a"]}, "'query' is required"),
        ({"query": "q", "texts": ["a"], "raw_scores": "yes"}, "'raw_scores' must be"),
        ({"query": "q", "texts": ["a"], "truncation_direction": "Left"}, "truncation_direction"),
    ],
)
async def test_bad_tei_input_is_a_400_with_a_message(
    served: Served, body: dict[str, Any], message: str
) -> None:
    """Malformed /rerank requests get 400 with TEI's error body naming the problem."""
    answer = await _post(served.url, "/rerank", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_type"] == "Validation"
    assert re.search(message, answer.json()["error"]), answer.json()


async def test_http_reranker_does_not_retry_a_400(served: Served) -> None:
    """A client error reaches the caller at once as ModelRequestError, not as a retried ModelUnavailable."""
    client = HttpReranker(served.url, "all-MiniLM-L6-v2", attempts=5)
    try:
        started = time.monotonic()
        with pytest.raises(ModelRequestError, match=r"HTTP 400: .*empty string"):
            await client.rerank(QUERY, ["fine", ""])
    finally:
        await client.close()
    assert time.monotonic() - started < 5


async def test_cross_encoder_backend_contract(ce: Served, tiny_cross_encoder: Path) -> None:
    """The cross-encoder backend (tiny untrained head: contract only, not quality) scores every pair
    with sigmoid(logit) of the in-process CrossEncoder, the same on every call, best first; TEI's
    raw_scores returns the logits themselves."""
    from sentence_transformers import CrossEncoder

    first = await _post(ce.url, "/v1/rerank", {"query": QUERY, "documents": TEXTS})
    again = await _post(ce.url, "/v1/rerank", {"query": QUERY, "documents": TEXTS})
    raw = await _post(ce.url, "/rerank", {"query": QUERY, "texts": TEXTS, "raw_scores": True})
    async with httpx.AsyncClient(base_url=ce.url, timeout=30) as http:
        health = (await http.get("/healthz")).json()
    assert first.status_code == raw.status_code == 200, (first.text, raw.text)
    results = first.json()["results"]
    assert first.json()["model"] == "tiny-ce"
    assert sorted(r["index"] for r in results) == list(range(len(TEXTS)))
    assert results == again.json()["results"]
    scores = {r["index"]: r["relevance_score"] for r in results}
    assert [r["relevance_score"] for r in results] == sorted(scores.values(), reverse=True)
    assert all(0.0 < s < 1.0 for s in scores.values())

    import torch

    model = CrossEncoder(str(tiny_cross_encoder), device="cpu", local_files_only=True, max_length=128)
    logits = model.predict([(QUERY, t) for t in TEXTS], activation_fn=torch.nn.Identity())
    want = [1 / (1 + math.exp(-float(x))) for x in logits]
    assert [scores[i] for i in range(len(TEXTS))] == pytest.approx(want, abs=1e-5)
    logit_of = {r["index"]: r["score"] for r in raw.json()}
    assert [logit_of[i] for i in range(len(TEXTS))] == pytest.approx([float(x) for x in logits], abs=1e-4)
    assert (health["backend"], health["model"], health["max_seq_length"]) == ("cross-encoder", "tiny-ce", 128)


def _deployment(config: dict[str, Any]) -> dict[str, Any]:
    deployment: dict[str, Any] = config["applications"][0]["deployments"][0]
    return deployment


def _check(raw: dict[str, Any], path: Path) -> Any:
    path.write_text(yaml.safe_dump(raw))
    return check_config(path)


def test_gpu_config_has_a_consistent_shape_without_a_gpu(tmp_path: Path) -> None:
    """The bge-reranker-v2-m3 config parses into Serve's schema and records a fp16 cross-encoder on a
    quarter GPU, autoscaled, with the same code as the CPU profile; broken variants are refused."""
    [app] = load_config(GPU_CONFIG).applications
    assert app.import_path == load_config(CPU_CONFIG).applications[0].import_path  # same code
    [gpu] = check_config(GPU_CONFIG)
    assert (gpu.kind, gpu.model, gpu.served_model_name, gpu.device) == (
        "rerank",
        "BAAI/bge-reranker-v2-m3",
        "bge-reranker-v2-m3",
        "cuda",
    )
    assert (gpu.details["backend"], gpu.details["dtype"]) == ("cross-encoder", "float16")
    assert gpu.num_gpus == 0.25
    assert 1 <= gpu.min_replicas < gpu.max_replicas
    [cpu] = check_config(CPU_CONFIG)
    assert (cpu.details["backend"], cpu.device, cpu.num_gpus) == ("bi-encoder", "cpu", 0.0)

    raw = yaml.safe_load(GPU_CONFIG.read_text())
    _deployment(raw)["ray_actor_options"]["num_gpus"] = 0
    with pytest.raises(ConfigError, match=r"device cuda but ray_actor_options\.num_gpus"):
        _check(raw, tmp_path / "no-gpu.yaml")

    raw = yaml.safe_load(CPU_CONFIG.read_text())
    _deployment(raw)["user_config"]["backend"] = "cross-encoder"
    with pytest.raises(ConfigError, match="is a bi-encoder"):
        _check(raw, tmp_path / "minilm-as-cross-encoder.yaml")

    raw = yaml.safe_load(CPU_CONFIG.read_text())
    _deployment(raw)["user_config"]["dtype"] = "float16"
    with pytest.raises(ConfigError, match="needs device 'cuda'"):
        _check(raw, tmp_path / "half-on-cpu.yaml")

    raw = yaml.safe_load(CPU_CONFIG.read_text())
    _deployment(raw)["user_config"]["backend"] = "colbert"
    with pytest.raises(ConfigError, match="backend"):
        _check(raw, tmp_path / "unknown-backend.yaml")


def test_build_app_refuses_bad_arguments() -> None:
    """The application builder validates its arguments before Serve sees them."""
    from model_serving.rerank import build_app

    with pytest.raises(ValueError, match="invalid rerank args"):
        build_app({"backend": "cross-encoder", "unknown": 1})

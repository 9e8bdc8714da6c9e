"""The ``embed`` Ray Serve application (model_serving/) on a real local Ray: the OpenAI-compatible
contract the workers' HttpEmbedder relies on, cross-request batching, 400s for bad input, and the GPU
profile's config checked for shape without a GPU. One Ray start for the whole module."""

from __future__ import annotations

import asyncio
import base64
import math
import re
import struct
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("ray.serve", reason="needs the serving extra: pip install -e '.[serving]'")

from model_serving.serve import CONFIG_DIR, ConfigError, check_config, load_config
from services.models.embedder import HttpEmbedder, LocalEmbedder
from services.models.http import ModelRequestError
from services.models.precision import choose, describe
from tests.serving import Served

pytestmark = [
    pytest.mark.integration,
    # Ray Serve's own pydantic models use Field(update_type=...), deprecated in pydantic 2
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
]

CPU_CONFIG = CONFIG_DIR / "embed-minilm-cpu.yaml"
GPU_CONFIG = CONFIG_DIR / "embed-bge-m3-gpu.yaml"


@pytest.fixture(scope="module")
def served(cpu_models: Served) -> Served:
    """The embed app of the CPU profile (tests/integration/serving/conftest.py)."""
    return Served(f"{cpu_models.url}/embed", cpu_models.timings)


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    """The in-process model, the reference for what the server returns."""
    return LocalEmbedder(precision="auto")  # what the Ray CPU profile runs (dtype: auto)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_http_embedder_through_ray_serve_equals_in_process(
    served: Served, local: LocalEmbedder
) -> None:
    """The workers' HttpEmbedder gets 384-d vectors from Ray Serve equal to the in-process ones, in order."""
    texts = [f"Kafka partition {i} holds chunk {i * 7} of the report" for i in range(11)]
    client = HttpEmbedder(served.url, "all-MiniLM-L6-v2", dim=384, batch_size=4)
    try:
        remote = await client.embed(texts)
    finally:
        await client.close()
    reference = await local.embed(texts)
    assert len(remote) == len(texts)
    for got, want in zip(remote, reference, strict=True):
        assert len(got) == 384
        assert _cosine(got, want) > 0.9999


async def test_openai_response_shape(served: Served) -> None:
    """A string input gets one row with its index, the model name echoed, token usage, and base64 = floats."""
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        plain = await http.post("/v1/embeddings", json={"model": "my-name", "input": "one sentence"})
        packed = await http.post(
            "/v1/embeddings", json={"input": ["one sentence"], "encoding_format": "base64"}
        )
        health = await http.get("/healthz")
    assert plain.status_code == 200, plain.text
    body = plain.json()
    assert body["object"] == "list"
    assert body["model"] == "my-name"
    assert [row["index"] for row in body["data"]] == [0]
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 2
    vector = body["data"][0]["embedding"]
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    assert packed.json()["model"] == "all-MiniLM-L6-v2"
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(vector, abs=1e-6)
    assert health.json() == {
        "status": "ok",
        "model": "all-MiniLM-L6-v2",
        "dim": 384,
        "device": "cpu",
        "dtype": "auto",
        "precision": describe(choose("auto")),
        "max_seq_length": 256,
    }


async def test_concurrent_requests_are_batched(served: Served) -> None:
    """Texts of concurrent requests share forward passes, and no pass exceeds max_batch_size."""
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as http:
        before = (await http.get("/stats")).json()
        answers = await asyncio.gather(
            *(http.post("/v1/embeddings", json={"input": [f"request {i}"]}) for i in range(24)),
            http.post("/v1/embeddings", json={"input": [f"big request text {i}" for i in range(40)]}),
        )
        after = (await http.get("/stats")).json()
    assert all(answer.status_code == 200 for answer in answers)
    assert after["replica"] == before["replica"]
    ran = after["batches"] - before["batches"]
    sizes: list[int] = after["batch_sizes"][-ran:]
    assert sum(sizes) == 24 + 40
    assert after["texts"] - before["texts"] == 64
    assert max(sizes) <= after["max_batch_size"] == 32
    assert ran < 25, f"the 25 requests were not batched: {sizes}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'["a"]', "must be a JSON object"),
        (b'{"model": "m"}', "'input' is required"),
        (b'{"input": []}', "must not be an empty list"),
        (b'{"input": [101, 2023]}', "token-id input is not supported"),
        (b'{"input": ["ok", 3.5]}', r"input\[1\] must be a string"),
        (b'{"input": ["ok", ""]}', r"input\[1\] is an empty string"),
        (b'{"input": {"text": "x"}}', "must be a string or a list of strings"),
        (b'{"input": "x", "encoding_format": "int8"}', "encoding_format"),
        (b'{"input": "x", "dimensions": 1024}', "returns 384 dimensions"),
    ],
)
async def test_bad_input_is_a_400_with_a_message(served: Served, body: bytes, message: str) -> None:
    """Malformed requests get 400 with an OpenAI-style error naming the problem."""
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        answer = await http.post("/v1/embeddings", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert re.search(message, error["message"]), error["message"]


async def test_http_embedder_does_not_retry_a_400(served: Served) -> None:
    """A client error reaches the caller at once as an HTTP error, not as a retried ModelUnavailable."""
    client = HttpEmbedder(served.url, "all-MiniLM-L6-v2", dim=384, attempts=5)
    try:
        started = time.monotonic()
        with pytest.raises(ModelRequestError, match="400"):
            await client.embed(["fine", ""])
    finally:
        await client.close()
    assert time.monotonic() - started < 5


def _deployment(config: dict[str, Any]) -> dict[str, Any]:
    deployment: dict[str, Any] = config["applications"][0]["deployments"][0]
    return deployment


def test_gpu_config_has_a_consistent_shape_without_a_gpu(tmp_path: Path) -> None:
    """The BGE-M3 config parses into Serve's schema and records 1024-d fp16 on half a GPU, autoscaled."""
    schema = load_config(GPU_CONFIG)
    assert type(schema).__name__ == "ServeDeploySchema"
    [app] = schema.applications
    assert app.import_path == load_config(CPU_CONFIG).applications[0].import_path  # same code
    [gpu] = check_config(GPU_CONFIG)
    assert (gpu.model, gpu.details["dim"], gpu.device, gpu.details["dtype"]) == (
        "BAAI/bge-m3",
        1024,
        "cuda",
        "float16",
    )
    assert gpu.num_gpus == 0.5
    assert 1 <= gpu.min_replicas < gpu.max_replicas
    [cpu] = check_config(CPU_CONFIG)
    assert (cpu.details["dim"], cpu.device, cpu.num_gpus) == (384, "cpu", 0.0)

    raw = yaml.safe_load(GPU_CONFIG.read_text())
    _deployment(raw)["ray_actor_options"]["num_gpus"] = 0
    no_gpu = tmp_path / "no-gpu.yaml"
    no_gpu.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"device cuda but ray_actor_options\.num_gpus"):
        check_config(no_gpu)

    raw = yaml.safe_load(CPU_CONFIG.read_text())
    _deployment(raw)["user_config"]["dtype"] = "float16"
    half_on_cpu = tmp_path / "half-on-cpu.yaml"
    half_on_cpu.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="needs device 'cuda'"):
        check_config(half_on_cpu)

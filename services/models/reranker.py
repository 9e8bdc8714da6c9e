"""The reranker port and its two adapters: an in-process bi-encoder (cosine of MiniLM embeddings,
sharing the embedder's model) and a client of the ``/v1/rerank`` route that vLLM, Jina, Cohere and
``model_serving/rerank.py`` speak (a cross-encoder such as bge-reranker-v2-m3 in production)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from services.models.embedder import Embedder, LocalEmbedder
from services.models.http import ModelHttpClient, ModelRequestError, ModelUnavailable

if TYPE_CHECKING:
    from services.common.settings import ModelSettings

__all__ = [
    "HttpReranker",
    "LocalReranker",
    "ModelRequestError",
    "ModelUnavailable",
    "RerankError",
    "Reranker",
    "reranker_from_settings",
]


class Reranker(Protocol):
    model: str

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text, in input order; higher is more relevant."""

    async def close(self) -> None: ...


class RerankError(ValueError):
    """The rerank server answered, but not with one score per text."""


class LocalReranker:
    """A bi-encoder in this process: the cosine of the query's and each text's embedding.

    It reuses an embedder (by default a new ``LocalEmbedder``, MiniLM from the wheel), so the embedded
    stack holds the model once. Cheaper and weaker than a cross-encoder; the same scores as the Ray
    Serve ``bi-encoder`` backend of the same model."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder: Embedder = embedder if embedder is not None else LocalEmbedder()
        self.model = self._embedder.model

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        [q, *vectors] = await self._embedder.embed([query, *texts], interactive=True)
        # Embedders return unit vectors: the dot product is the cosine.
        return [sum(a * b for a, b in zip(q, v, strict=True)) for v in vectors]

    async def close(self) -> None:
        return None  # the embedder belongs to whoever passed it in (or to nobody)


class HttpReranker:
    """``POST /v1/rerank`` through the shared pooled client: timeouts, jittered retries on
    408/429/5xx/transport errors, then :class:`ModelUnavailable`; another 4xx raises
    :class:`ModelRequestError` at once."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        attempts: int = 5,
        timeout_s: float = 30.0,
    ) -> None:
        self._http = ModelHttpClient(
            base_url, api_key, attempts=attempts, timeout_s=timeout_s, what="rerank server"
        )
        self.model = model
        self.batch_size = batch_size

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            # top_n = all: servers answer best first and may cut to top_n; the port wants every score.
            body = await self._http.post_json(
                "/v1/rerank", {"model": self.model, "query": query, "documents": batch, "top_n": len(batch)}
            )
            by_index = {int(row["index"]): float(row["relevance_score"]) for row in body.get("results", [])}
            if sorted(by_index) != list(range(len(batch))):
                raise RerankError(
                    f"rerank server returned scores for {sorted(by_index)}, expected 0..{len(batch) - 1}"
                )
            scores.extend(by_index[i] for i in range(len(batch)))
        return scores

    async def close(self) -> None:
        await self._http.close()


def reranker_from_settings(models: ModelSettings, embedder: Embedder | None = None) -> Reranker | None:
    """The configured reranker: HTTP when ``rerank_url`` is set, the in-process bi-encoder (sharing
    ``embedder``) when ``rerank_local`` is, else None (retrieval keeps its fused order)."""
    if models.rerank_url:
        key = models.rerank_api_key.get_secret_value() if models.rerank_api_key else None
        return HttpReranker(models.rerank_url, models.rerank_model, api_key=key)
    if models.rerank_local:
        return LocalReranker(embedder)
    return None

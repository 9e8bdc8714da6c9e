"""Vectors and points the vector-index tests share."""

from __future__ import annotations

import numpy as np

from services.stores.ports import VectorPoint

DIM = 8


def vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def make_points(
    vecs: np.ndarray, *, tenant: str = "t1", doc_id: str = "d1", version: str = "v1", prefix: str = "c"
) -> list[VectorPoint]:
    return [
        VectorPoint(
            chunk_id=f"{prefix}{i}",
            vector=v.tolist(),
            payload={"tenant": tenant, "doc_id": doc_id, "version": version, "text": f"chunk {i}"},
        )
        for i, v in enumerate(vecs)
    ]

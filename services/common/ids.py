"""Content-derived identifiers: the basis of idempotent writes across redelivery and replay."""

from __future__ import annotations

import hashlib
import uuid

_DOC_NAMESPACE = uuid.UUID("7d1c5a3e-4f0b-5c2a-9b8e-2f6d1e0a9c47")


def doc_id(tenant: str, source_uri: str) -> str:
    """Stable across updates of the same source, distinct per tenant."""
    return str(uuid.uuid5(_DOC_NAMESPACE, f"{tenant}\x00{source_uri}"))


def chunk_id(doc: str, version: str, ordinal: int, text_sha256: str) -> str:
    return hashlib.sha256(f"{doc}:{version}:{ordinal}:{text_sha256}".encode()).hexdigest()[:32]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()

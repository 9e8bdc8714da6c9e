"""Content-derived identifiers: the basis of idempotent writes across redelivery and replay."""

from __future__ import annotations

import hashlib
import itertools
import uuid

_DOC_NAMESPACE = uuid.UUID("7d1c5a3e-4f0b-5c2a-9b8e-2f6d1e0a9c47")


def doc_id(tenant: str, source_uri: str) -> str:
    """Stable across updates of the same source, distinct per tenant."""
    return str(uuid.uuid5(_DOC_NAMESPACE, f"{tenant}\x00{source_uri}"))


def chunk_id(doc: str, version: str, ordinal: int, text_sha256: str) -> str:
    return hashlib.sha256(f"{doc}:{version}:{ordinal}:{text_sha256}".encode()).hexdigest()[:32]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class CorrelationIds:
    """FastStream's ``id_generator``: a correlation id per publish, unique per process (a random prefix
    drawn once, then a counter). Its default is a uuid4 per message, an ``os.urandom`` call each: on the
    chat path, a reply event per streamed piece, that was a tenth of the agent process's samples."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._next = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._next)}"

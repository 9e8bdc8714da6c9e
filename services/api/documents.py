"""Documents in and out over HTTP: an upload is streamed to a temporary file (refused with 413 the
moment it passes the size limit), stored in the blob store and announced on the ingest topic, like
`ragstream publish`; a delete publishes the tombstone. Both may wait for the outcome."""

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from services.api.ports import ApiPorts
from services.gateway.auth import Principal
from services.publisher import Outcome, Submission

FILENAME = r"^[^/\\\x00]{1,255}$"
BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
Wait = Annotated[bool, Query(description="Answer once the document is indexed or dead-lettered.")]
Timeout = Annotated[float, Query(gt=0, le=1800, description="Seconds to wait (with wait=true).")]


def _body(outcome: Outcome | None, submission: Submission) -> dict[str, Any]:
    body: dict[str, Any] = {
        "doc_id": submission.doc_id,
        "version": submission.version,
        "operation": submission.operation,
        "size_bytes": submission.size_bytes,
        "status": "accepted",
    }
    if outcome is not None:
        body |= {"status": outcome.status, "chunks": outcome.chunks, "seconds": round(outcome.seconds, 3)}
        if outcome.status == "failed":
            body |= {"stage": outcome.stage, "reason": outcome.reason, "error": outcome.error}
    return body


def _respond(outcome: Outcome | None, submission: Submission) -> JSONResponse:
    settled = outcome is not None and outcome.status != "timeout"
    code = status.HTTP_200_OK if settled else status.HTTP_202_ACCEPTED
    return JSONResponse(_body(outcome, submission), status_code=code)


def router(ports: ApiPorts, user: Any) -> APIRouter:
    api = APIRouter(prefix="/v1/documents", tags=["documents"])
    limit = ports.settings.pipeline.max_document_bytes
    idle_s = ports.settings.pipeline.upload_idle_timeout_s

    async def blocks(request: Request) -> AsyncIterator[bytes]:
        """The body's blocks; 408 when none comes for ``idle_s``."""
        stream = request.stream().__aiter__()
        while True:
            try:
                yield await asyncio.wait_for(anext(stream), idle_s)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise HTTPException(
                    status.HTTP_408_REQUEST_TIMEOUT, f"no bytes of the body for {idle_s:g}s"
                ) from None

    @api.post(
        "",
        openapi_extra=BINARY_BODY,
        status_code=status.HTTP_202_ACCEPTED,
        responses={200: {"description": "Settled (with wait)"}, 400: {"description": "Empty body"},
                   408: {"description": "The body stopped coming (for UPLOAD_IDLE_TIMEOUT_S)"},
                   413: {"description": "Larger than the document limit"}},
    )  # fmt: skip
    async def upload(
        request: Request,
        filename: Annotated[str, Query(pattern=FILENAME, description="Its name; the type is judged by it.")],
        principal: Annotated[Principal, Depends(user)],
        source_uri: Annotated[
            str | None,
            Query(
                max_length=2048,
                description="Its identity (default upload:///FILENAME): same URI, same document.",
            ),
        ] = None,
        wait: Wait = False,
        timeout_s: Timeout = 300.0,
    ) -> JSONResponse:
        """Upload a document's bytes as the request body (application/octet-stream); it is indexed
        for the token's tenant. Uploading to the same URI again replaces the document."""
        too_large = HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"larger than {limit} bytes")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        fd, tmp = tempfile.mkstemp(prefix="ragstream-upload-", dir=ports.upload_dir)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for block in blocks(request):
                    size += len(block)
                    if size > limit:
                        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"larger than {limit} bytes")
                    out.write(block)
            if size == 0:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, "empty body: send the document's bytes")
            since = time.monotonic()
            uri = source_uri or f"upload:///{filename}"
            submission = await ports.publisher.upsert(Path(tmp), principal.tenant, uri, filename)
            await ports.flush()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        outcome = await ports.outcomes.wait(submission, since, timeout_s) if wait else None
        return _respond(outcome, submission)

    @api.delete(
        "", status_code=status.HTTP_202_ACCEPTED, responses={200: {"description": "Settled (with wait)"}}
    )
    async def delete(
        source_uri: Annotated[str, Query(min_length=1, max_length=2048, description="The document's URI.")],
        principal: Annotated[Principal, Depends(user)],
        wait: Wait = False,
        timeout_s: Timeout = 120.0,
    ) -> JSONResponse:
        """Remove the token's tenant's document with this URI from every store."""
        since = time.monotonic()
        submission = ports.publisher.delete(source_uri, principal.tenant)
        await ports.flush()
        outcome = await ports.outcomes.wait(submission, since, timeout_s) if wait else None
        return _respond(outcome, submission)

    return api

"""The ops page: ``/ops`` (``static/ops.html``) and its files under ``/ops/static/``, served by the
API under the chat page's content security policy (everything from this origin, no inline code), and
``GET /v1/ops``, the one operator snapshot the page polls: stages with lag and throughput, dead
letters by reason, freshness, the live index and the reindex (``services/api/snapshot.py``).

The page itself is public (it holds no data); the snapshot needs an operator token, which the page
takes from ``?token=`` into sessionStorage, as the chat page does. (No ``from __future__ import
annotations`` here: FastAPI resolves the handlers' ``Depends(operator)`` annotations at runtime.)
"""

from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import Response

from services.api.auth import NOT_OPERATOR, PrincipalDep
from services.api.sampler import OpsSampler, SnapshotUnavailable
from services.gateway.auth import Principal
from services.gateway.page import CSP

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The colours, frame and header bar, shared with the chat page.
BASE_CSS = Path(__file__).resolve().parents[1] / "gateway" / "static" / "base.css"
PAGE = "ops.html"
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8"}  # fmt: skip
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page URL may carry ?token=
    "Content-Security-Policy": CSP,
}
NO_SNAPSHOT = {"description": "The broker did not answer for the first sample; try again"}


@cache
def _files() -> dict[str, bytes]:
    """Every servable file by name, read once: the set is fixed when the API starts."""
    own = {p.name: p.read_bytes() for p in STATIC_DIR.iterdir() if p.is_file() and p.suffix in _TYPES}
    return own | {BASE_CSS.name: BASE_CSS.read_bytes()}


def _file(name: str) -> Response:
    body = _files().get(name)
    if body is None:
        return Response(b"not found\n", status.HTTP_404_NOT_FOUND, _HEADERS, "text/plain; charset=utf-8")
    return Response(body, status.HTTP_200_OK, _HEADERS, _TYPES[Path(name).suffix])


def router(sampler: OpsSampler, operator: PrincipalDep) -> APIRouter:
    routes = APIRouter()

    @routes.get("/ops", include_in_schema=False)
    async def page() -> Response:
        return _file(PAGE)

    @routes.get("/ops/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        return _file(name)

    @routes.get("/v1/ops", tags=["operations"], responses={403: NOT_OPERATOR, 503: NO_SNAPSHOT})
    async def ops_snapshot(_: Annotated[Principal, Depends(operator)], response: Response) -> dict[str, Any]:
        """What the ops page draws, in one snapshot: per stage and input topic the end, committed,
        lag and messages per second (``rate``, from the previous samples; ``history`` for a
        sparkline); dead letters by stage and reason; freshness (p50/p95 from the index stage's
        histogram, ``here: false`` where no index stage runs in this process); the live index
        generation and counts, ``problems``, and the reindex's progress. The API samples at most
        every ``interval_s`` whoever asks; ``age_s`` says how old this one is."""
        response.headers["Cache-Control"] = "no-store"
        try:
            return await sampler.snapshot()
        except SnapshotUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None

    return routes

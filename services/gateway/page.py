"""The web chat page the gateway serves over plain HTTP on its own port: ``/`` is ``static/index.html``,
``/static/<name>`` the files beside it (a fixed set, read once; no directory walking, no build step);
and the probes beside it (``/healthz``, ``/readyz``, ``/metrics``).

The page talks to the same gateway over ``/ws`` with the protocol in docs/gateway-protocol.md.
"""

from __future__ import annotations

import email.utils
from functools import cache
from http import HTTPStatus
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "index.html"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Everything comes from this origin; the socket goes back to it ('self' covers ws:/wss: of this host).
# The API's ops page (services/api/ops_page.py) is served under the same policy.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _files() -> dict[str, bytes]:
    """Every servable file by name, read once: the set is fixed when the gateway starts."""
    if not STATIC_DIR.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in STATIC_DIR.iterdir() if p.is_file() and p.suffix in _TYPES}


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers()
    headers["Date"] = email.utils.formatdate(usegmt=True)
    headers["Connection"] = "close"
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["Cache-Control"] = "no-cache"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"  # the page URL may carry ?token=
    headers["Content-Security-Policy"] = CSP
    return Response(status.value, status.phrase, headers, body)


def is_websocket(request: Request) -> bool:
    return "websocket" in request.headers.get("Upgrade", "").lower()


def page_response(path: str) -> Response | None:
    """The response for a plain-HTTP ``GET path`` of the page or its assets; None for other paths."""
    if path in ("/", "/index.html"):
        name = INDEX
    elif path.startswith("/static/"):
        name = path.removeprefix("/static/")
    else:
        return None
    body = _files().get(name)
    if body is None:
        return _response(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
    return _response(HTTPStatus.OK, body, _TYPES[Path(name).suffix])


def probe_response(conn: ServerConnection, path: str, ready: bool) -> Response | None:
    """Liveness, readiness (``ready``: the gateway has started) and Prometheus metrics; None for other
    paths."""
    if path == "/healthz":
        return conn.respond(HTTPStatus.OK, "ok\n")
    if path == "/readyz":
        if ready:
            return conn.respond(HTTPStatus.OK, "ready\n")
        return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "not ready\n")
    if path == "/metrics":
        response = conn.respond(HTTPStatus.OK, generate_latest().decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
    return None

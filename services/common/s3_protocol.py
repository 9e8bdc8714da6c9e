"""The S3 wire format the object server speaks (``services/common/s3_server.py``): its errors, its XML
bodies, conditional requests (``If-Match`` / ``If-None-Match``) and byte ranges. No storage here."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def error_response(exc: S3Error) -> Response:
    body = f"<Error><Code>{exc.code}</Code><Message>{escape(str(exc))}</Message></Error>"
    return Response(body if exc.status != 304 else b"", exc.status, media_type="application/xml")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_response(root: str, children: list[str]) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{XMLNS}">{"".join(children)}</{root}>'
    return Response(body, 200, media_type="application/xml")


def quoted(tag: str) -> str:
    return f'"{tag}"'


def _matches(header: str, tag: str | None) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names ``tag`` (``*`` names any object)."""
    if tag is None:
        return False
    wanted = {t.strip().strip('"') for t in header.split(",")}
    return "*" in wanted or tag in wanted


def check_conditions(request: Request, tag: str | None, reading: bool) -> None:
    if_match, if_none = request.headers.get("if-match"), request.headers.get("if-none-match")
    if if_match is not None and not _matches(if_match, tag):
        if tag is None and not reading:
            raise S3Error(404, "NoSuchKey", "no object to update (If-Match)")
        raise S3Error(412, "PreconditionFailed", "the object changed (If-Match)")
    if if_none is not None and _matches(if_none, tag):
        if reading:
            raise S3Error(304, "NotModified", "not modified")
        raise S3Error(412, "PreconditionFailed", "the object exists (If-None-Match)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` as an inclusive (start, end), or None for all."""
    if not header:
        return None
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise S3Error(416, "InvalidRange", f"unsupported range {header!r}")
    if not m.group(1):
        start, end = max(0, size - int(m.group(2))), size - 1
    else:
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if start >= size or start > end:
        raise S3Error(416, "InvalidRange", f"range {header!r} outside {size} bytes")
    return start, end

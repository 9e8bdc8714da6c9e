"""Bearer tokens for the gateway: HS256 JWTs carrying ``tenant`` and ``sub`` (the user).

Every failure raises a subclass of ``AuthError`` whose ``close_code`` is the websocket close code the
gateway sends (see docs/gateway-protocol.md):

* 4401 — unauthenticated, retry with a fresh token: the token is missing or expired.
* 4403 — forbidden, do not retry with the same token: forged (bad signature), malformed, wrong
  algorithm, not yet valid, or missing a required claim.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from websockets.http11 import Request

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "tenant", "exp", "iat")
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    user: str
    # claim "ops": may read status and dead letters and start a reindex. Not part of who the user is:
    # an answer asked with an operator's token is still theirs when the copy kept in Redis (which
    # stores tenant and user) is compared with them.
    operator: bool = field(default=False, compare=False)
    # the token's "exp" (epoch seconds): a socket is closed then, as one opened after it is refused
    expires_at: float | None = field(default=None, compare=False)


class AuthError(Exception):
    close_code: int = CLOSE_FORBIDDEN

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenMissing(AuthError):
    close_code = CLOSE_UNAUTHENTICATED


class TokenExpired(AuthError):
    close_code = CLOSE_UNAUTHENTICATED


class TokenInvalid(AuthError):
    """Forged, malformed, wrong algorithm or not yet valid."""

    close_code = CLOSE_FORBIDDEN


class MissingClaims(TokenInvalid):
    pass


def issue_token(secret: str, tenant: str, user: str, ttl_s: float = 3600, **extra: Any) -> str:
    """A signed token for ``tenant``/``user`` valid for ``ttl_s`` seconds (negative: already expired)."""
    if not secret:
        raise ValueError("an empty signing secret is not allowed")
    now = int(time.time())
    claims = {**extra, "sub": user, "tenant": tenant, "iat": now, "exp": now + int(ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str | None, secret: str, leeway_s: float = 5.0) -> Principal:
    """The principal of a valid token; raises an ``AuthError`` subclass otherwise."""
    if not token:
        raise TokenMissing("no bearer token")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=leeway_s,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("token expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise MissingClaims(f"token lacks claim {exc.claim!r}") from exc
    except jwt.InvalidTokenError as exc:  # bad signature, malformed, alg, nbf/iat in the future
        raise TokenInvalid(f"invalid token: {type(exc).__name__}") from exc
    tenant, user = claims.get("tenant"), claims.get("sub")
    if not isinstance(tenant, str) or not tenant or not isinstance(user, str) or not user:
        raise MissingClaims("token claims 'tenant' and 'sub' must be non-empty strings")
    if not all(ch.isprintable() for ch in tenant + user):
        # ids join the tenant to other parts with a NUL ("a\0b"+"c" and "a"+"b\0c" would meet)
        raise TokenInvalid("token claims 'tenant' and 'sub' must not hold control characters")
    expires = claims.get("exp")
    return Principal(
        tenant=tenant,
        user=user,
        operator=claims.get("ops") is True,
        expires_at=float(expires) + leeway_s if isinstance(expires, int | float) else None,
    )


def bearer(request: Request) -> str | None:
    """The token of a websocket upgrade: ``?token=`` (what a browser can send) or ``Authorization:
    Bearer``."""
    token = parse_qs(urlsplit(request.path).query).get("token", [None])[0]
    if token:
        return token
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None

"""Bearer JWTs for the HTTP API: the gateway's tokens (same secret, same claims), the tenant always
from the token. 401 for a missing, expired or invalid token; 403 when an operator route is called
without the ``ops`` claim (``ragstream token --operator``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.auth import AuthError, Principal, TokenExpired, TokenMissing, verify

_bearer = HTTPBearer(auto_error=False, description="A ragstream JWT (`ragstream token`)")

PrincipalDep = Callable[..., Awaitable[Principal]]
NOT_OPERATOR = {"description": "The token lacks the operator claim (ops)"}


def authenticator(secret: str) -> tuple[PrincipalDep, PrincipalDep]:
    """(any signed-in user, an operator) as FastAPI dependencies."""

    async def user(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        try:
            return verify(credentials.credentials if credentials else None, secret)
        except AuthError as exc:
            error = "invalid_token" if not isinstance(exc, TokenMissing) else "missing_token"
            if isinstance(exc, TokenExpired):
                error = "expired_token"
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail=exc.reason,
                headers={"WWW-Authenticate": f'Bearer error="{error}"'},
            ) from None

    async def operator(principal: Principal = Depends(user)) -> Principal:
        if not principal.operator:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs an operator token (claim ops)")
        return principal

    return user, operator

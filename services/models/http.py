"""What every OpenAI-compatible model client shares: one pooled ``httpx.AsyncClient`` per server,
timeouts, and jittered exponential retries on what is worth retrying (connection errors, 408, 429,
5xx). A server that stays down or saturated after the last attempt raises :class:`ModelUnavailable`,
which the pipeline answers with backpressure (pause, wait, resume) instead of a dead letter; any other
4xx is the caller's bug and raises at once with the server's message."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

RETRYABLE = frozenset({408, 429})
# Answers about the deployment, not the request: a rotated key, a wrong route or model name. No record
# is at fault, so none is dead-lettered: the stage pauses (ModelUnavailable) until it is fixed.
MISCONFIGURED = frozenset({401, 403, 404, 405})


class ModelUnavailable(RuntimeError):
    """The model server is down or saturated: transient, worth a retry (never a dead letter)."""


class ModelRequestError(ValueError):
    """The server refused the request (4xx other than 408/429): retrying cannot help."""


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:300]
    return str(body)[:300]


class ModelHttpClient:
    """A pooled client for one OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        attempts: int = 5,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        max_connections: int = 64,
        what: str = "model server",
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )
        self.attempts = attempts
        self.what = what

    async def _backoff(self, attempt: int, delay: float, error: str) -> float:
        if attempt == self.attempts:
            raise ModelUnavailable(f"{self.what} {self.base_url}: {error}")
        await asyncio.sleep(delay * (0.5 + random.random()))
        return min(delay * 2, 5.0)

    def _misconfigured(self, response: httpx.Response) -> None:
        if response.status_code in MISCONFIGURED:
            raise ModelUnavailable(
                f"{self.what} {self.base_url}: HTTP {response.status_code} (check its URL, key and model "
                f"name): {_server_message(response)}"
            )

    @staticmethod
    def _retryable(response: httpx.Response) -> bool:
        return response.status_code in RETRYABLE or response.status_code >= 500

    async def post_json(self, path: str, payload: dict[str, Any]) -> Any:
        """POST and return the decoded JSON body, retrying what is transient."""
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(path, json=payload)
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response.json()
                self._misconfigured(response)
                if not self._retryable(response):
                    raise ModelRequestError(
                        f"{self.what} refused the request: HTTP {response.status_code}: "
                        f"{_server_message(response)}"
                    )
                error = f"HTTP {response.status_code}"
            delay = await self._backoff(attempt, delay, error)
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def post_stream(self, path: str, payload: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        """POST and yield the open streaming response. Retries happen only before the first byte:
        once the body flows, a broken stream raises :class:`ModelUnavailable` to the caller, who has
        already passed some of it on and must decide what a restart means."""
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            try:
                async with self._client.stream("POST", path, json=payload) as response:
                    if response.status_code < 400:
                        try:
                            yield response
                        except (httpx.TransportError, httpx.StreamError) as exc:
                            raise ModelUnavailable(
                                f"{self.what} {self.base_url}: stream broke: {exc}"
                            ) from exc
                        return
                    await response.aread()
                    self._misconfigured(response)
                    if not self._retryable(response):
                        raise ModelRequestError(
                            f"{self.what} refused the request: HTTP {response.status_code}: "
                            f"{_server_message(response)}"
                        )
                    error = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            delay = await self._backoff(attempt, delay, error)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self._client.aclose()

"""The chat-model port and its OpenAI-compatible client (the Ray Serve ``llm`` app, vLLM's own server,
or any ``/v1/chat/completions``). Every LLM use in the platform goes through it: planning and query
rewriting (JSON-guided), HyDE, the streamed answer, and graph extraction (JSON-guided).

With no LLM configured nothing here is built: the planner is deterministic, the answer extractive and
the graph extractor rule-based (see services/agent/graph.py and services/extract_graph)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from services.models.http import ModelHttpClient, ModelUnavailable

Message = dict[str, str]


class ModelOutputError(ValueError):
    """The model answered, but not in the shape asked for (truncated or invalid JSON)."""


class ChatModel(Protocol):
    model: str

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> AsyncIterator[str]:
        """Text deltas of the assistant's reply as they are generated."""

    async def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> str: ...

    async def json(
        self, messages: Sequence[Message], schema: dict[str, Any], *, name: str, max_tokens: int = 512
    ) -> Any:
        """A value that the server constrained to ``schema`` while generating it."""

    async def close(self) -> None: ...


class HttpChatModel:
    """``/v1/chat/completions`` over pooled HTTP with retries (before the first token only)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        attempts: int = 4,
        timeout_s: float = 120.0,
        seed: int | None = 0,
    ) -> None:
        self._http = ModelHttpClient(
            base_url, api_key, attempts=attempts, timeout_s=timeout_s, what="LLM server"
        )
        self.model = model
        self.deadline_s = timeout_s * 1.25
        self.seed = seed  # fixed by default: the same question gets the same answer on every executor

    def _payload(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if self.seed is not None:
            payload["seed"] = self.seed
        return payload

    async def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> AsyncIterator[str]:
        payload = self._payload(messages, max_tokens, temperature) | {"stream": True}
        async with self._http.post_stream("/v1/chat/completions", payload) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if "error" in event:
                    raise ModelUnavailable(f"LLM server failed mid-answer: {event['error']}")
                for choice in event.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield text
        # a stream the server (or a proxy) closed early is a cut answer, not a whole one
        raise ModelUnavailable("LLM stream ended before [DONE]")

    async def _complete(self, payload: dict[str, Any]) -> tuple[str, str | None]:
        # One call's time in all, retries included: four attempts of the read timeout each were eight
        # minutes (a stage's handler past the consumer's poll interval, a user's plan step waiting).
        try:
            async with asyncio.timeout(self.deadline_s):
                body = await self._http.post_json("/v1/chat/completions", payload)
        except TimeoutError:
            raise ModelUnavailable(f"LLM server: no answer within {self.deadline_s:g}s") from None
        try:
            choice = body["choices"][0]
            return str(choice["message"]["content"] or ""), choice.get("finish_reason")
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelOutputError(f"not a chat completion: {str(body)[:200]}") from exc

    async def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> str:
        text, _ = await self._complete(self._payload(messages, max_tokens, temperature))
        return text

    async def json(
        self, messages: Sequence[Message], schema: dict[str, Any], *, name: str, max_tokens: int = 512
    ) -> Any:
        payload = self._payload(messages, max_tokens, 0.0) | {
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
        }
        text, finish = await self._complete(payload)
        if finish == "length":
            raise ModelOutputError(f"{name}: output cut at max_tokens={max_tokens} before the JSON closed")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelOutputError(f"{name}: not valid JSON ({exc}): {text[:200]!r}") from exc

    async def close(self) -> None:
        await self._http.close()


def chat_model_from(settings: Any) -> HttpChatModel | None:
    """The configured LLM client (``ModelSettings.llm_url``), or None for the no-LLM defaults."""
    if not settings.llm_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return HttpChatModel(settings.llm_url, settings.llm_model, key, timeout_s=settings.llm_timeout_s)

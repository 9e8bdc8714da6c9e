"""Web search for the agent's tool step, only when an operator configures a search service
(``RAGSTREAM_TOOLS__WEB_SEARCH_URL``): a SearxNG instance's JSON API (``GET /search?q=..&format=json``),
which fronts the engines the operator allows. Nothing reaches the internet unless that is set.

Results are reduced to "title — url: snippet" lines; the snippet is cut, HTML-free text from the
service (the agent never fetches the pages themselves)."""

from __future__ import annotations

import re

import httpx

TAGS = re.compile(r"<[^>]+>")


class WebSearch:
    def __init__(self, base_url: str, max_results: int = 5, timeout_s: float = 10.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.max_results = max_results

    async def __call__(self, query: str) -> list[str]:
        if not query.strip():
            return []
        response = await self._client.get("/search", params={"q": query, "format": "json"})
        response.raise_for_status()
        lines = []
        for item in (response.json().get("results") or [])[: self.max_results]:
            title = TAGS.sub("", str(item.get("title") or "")).strip() or "(untitled)"
            snippet = " ".join(TAGS.sub("", str(item.get("content") or "")).split())[:200]
            lines.append(f"{title} — {item.get('url', '')}" + (f": {snippet}" if snippet else ""))
        return lines

    async def close(self) -> None:
        await self._client.aclose()

"""Browser-test fixtures: Debian's chromium driven by Playwright, and the whole embedded stack with
examples/docs indexed for one tenant behind a gateway that also serves the web chat page."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from redis.asyncio import Redis

from services.common.settings import Settings
from services.gateway import Gateway, GatewayConfig
from services.generations import run_stack
from services.models.embedder import LocalEmbedder
from services.publisher import DocumentPublisher, OutcomeWatcher
from topics import TopicNames

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
TENANT = "acme"
# Playwright cannot download its own browsers here: Debian's chromium, without anything that phones home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium, installed with apt (as ``make install`` does) when it is missing."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found:
        return found
    subprocess.run(
        ["sh", "-c", "apt-get update -qq && apt-get install -y -qq chromium"],
        check=True,
        timeout=900,
    )
    found = shutil.which("chromium")
    assert found, "apt-get installed chromium but it is not on PATH"
    return found


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless chromium for the session."""
    executable = chromium_path()
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (own sessionStorage) and page per test."""
    context: BrowserContext = await browser.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    yield page
    await context.close()


@pytest.fixture(scope="module")
async def site(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    """(http base URL of the gateway serving the page, token signing secret) over the embedded stack
    with examples/docs indexed for 'acme'."""
    secret = "browser-secret-" + uuid.uuid4().hex
    settings = Settings(home=tmp_path_factory.mktemp("browser"))
    names = TopicNames(prefix=f"web-{uuid.uuid4().hex[:8]}.")
    async with run_stack(settings, bootstrap=kafka_bootstrap, names=names, embedder=LocalEmbedder()) as stack:
        watcher = OutcomeWatcher(stack.bootstrap, names, stack.front.codec)
        publisher = DocumentPublisher(stack.bootstrap, names, stack.front.codec, stack.front.blobs)
        subs = [await publisher.upsert(p, TENANT) for p in sorted(EXAMPLES.iterdir())]
        publisher.flush()
        outcomes = await watcher.wait(subs, 180)
        watcher.close()
        assert {o.status for o in outcomes} == {"indexed"}
        redis = Redis.from_url("redis://127.0.0.1:6379/0")
        config = GatewayConfig(redis_prefix=f"test:web:{uuid.uuid4().hex[:6]}:")
        async with Gateway(stack.bootstrap, names, secret, redis, config=config) as gateway:
            yield f"http://{config.host}:{gateway.port}", secret
        await redis.aclose()

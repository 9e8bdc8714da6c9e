"""Browser-test fixtures: Debian's chromium driven by Playwright, and the whole embedded stack with
examples/docs indexed for one tenant behind a gateway that also serves the web chat page."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from services.gateway import Gateway
from tests.support import chat_stack

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


@dataclass(frozen=True)
class Site:
    base: str  # http base URL of the gateway serving the page
    secret: str  # the token signing secret
    gateway: Gateway


@pytest.fixture(scope="module")
async def site(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """The page's gateway over the embedded stack with examples/docs indexed for 'acme'."""
    secret = "browser-secret-" + uuid.uuid4().hex
    async with chat_stack(kafka_bootstrap, tmp_path_factory.mktemp("browser"), secret, "web") as (_, gateway):
        yield Site(f"http://{gateway.config.host}:{gateway.port}", secret, gateway)

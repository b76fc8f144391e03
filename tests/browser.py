"""Helpers of the browser tests: Debian's Chromium driven by Playwright (the fixtures are in
tests/service/conftest.py)."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

CHROMIUM = shutil.which("chromium")
# Every browser test is offline: no name but the loopback address resolves, and whatever a page still asks of
# another host is aborted by the context's route (and recorded, so a test can say nothing was asked).
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def open_page(chromium, width: int = 1280, height: int = 1000):
    """A fresh context (its own cookies) and page; requests to any host but loopback are aborted and listed
    on ``page.refused``."""
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    refused: list[str] = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.refused = refused
    return page


def submit(page, selector: str) -> None:
    """Click what sends a form and wait for the next document (a form post redirects to a new page)."""
    with page.expect_navigation():
        page.click(selector)



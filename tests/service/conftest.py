"""The real browser the web tests share: one headless Chromium per session, a fresh context per test."""

from __future__ import annotations

import os

import pytest

from tests.browser import CHROMIUM, CHROMIUM_FLAGS, open_page


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session (contexts keep the tests apart); a skip, or a failure when the
    browser is required (PRECEDENT_REQUIRE_BROWSER=1), where it is not installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if not (CHROMIUM and sync_playwright):
        reason = ("chromium is not installed (apt-get install chromium)" if not CHROMIUM
                  else "playwright is not installed (pip install -e '.[dev]')")
        if os.environ.get("PRECEDENT_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS))
        yield launched
        launched.close()


@pytest.fixture
def browser(chromium):
    page = open_page(chromium)
    yield page
    page.context.close()

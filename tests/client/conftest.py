"""Fixtures for the browser tests: Chromium and a dev server per test module.

Playwright's sync API runs an event loop on the main thread while it is started, so it is stopped at the
end of each module: a session-wide Playwright would break the asyncio tests that run after these.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.client.browser import ARTIFACTS, AXE_SCRIPT, CHROMIUM, CHROMIUM_FLAGS
from tests.client.devserver_process import DevServer, dev_server


@pytest.fixture(scope="session")
def fresh_timings() -> None:
    """artifacts/browser-timings.json holds only this run's figures, from every browser test module."""
    (ARTIFACTS / "browser-timings.json").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def browser(fresh_timings: None) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM}: run `make chromium` or set CHROMIUM_PATH.")
    if not AXE_SCRIPT.exists():
        pytest.fail(f"axe-core is needed at {AXE_SCRIPT}: run `npm ci`.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with dev_server() as running:
        yield running

"""Fixtures for the browser tests: Chromium and a dev server per test module.

Playwright's sync API runs an event loop on the main thread while it is started, so it is stopped at the
end of each module: a session-wide Playwright would break the asyncio tests that run after these.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.client.browser import (
    ARTIFACTS,
    AXE_SCRIPT,
    CHROMIUM,
    CHROMIUM_FLAGS,
    OPENED_TABS,
    documented_header_states,
)
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


@pytest.fixture(autouse=True)
def header_shows_only_documented_states() -> Iterator[None]:
    """Every browser test also checks that the header showed only states the docs list."""
    OPENED_TABS.clear()
    yield
    shown = {state for tab in OPENED_TABS for state in tab.header_states}
    undocumented = shown - set(documented_header_states())
    assert not undocumented, f"the header showed states the docs do not list: {sorted(undocumented)}"


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with dev_server() as running:
        yield running

"""Fixtures for the browser tests: one Chromium for the session, one dev server per test module."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.client.browser import ARTIFACTS, AXE_SCRIPT, CHROMIUM, CHROMIUM_FLAGS
from tests.client.devserver_process import DevServer, dev_server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM}: run `make chromium` or set CHROMIUM_PATH.")
    if not AXE_SCRIPT.exists():
        pytest.fail(f"axe-core is needed at {AXE_SCRIPT}: run `npm ci`.")
    (ARTIFACTS / "browser-timings.json").unlink(missing_ok=True)  # only this run's figures
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with dev_server() as running:
        yield running

"""The chat page in real Chromium, through the dev server, the token function and the local service."""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.client.devserver_process import ROOT, DevServer, dev_server

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
XSS = '<img src=x onerror="window.__xss = true">'
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM}: run `make chromium` or set CHROMIUM_PATH.")
    (ARTIFACTS / "browser-timings.json").unlink(missing_ok=True)  # only this run's figures
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with dev_server() as running:
        yield running


def join(page: Page, url: str, name: str) -> float:
    """Open the page, join as `name`; returns seconds from navigation to 'connected'."""
    started = time.perf_counter()
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join chat").click()
    expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)
    return time.perf_counter() - started


def record_timings(**seconds: float) -> None:
    """Merge measured timings (in ms) into artifacts/browser-timings.json and print them for the run log."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "browser-timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings |= {name: round(value * 1000) for name, value in seconds.items()}
    path.write_text(json.dumps(timings, indent=2))
    print(f"\nbrowser timings: {timings}")


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def test_two_people_chat_with_presence_and_text_only_messages(browser: Browser, server: DevServer) -> None:
    channel_url = f"{server.url}/?channel=chat:browser-{time.time_ns()}"
    alice = browser.new_page(viewport={"width": 1280, "height": 800})
    bob = browser.new_page(viewport={"width": 390, "height": 844})
    console: list[str] = []
    for page in (alice, bob):
        page.on("console", lambda message: console.append(message.text))

    to_connected = join(alice, channel_url, "alice")
    join(bob, channel_url, "bob")

    for page in (alice, bob):
        expect(page.locator("#members li")).to_have_text(["alice", "bob"], timeout=TIMEOUT_MS)

    started = time.perf_counter()
    send(alice, "hello bob")
    expect(alice.locator("#messages li .text").last).to_have_text("hello bob", timeout=TIMEOUT_MS)
    to_echo = time.perf_counter() - started
    expect(bob.locator("#messages li .text").last).to_have_text("hello bob", timeout=TIMEOUT_MS)
    expect(bob.locator("#messages li .sender").last).to_have_text("alice")

    send(bob, XSS)
    expect(alice.locator("#messages li .text").last).to_have_text(XSS, timeout=TIMEOUT_MS)
    assert alice.locator("#messages img").count() == 0
    assert alice.evaluate("window.__xss === undefined")
    assert not [
        line for line in console if "Content Security Policy" in line
    ]  # the dev server sends a strict CSP

    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=ARTIFACTS / "chat-desktop.png", full_page=True)
    bob.screenshot(path=ARTIFACTS / "chat-phone.png", full_page=True)
    record_timings(navigation_to_connected_ms=to_connected, publish_to_echo_ms=to_echo)

    # Leaving the page: ably-js closes its connection on beforeunload, and presence drops bob at once.
    bob.evaluate("window.dispatchEvent(new Event('beforeunload'))")
    expect(alice.locator("#members li")).to_have_text(["alice"], timeout=TIMEOUT_MS)
    bob.close()
    alice.close()


def test_the_page_shows_a_failing_token_function_instead_of_hanging(browser: Browser) -> None:
    with dev_server(ABLY_TOKEN_CAPABILITY="{not json") as broken:
        page = browser.new_page()
        page.goto(broken.url)
        page.get_by_label("Your name").fill("carol")
        page.get_by_role("button", name="Join chat").click()
        status = page.locator("#status")
        expect(status).to_have_attribute("data-state", "disconnected", timeout=TIMEOUT_MS)
        expect(status).to_contain_text("ABLY_TOKEN_CAPABILITY")
        expect(page.get_by_label("Message")).to_be_disabled()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "chat-token-failure.png")
        page.close()


def test_one_person_chats_by_keyboard_alone(browser: Browser, server: DevServer) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 700})
    started = time.perf_counter()
    page.goto(f"{server.url}/?channel=chat:keyboard-{time.time_ns()}")
    expect(page.locator("#room")).to_be_hidden()  # nothing to read or send before joining
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "join-phone.png")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "name"
    page.keyboard.type("dora")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)
    to_connected = time.perf_counter() - started
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("typed, not clicked")
    page.keyboard.press("Enter")
    expect(page.locator("#messages li .text").last).to_have_text("typed, not clicked", timeout=TIMEOUT_MS)
    record_timings(
        single_page_navigation_to_connected_ms=to_connected,
        single_page_navigation_to_first_echo_ms=time.perf_counter() - started,
    )
    page.close()

"""Names are checked on the page before anything connects, and the reason is shown next to the field."""

import pytest
from playwright.sync_api import Browser, Request, expect

from tests.client.browser import TIMEOUT_MS, assert_accessible, open_tab, screenshot
from tests.client.devserver_process import DevServer

TOO_LONG = "x" * 65


def is_token_request(request: Request) -> bool:
    return "ably-token-request" in request.url and "warmup=1" not in request.url


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("*", "“*” cannot be a name"),
        ("   ", "Enter a name to join."),
        ("", "Enter a name to join."),
        (TOO_LONG, "Use at most 64 characters; this name has 65."),
        ("bell\u0007", "Names cannot contain control characters."),
    ],
)
def test_a_bad_name_is_explained_and_nothing_connects(
    browser: Browser, server: DevServer, name: str, reason: str
) -> None:
    tab = open_tab(browser, "phone")
    page = tab.page
    token_requests: list[Request] = []
    page.on("request", lambda request: token_requests.append(request) if is_token_request(request) else None)
    page.goto(server.url)
    field = page.get_by_label("Your name")
    field.fill(name)
    page.get_by_role("button", name="Join chat").click()

    error = page.locator("#name-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(reason)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    expect(field).to_have_value(name)  # nothing cut silently
    expect(page.locator("#room")).to_be_hidden()
    expect(page.locator("#status-text")).to_have_text("Not connected")
    page.wait_for_timeout(300)  # time for a wrongly started connection to ask for a token
    assert token_requests == []
    assert tab.errors == []
    if name == "*":
        screenshot(page, "join-invalid-name")
        assert_accessible(page, "invalid name")

    field.fill("valid name")  # the reason goes as soon as the name is fixed
    expect(error).to_be_hidden()
    expect(field).to_have_attribute("aria-invalid", "false")
    page.context.close()


def test_a_too_long_name_is_flagged_while_typing(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser)
    page = tab.page
    page.goto(server.url)
    page.get_by_label("Your name").fill("x" * 64)
    expect(page.locator("#name-error")).to_be_hidden()
    page.get_by_label("Your name").press("x")
    expect(page.locator("#name-error")).to_have_text("Use at most 64 characters; this name has 65.")
    page.get_by_label("Your name").press("Backspace")
    expect(page.locator("#name-error")).to_be_hidden()
    page.get_by_role("button", name="Join chat").click()
    expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)
    expect(page.locator("#members li")).to_have_text(["x" * 64 + " (you)"], timeout=TIMEOUT_MS)
    page.context.close()


def test_the_join_page_is_accessible(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser, "phone")
    tab.page.goto(server.url)
    expect(tab.page.get_by_label("Your name")).to_be_focused()
    screenshot(tab.page, "join-phone")
    assert_accessible(tab.page, "join")
    assert tab.failed_requests == []  # the favicon is there
    tab.page.context.close()

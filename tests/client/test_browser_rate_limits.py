"""A publish Ably refuses for going too fast (42911) stays in the composer; the connection carries on.

The local service applies Ably's per-connection publish rate (50 a second on every package). Here it is
one publish every 2 s, so that a person typing two messages in a row meets it; the JWT's own rate
(ABLY_PUBLISH_MAX_RATE) is met the same way in test_browser_jwt.py.
"""

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from ably_local.limits import Limits
from devserver.testing import RunningDevServer, running_devserver
from tests.client.browser import TIMEOUT_MS, assert_accessible, join, open_tab, screenshot, send

TOO_FAST = "You are sending too fast. Wait a moment, then send again."


@pytest.fixture(scope="module")
def slow_server() -> Iterator[RunningDevServer]:
    with running_devserver(limits=Limits(connection_publish_rate=0.5)) as running:
        yield running


def sending_too_fast(browser: Browser, url: str, screenshot_name: str) -> None:
    """Two messages in a row on a server allowing one publish every 2 s: the second comes back to the
    composer with the reason beside it, and goes once the rate allows; no banner, no reconnect."""
    tab = open_tab(browser)
    page = tab.page
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    join(tab, f"{url}/?channel=chat:fast-{time.time_ns()}", "quick")
    send(page, "first")
    expect(page.locator("#messages .message").last).not_to_have_attribute("data-status", "sending")
    send(page, "second, too soon")  # within 2 s of the first
    composer = page.get_by_label("Message")
    expect(composer).to_have_value("second, too soon", timeout=TIMEOUT_MS)
    expect(page.locator("#message-error")).to_have_text(TOO_FAST)
    expect(composer).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#messages .message .text")).to_have_text(["first"])  # taken back off the list
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#status-text")).to_have_text("Connected")
    screenshot(page, screenshot_name)
    assert_accessible(page, "sending too fast")

    page.wait_for_timeout(2_100)  # the rate allows the next one
    composer.press("Enter")
    expect(page.locator("#messages .message:not([data-status]) .text")).to_have_text(
        ["first", "second, too soon"], timeout=TIMEOUT_MS
    )
    expect(page.locator("#message-error")).to_be_hidden()
    expect(composer).to_have_value("")
    assert len(sockets) == 1  # nothing reconnected
    assert tab.header_states == {"Not connected", "Connecting…", "Connected"}
    assert tab.errors == []
    page.context.close()


def test_past_the_connections_publish_rate_the_text_stays_in_the_composer(
    browser: Browser, slow_server: RunningDevServer
) -> None:
    sending_too_fast(browser, slow_server.url, "problem-sending-too-fast")

"""Continuity loss (80020) is recoverable: the conversation says messages may be missing, and carries on.

It happens for real: the local service, like Ably, drops a client that cannot take what it must send it
(past its outbound buffer) with DISCONNECTED 80020, and ably-js reconnects and re-attaches by itself. Here
the service's outbound buffer is small and a message published over REST is larger than it; the channel
keeps too little history to replay that message, so the re-attach cannot resume and the gap is real.
"""

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, WebSocketRoute, expect

from ably_local.limits import KiB, Limits
from devserver.testing import RunningDevServer, running_devserver
from tests.client.browser import TIMEOUT_MS, assert_accessible, join, open_tab, screenshot, send

ATTACHED, SYNC = 11, 16  # protocol message actions
RESUMED = 1 << 2  # ATTACHED flag: the attachment continued without a gap
SMALL_BUFFER = Limits(outbound_buffer_bytes=16 * KiB, history_bytes_per_channel=16 * KiB)
GAP_NOTICE = (
    "Some messages may be missing: Ably could not deliver all of them to this page (error 80020). "
    "The chat carries on."
)


@pytest.fixture(scope="module")
def small_buffer_server() -> Iterator[RunningDevServer]:
    with running_devserver(limits=SMALL_BUFFER) as running:
        yield running


def publish(server: RunningDevServer, channel: str, text: str) -> None:
    """A message from a server-side publisher, over REST with the app's key."""
    name, secret = server.realtime.api_key.split(":")
    message = {"name": "chat", "clientId": "server", "data": json.dumps({"text": text}), "encoding": "json"}
    answer = httpx.post(f"{server.url}/channels/{channel}/messages", json=message, auth=(name, secret))
    assert answer.status_code == 201, answer.text


def test_continuity_loss_is_a_line_in_the_conversation_and_the_chat_carries_on(
    browser: Browser, small_buffer_server: RunningDevServer
) -> None:
    channel = f"chat:continuity-{time.time_ns()}"
    tab = open_tab(browser)
    page = tab.page
    join(tab, f"{small_buffer_server.url}/?channel={channel}", "dora")
    publish(small_buffer_server, channel, "before")
    expect(page.locator("#messages .message .text")).to_have_text(["before"], timeout=TIMEOUT_MS)

    publish(small_buffer_server, channel, "x" * (24 * KiB))  # more than the service may queue for dora
    notices = page.locator("#messages .notice-text", has_text="missing")
    expect(notices).to_have_text([GAP_NOTICE], timeout=TIMEOUT_MS)
    expect(page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
    publish(small_buffer_server, channel, "after the gap")
    # What arrives after the gap is shown; the page shows its own message where it was sent, so wait first.
    expect(page.locator("#messages .message .text").last).to_have_text("after the gap", timeout=TIMEOUT_MS)
    send(page, "still here")
    expect(page.locator("#messages .message:not([data-status]) .text")).to_have_text(
        ["before", "after the gap", "still here"], timeout=TIMEOUT_MS
    )
    expect(notices).to_have_count(1)  # one line for the gap, not one per way it showed
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.get_by_label("Message")).to_be_enabled()
    assert "Stopped" not in tab.header_states
    assert re.search("80020", page.locator("#messages").inner_text())
    screenshot(page, "problem-continuity-lost")
    assert_accessible(page, "continuity lost")
    assert tab.errors == []
    page.context.close()


def test_continuity_lost_on_the_channel_is_the_same_line(
    browser: Browser, small_buffer_server: RunningDevServer
) -> None:
    """Ably can also say it on the channel (RTL12): an ATTACHED without RESUMED and with error 80020 for a
    channel already attached, which ably-js emits as an UPDATE. The local service has no outbound rate to
    exceed, so the route sends what Ably would: the channel's ATTACHED again, so marked, and the presence
    SYNC if the ATTACHED announces one; ably-js re-enters the page's own presence by itself."""
    channel = f"chat:channel-gap-{time.time_ns()}"
    sockets: list[WebSocketRoute] = []
    last: dict[int, dict[str, object]] = {}  # the service's last ATTACHED and SYNC, by action

    def watched(socket: WebSocketRoute) -> None:
        service = socket.connect_to_server()

        def to_page(frame: str | bytes) -> None:
            message = json.loads(frame)
            if message.get("action") in (ATTACHED, SYNC):
                last[message["action"]] = message
            socket.send(frame)

        service.on_message(to_page)
        sockets.append(socket)

    tab = open_tab(browser, "phone")
    page = tab.page
    page.route_web_socket(re.compile(r"^ws://"), watched)
    join(tab, f"{small_buffer_server.url}/?channel={channel}", "erin")
    publish(small_buffer_server, channel, "before")
    expect(page.locator("#messages .message .text")).to_have_text(["before"], timeout=TIMEOUT_MS)

    error = {"code": 80020, "statusCode": 400, "message": "Continuity lost: messages were dropped"}
    attached = last[ATTACHED] | {"flags": int(str(last[ATTACHED]["flags"])) & ~RESUMED, "error": error}
    for message in (attached, last.get(SYNC)):  # a SYNC when the ATTACHED announced one (HAS_PRESENCE)
        if message is not None:
            sockets[-1].send(json.dumps(message))
    expect(page.locator("#messages .notice-text", has_text="missing")).to_have_text(
        [GAP_NOTICE], timeout=TIMEOUT_MS
    )
    publish(small_buffer_server, channel, "after")
    expect(page.locator("#messages .message .text")).to_have_text(["before", "after"], timeout=TIMEOUT_MS)
    expect(page.locator("#members li")).to_have_text(["erin (you)"])
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#status-text")).to_have_text("Connected")
    assert tab.errors == []
    page.context.close()

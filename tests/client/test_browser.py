"""The chat page in real Chromium, through the dev server, the token function and the local service."""

import re
import time

from playwright.sync_api import Browser, Page, expect

from tests.client.browser import (
    TIMEOUT_MS,
    Tab,
    assert_accessible,
    join,
    open_tab,
    record_timings,
    screenshot,
    send,
)
from tests.client.devserver_process import DevServer

XSS = '<img src=x onerror="window.__xss = true">'
SHORT_TIME = re.compile(r"^\d{1,2}:\d{2}( [AP]M)?$")


def fresh_channel(server: DevServer, label: str) -> str:
    return f"{server.url}/?channel=chat:{label}-{time.time_ns()}"


def assert_clean(*tabs: Tab) -> None:
    """No uncaught error, no CSP violation, no failed request (a missing favicon included)."""
    for tab in tabs:
        assert tab.errors == []
        assert tab.csp_violations() == []
        assert tab.failed_requests == []


def test_two_people_chat_with_presence_grouping_and_text_only_messages(
    browser: Browser, server: DevServer
) -> None:
    url = fresh_channel(server, "browser")
    alice = open_tab(browser, "desktop")
    bob = open_tab(browser, "phone", "dark")

    started = time.perf_counter()
    join(alice, url, "alice")
    to_connected = time.perf_counter() - started
    expect(alice.page.locator("#empty")).to_have_text(re.compile("^No messages yet"), timeout=TIMEOUT_MS)
    expect(alice.page.locator("#members li")).to_have_text(["alice (you)"], timeout=TIMEOUT_MS)
    screenshot(alice.page, "chat-empty-room")
    assert_accessible(alice.page, "empty room")

    join(bob, url, "bob")
    for tab, members in ((alice, ["alice (you)", "bob"]), (bob, ["bob (you)", "alice"])):
        expect(tab.page.locator("#members li")).to_have_text(members, timeout=TIMEOUT_MS)
        expect(tab.page.locator("#member-count")).to_have_text("2")
    expect(alice.page.locator("#messages .notice-text")).to_have_text(["bob joined"], timeout=TIMEOUT_MS)
    expect(bob.page.locator("#presence")).not_to_have_attribute("open", "")  # collapsed on a phone

    started = time.perf_counter()
    send(alice.page, "hello bob")
    expect(alice.page.locator("#messages .message").last).not_to_have_attribute("data-status", "sending")
    to_echo = time.perf_counter() - started
    send(alice.page, "second in a row")
    expect(bob.page.locator("#messages .message .text")).to_have_text(
        ["hello bob", "second in a row"], timeout=TIMEOUT_MS
    )
    expect(alice.page.locator("#empty")).to_be_hidden()

    # Own messages set apart, consecutive ones grouped under one name and a short time, one day divider.
    first, second = alice.page.locator("#messages .message").all()
    expect(first).to_have_class(re.compile(r"\bown\b"))
    expect(second).to_have_class(re.compile(r"\bcontinued\b"))
    expect(first.locator(".sender")).to_have_text("You")
    expect(second.locator(".meta")).to_have_class(re.compile("visually-hidden"))
    theirs = bob.page.locator("#messages .message").first
    expect(theirs).to_have_class(re.compile(r"\btheirs\b"))
    expect(theirs.locator(".sender")).to_have_text("alice")
    assert SHORT_TIME.match(theirs.locator("time").inner_text())
    expect(bob.page.locator("#messages .day")).to_have_text(["Today"])

    send(bob.page, XSS)
    expect(alice.page.locator("#messages .text").last).to_have_text(XSS, timeout=TIMEOUT_MS)
    assert alice.page.locator("#messages img").count() == 0
    assert alice.page.evaluate("window.__xss === undefined")
    expect(alice.page.locator("#messages .message").last.locator(".sender")).to_have_text("bob")

    screenshot(alice.page, "chat-desktop")
    screenshot(bob.page, "chat-phone-dark")
    alice.page.emulate_media(color_scheme="dark")
    screenshot(alice.page, "chat-desktop-dark")
    bob.page.emulate_media(color_scheme="light")
    screenshot(bob.page, "chat-phone")
    assert_accessible(alice.page, "chat")
    record_timings(navigation_to_connected_ms=to_connected * 1000, publish_to_echo_ms=to_echo * 1000)

    # Leaving the page: ably-js closes its connection on beforeunload, and presence drops bob at once.
    bob.page.evaluate("window.dispatchEvent(new Event('beforeunload'))")
    expect(alice.page.locator("#members li")).to_have_text(["alice (you)"], timeout=TIMEOUT_MS)
    expect(alice.page.locator("#member-count")).to_have_text("1")
    expect(alice.page.locator("#messages .notice-text").last).to_have_text("bob left")
    assert_clean(alice, bob)
    for tab in (alice, bob):
        tab.page.context.close()


def test_recent_messages_and_the_name_survive_a_reload(browser: Browser, server: DevServer) -> None:
    url = fresh_channel(server, "rewind")
    carol = open_tab(browser)
    join(carol, url, "carol")
    for text in ("one", "two", "three"):
        send(carol.page, text)
    expect(carol.page.locator("#messages .message:not([data-status]) .text")).to_have_text(
        ["one", "two", "three"], timeout=TIMEOUT_MS
    )

    carol.page.reload()
    expect(carol.page.get_by_label("Your name")).to_have_value("carol")
    expect(carol.page.get_by_label("Your name")).to_be_focused()
    carol.page.keyboard.press("Enter")
    expect(carol.page.locator("#status")).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)
    expect(carol.page.locator("#messages .message .text")).to_have_text(
        ["one", "two", "three"], timeout=TIMEOUT_MS
    )
    expect(carol.page.locator("#messages .message.own")).to_have_count(3)

    newcomer = open_tab(browser, "phone")
    join(newcomer, url, "dave")
    expect(newcomer.page.locator("#messages .message .text")).to_have_text(
        ["one", "two", "three"], timeout=TIMEOUT_MS
    )
    expect(newcomer.page.locator("#messages .message .sender").first).to_have_text("carol")
    expect(newcomer.page.locator("#empty")).to_be_hidden()
    assert_clean(carol, newcomer)
    for tab in (carol, newcomer):
        tab.page.context.close()


def fill_the_log(sender: Page, reader: Page, count: int) -> None:
    for number in range(count):
        send(sender, f"message {number}")
    expect(reader.locator("#messages .message")).to_have_count(count, timeout=TIMEOUT_MS)


def test_reading_back_is_not_interrupted_by_new_messages(browser: Browser, server: DevServer) -> None:
    url = fresh_channel(server, "scroll")
    reader = open_tab(browser, "phone")
    writer = open_tab(browser)
    join(reader, url, "reader")
    join(writer, url, "writer")
    fill_the_log(writer.page, reader.page, 25)
    log = reader.page.locator("#log")
    assert log.evaluate("log => log.scrollHeight - log.scrollTop - log.clientHeight") < 48  # followed

    log.focus()
    reader.page.keyboard.press("Home")  # the log is focusable, so the keyboard scrolls it
    reader.page.wait_for_function("() => document.getElementById('log').scrollTop === 0")
    send(writer.page, "while you were reading")
    marker = reader.page.locator("#new-messages")
    expect(marker).to_be_visible(timeout=TIMEOUT_MS)
    expect(marker).to_have_text("1 new message ↓")
    assert log.evaluate("log => log.scrollTop") == 0  # not yanked to the bottom
    screenshot(reader.page, "chat-new-messages-marker")
    assert_accessible(reader.page, "new messages marker")

    marker.click()
    expect(marker).to_be_hidden()
    expect(reader.page.locator("#messages .text").last).to_be_in_viewport()
    send(writer.page, "now at the bottom")
    expect(reader.page.locator("#messages .text").last).to_have_text("now at the bottom", timeout=TIMEOUT_MS)
    expect(reader.page.locator("#messages .text").last).to_be_in_viewport()
    expect(marker).to_be_hidden()
    assert_clean(reader, writer)
    for tab in (reader, writer):
        tab.page.context.close()


def test_one_person_chats_by_keyboard_alone(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser, "phone")
    page = tab.page
    started = time.perf_counter()
    page.goto(fresh_channel(server, "keyboard"))
    expect(page.locator("#room")).to_be_hidden()  # nothing to read or send before joining
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.type("dora")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)
    to_connected = time.perf_counter() - started
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("typed, not clicked")
    page.keyboard.press("Enter")
    expect(page.locator("#messages .text").last).to_have_text("typed, not clicked", timeout=TIMEOUT_MS)
    record_timings(
        single_page_navigation_to_connected_ms=to_connected * 1000,
        single_page_navigation_to_first_echo_ms=(time.perf_counter() - started) * 1000,
    )

    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.getAttribute('role')") == "log"
    for _ in ("message", "Send", "presence"):
        page.keyboard.press("Tab")
    expect(page.locator("#presence summary")).to_be_focused()
    page.keyboard.press("Enter")  # presence opens from the keyboard on a phone
    expect(page.locator("#members li")).to_have_text(["dora (you)"])
    assert_clean(tab)
    page.context.close()

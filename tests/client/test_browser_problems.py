"""When something is wrong the page says what (with the code) and who can fix it; final problems stop.

Each failure is real: a misconfigured function, a channel outside the token's capability, Ably out of
reach (the dev server in real-Ably mode, with no network), Ably refusing the key the function signs with,
the browser going offline, and the dev server restarting under a connected page.
"""

import base64
import hmac
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, Request, Route, WebSocketRoute, expect

from ably_local.limits import Limits
from devserver.rate_limit import RateLimit
from devserver.testing import running_devserver
from tests.client.browser import TIMEOUT_MS, Tab, assert_accessible, join, open_tab, screenshot, send
from tests.client.devserver_process import DevServer, dev_server

RETRY_WINDOW = "02:00"  # ably-js retries a failed connection every 15 s; two minutes would show 8 attempts
REALTIME = re.compile(r"^ws://")  # the page's WebSocket to the (local) realtime service
LOADING = "Loading recent messages…"
CONNECTED, ATTACH = 4, 10  # protocol message actions
TOKEN_REQUESTS = "**/ably-token-request?clientId=*"  # the page's token requests, not its warm-up


class TokenRequests:
    """Token requests the page made (warm-ups excluded)."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        page.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        if "ably-token-request" in request.url and "warmup=1" not in request.url:
            self.urls.append(request.url)


def try_to_join(tab: Tab, url: str, name: str = "carol") -> None:
    tab.page.goto(url)
    tab.page.get_by_label("Your name").fill(name)
    tab.page.get_by_role("button", name="Join chat").click()


def expect_final(page: Page, title: str) -> None:
    banner = page.locator("#banner")
    expect(banner).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#banner-title")).to_have_text(title)
    expect(banner).to_have_attribute("data-final", "true")
    expect(page.locator("#status-text")).to_have_text("Stopped", timeout=TIMEOUT_MS)
    expect(page.get_by_label("Message")).to_be_disabled()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()


class Placeholders:
    """Every text the empty conversation showed, from the moment the room appeared."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.evaluate(
            """() => {
              window.__placeholders = [];
              const empty = document.getElementById('empty');
              new MutationObserver(() => window.__placeholders.push(empty.textContent))
                .observe(empty, { childList: true, characterData: true, subtree: true });
            }"""
        )

    def shown(self) -> list[str]:
        """In order, a text set again in a row counted once."""
        texts: list[str] = self.page.evaluate("window.__placeholders")
        return [text for i, text in enumerate(texts) if i == 0 or texts[i - 1] != text]


def wait_until(page: Page, condition: Callable[[], bool]) -> None:
    """Until `condition` holds: Playwright's callbacks (routes, events) run while the page waits."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(20)


def expect_own_words_then_detail(page: Page, cause: str | re.Pattern[str], detail: re.Pattern[str]) -> None:
    """The banner leads with the page's sentence (with the code); what ably-js said comes after it."""
    expect(page.locator("#banner-cause")).to_have_text(cause)
    expect(page.locator("#banner-detail")).to_have_text(detail)
    said = page.locator("#banner-detail").inner_text().split(" said: ", 1)[1]
    assert said not in page.locator("#banner-cause").inner_text()
    order = page.locator("#banner > *").evaluate_all("nodes => nodes.map(node => node.id)")
    assert order.index("banner-cause") < order.index("banner-fix") < order.index("banner-detail")


def expect_no_retry(tab: Tab, requests: TokenRequests) -> None:
    asked = len(requests.urls)
    tab.page.clock.run_for(RETRY_WINDOW)  # fires every timer due in it, in order
    tab.page.wait_for_timeout(500)  # let any retry the timers started reach the network
    assert len(requests.urls) == asked


def test_a_misconfigured_token_function_stops_and_names_the_setting(browser: Browser) -> None:
    with dev_server(ABLY_TOKEN_CAPABILITY="{not json") as broken:
        tab = open_tab(browser)
        tab.page.clock.install()
        requests = TokenRequests(tab.page)
        try_to_join(tab, broken.url)
        expect_final(tab.page, "The token function is misconfigured")
        expect(tab.page.locator("#banner-cause")).to_contain_text("ABLY_TOKEN_CAPABILITY")
        expect(tab.page.locator("#banner-fix")).to_contain_text("Site owner")
        expect(tab.page.locator("#status")).not_to_contain_text("ABLY_TOKEN_CAPABILITY")  # state only
        expect(tab.page.locator("#presence-note")).to_have_text(" · not connected")
        expect(tab.page.locator("#empty")).to_be_hidden()
        expect_no_retry(tab, requests)
        assert len(requests.urls) == 1
        screenshot(tab.page, "problem-token-function-misconfigured")
        assert_accessible(tab.page, "token function misconfigured")
        assert tab.errors == []
        tab.page.context.close()


def test_a_site_without_the_token_function_says_so_and_stops(browser: Browser, tmp_path: Path) -> None:
    with dev_server("--functions", str(tmp_path)) as no_function:
        tab = open_tab(browser)
        try_to_join(tab, no_function.url)
        expect_final(tab.page, "There is no token function on this site")
        expect(tab.page.locator("#banner-cause")).to_contain_text("(HTTP 404, error 40400)")
        assert tab.errors == []
        tab.page.context.close()


def test_an_unreachable_token_function_is_network_trouble_and_retried(
    browser: Browser, server: DevServer
) -> None:
    tab = open_tab(browser)
    tab.page.clock.install()
    requests = TokenRequests(tab.page)
    tab.page.context.route(
        "**/ably-token-request?clientId=*", lambda route: route.abort("internetdisconnected")
    )
    try_to_join(tab, server.url)
    expect(tab.page.locator("#banner-title")).to_have_text(
        "Cannot reach the token function", timeout=TIMEOUT_MS
    )
    expect(tab.page.locator("#banner")).to_have_attribute("data-final", "false")
    expect(tab.page.locator("#status-text")).to_have_text("Retrying…")
    tab.page.clock.run_for("00:20")  # ably-js tries again after 15 s
    tab.page.wait_for_timeout(500)
    assert len(requests.urls) >= 2
    tab.page.context.unroute("**/ably-token-request?clientId=*")
    tab.page.clock.run_for("00:20")  # the function is back: the next attempt connects, the banner goes
    expect(tab.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
    expect(tab.page.locator("#banner")).to_be_hidden()
    assert tab.errors == []
    tab.page.context.close()


def test_a_connection_that_never_opens_never_says_loading(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser)
    tab.page.clock.install()
    sockets: list[WebSocketRoute] = []
    tab.page.route_web_socket(REALTIME, lambda socket: sockets.append(socket))  # silent: no CONNECTED
    tab.page.goto(server.url)
    placeholders = Placeholders(tab.page)
    tab.page.get_by_label("Your name").fill("carol")
    tab.page.get_by_role("button", name="Join chat").click()
    expect(tab.page.locator("#empty")).to_have_text("Connecting…")
    wait_until(tab.page, lambda: bool(sockets))  # ably-js's timers run from the socket's opening
    tab.page.clock.run_for("00:21")  # ably-js gives up on the attempt within 20 s, and retries after 15
    expect(tab.page.locator("#status-text")).to_have_text("Retrying…")
    expect(tab.page.locator("#empty")).to_have_text(re.compile("^Not connected yet"))
    tab.page.clock.run_for("00:30")  # the retries say the same, without flickering back to "Connecting"
    expect(tab.page.locator("#empty")).to_have_text(re.compile("^Not connected yet"))
    screenshot(tab.page, "problem-never-connects")
    assert placeholders.shown() == [  # never "Loading recent messages…"
        "Connecting…",
        "Not connected yet. Recent messages appear once the page connects; it keeps trying.",
    ]
    assert tab.errors == []
    tab.page.context.close()


def test_a_room_that_never_opens_says_so_then_loads(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser)
    tab.page.clock.install()
    drop_attach, attaches_dropped = True, 0

    def attach_unanswered(socket: WebSocketRoute) -> None:
        service = socket.connect_to_server()

        def to_service(frame: str | bytes) -> None:
            nonlocal attaches_dropped
            if drop_attach and isinstance(frame, str) and json.loads(frame).get("action") == ATTACH:
                attaches_dropped += 1
            else:
                service.send(frame)

        def to_page(frame: str | bytes) -> None:
            # The fake clock's jumps would look like a silent service (no frame for maxIdleInterval +
            # 10 s) and ably-js would drop the transport; with maxIdleInterval 0 it does not watch.
            message = json.loads(frame)
            if message.get("action") == CONNECTED:
                message["connectionDetails"]["maxIdleInterval"] = 0
            socket.send(json.dumps(message))

        socket.on_message(to_service)
        service.on_message(to_page)

    tab.page.route_web_socket(REALTIME, attach_unanswered)
    tab.page.goto(f"{server.url}/?channel=chat:unattached-{time.time_ns()}")
    placeholders = Placeholders(tab.page)
    tab.page.get_by_label("Your name").fill("carol")
    tab.page.get_by_role("button", name="Join chat").click()
    expect(tab.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
    expect(tab.page.locator("#empty")).to_have_text(LOADING)  # connected: the room's messages are due
    wait_until(tab.page, lambda: attaches_dropped > 0)  # ably-js's attach timer runs from its ATTACH
    tab.page.clock.run_for("00:11")  # ably-js gives up on the ATTACH after 10 s, and retries after 15
    expect(tab.page.locator("#empty")).to_have_text(
        "The room did not open in time. The page keeps trying.", timeout=TIMEOUT_MS
    )
    expect(tab.page.locator("#banner")).to_be_hidden()
    drop_attach = False
    tab.page.clock.run_for("00:20")
    expect(tab.page.locator("#empty")).to_have_text(re.compile("^No messages yet"), timeout=TIMEOUT_MS)
    expect(tab.page.locator("#members li")).to_have_text(["carol (you)"])  # entered once attached
    assert placeholders.shown()[:3] == [
        "Connecting…",
        LOADING,
        "The room did not open in time. The page keeps trying.",
    ]
    assert tab.errors == []
    tab.page.context.close()


def throttling(retry_after_s: int) -> Callable[[Route], None]:
    """A token function past its per-address limit, answering as the dev server's limiter does."""
    error = {"message": "Too many token requests from this address.", "code": 42910, "statusCode": 429}
    body = {"error": error}

    def answer(route: Route) -> None:
        headers = {"Retry-After": str(retry_after_s), "x-ably-errorcode": "42910"}
        route.fulfill(status=429, headers=headers, content_type="application/json", body=json.dumps(body))

    return answer


def test_too_many_requests_waits_its_turn_then_joins(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser)
    tab.page.clock.install()
    requests = TokenRequests(tab.page)
    tab.page.context.route(TOKEN_REQUESTS, throttling(60))
    try_to_join(tab, server.url)
    expect(tab.page.locator("#banner-title")).to_have_text(
        "Too many requests from this network", timeout=TIMEOUT_MS
    )
    expect(tab.page.locator("#banner")).to_have_attribute("data-final", "false")
    expect(tab.page.locator("#banner-cause")).to_contain_text("(HTTP 429, error 42910)")
    expect(tab.page.locator("#banner-fix")).to_have_text(
        re.compile(r"^The page tries again by itself at \d.+ \(in 60 s\); nothing else is needed\.$")
    )
    expect(tab.page.locator("#banner-detail")).to_have_text(
        "The token function said: Too many token requests from this address."
    )
    expect(tab.page.locator("#status-text")).to_have_text("Retrying…")
    screenshot(tab.page, "problem-too-many-requests")

    # ably-js retries three times in the minute (after 12-15 s, then about 16-20 and 20-25 s more), and
    # next only after 72 s: the function is asked neither by those nor before its Retry-After. (The fake
    # clock also runs on by itself, as real time passes: hence the margin.)
    tab.page.clock.run_for("00:57")
    tab.page.wait_for_timeout(300)
    assert len(requests.urls) == 1
    tab.page.context.unroute(TOKEN_REQUESTS)
    tab.page.clock.run_for("00:04")  # past the Retry-After: the page asks at once, and joins
    expect(tab.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
    expect(tab.page.locator("#banner")).to_be_hidden()
    assert len(requests.urls) == 2
    assert "Stopped" not in tab.header_states
    assert tab.errors == []
    tab.page.context.close()


def test_the_dev_servers_own_limiter_is_waited_out_in_real_time(browser: Browser) -> None:
    # One request in 3 s per address: the warm-up takes it, so Join's token request is refused for about
    # 3 s, and the next one, at the Retry-After, is let through.
    one_in_3_s = {"ably-token-request": RateLimit(window_limit=1, window_size_s=3)}
    with running_devserver(rate_limits=one_in_3_s) as running:
        tab = open_tab(browser)
        requests = TokenRequests(tab.page)
        try_to_join(tab, running.url)
        expect(tab.page.locator("#banner-title")).to_have_text("Too many requests from this network")
        expect(tab.page.locator("#banner-fix")).to_have_text(re.compile(r"\(in [1-3] s\)"))
        # At the Retry-After, well before ably-js's own retry (12 s at the soonest).
        expect(tab.page.locator("#status-text")).to_have_text("Connected", timeout=8_000)
        expect(tab.page.locator("#banner")).to_be_hidden()
        assert len(requests.urls) == 2  # the refused one, and the one at its Retry-After
        assert tab.errors == []
        tab.page.context.close()


def test_a_wait_past_two_minutes_is_still_a_wait_not_offline(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser)
    tab.page.clock.install()
    requests = TokenRequests(tab.page)
    tab.page.context.route(TOKEN_REQUESTS, throttling(200))
    try_to_join(tab, server.url)
    expect(tab.page.locator("#banner-fix")).to_contain_text("(in 3 min)", timeout=TIMEOUT_MS)
    tab.page.clock.run_for("02:10")  # ably-js is suspended after 2 minutes without a connection
    expect(tab.page.locator("#status-text")).to_have_text("Offline")
    expect(tab.page.locator("#banner-title")).to_have_text("Too many requests from this network")
    expect(tab.page.locator("#banner")).to_have_attribute("data-final", "false")
    assert_accessible(tab.page, "too many requests")
    assert len(requests.urls) == 1
    tab.page.context.unroute(TOKEN_REQUESTS)
    tab.page.clock.run_for("01:15")
    expect(tab.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
    assert len(requests.urls) == 2
    assert tab.errors == []
    tab.page.context.close()


def test_an_account_at_its_connection_limit_is_explained_to_the_site_owner(
    browser: Browser, server: DevServer
) -> None:
    # The local service has no account; Ably refuses such a connection with an ERROR 40111 (HTTP 403,
    # "Account restricted (connection limits exceeded)"), which the route answers in its place.
    error = {"code": 40111, "statusCode": 403, "message": "Account restricted (connection limits exceeded)"}
    tab = open_tab(browser, "phone")
    tab.page.route_web_socket(REALTIME, lambda socket: socket.send(json.dumps({"action": 9, "error": error})))
    try_to_join(tab, server.url)
    expect_final(tab.page, "The chat is full right now")
    expect_own_words_then_detail(
        tab.page,
        "Ably refused to connect this page: the Ably account this site uses is at its limit of "
        "connections open at once (error 40111).",
        re.compile(r"^Ably said: Account restricted \(connection limits exceeded\)$"),
    )
    expect(tab.page.locator("#banner-fix")).to_contain_text("Site owner: every open page is one connection")
    expect(tab.page.locator("#banner-help")).to_have_attribute("href", "https://help.ably.io/error/40111")
    screenshot(tab.page, "problem-account-connection-limit")
    assert_accessible(tab.page, "account at its connection limit")
    assert tab.errors == []
    tab.page.context.close()


def test_an_app_at_its_connection_limit_is_explained_too(browser: Browser) -> None:
    with running_devserver(limits=Limits(connections_per_app=1)) as running:
        first, second = open_tab(browser), open_tab(browser)
        join(first, running.url, "first")
        try_to_join(second, running.url, "second")
        expect_final(second.page, "The chat is full right now")
        expect(second.page.locator("#banner-cause")).to_have_text(
            "Ably refused to connect this page: the Ably app this site uses is at its limit of "
            "connections open at once (error 40150)."
        )
        assert second.errors == []
        for tab in (first, second):
            tab.page.context.close()


def test_a_room_outside_the_capability_is_refused_with_the_fix(browser: Browser, server: DevServer) -> None:
    tab = open_tab(browser, "phone")
    try_to_join(tab, f"{server.url}/?channel=lobby")
    expect_final(tab.page, "This room is not open to you: “lobby”")
    expect_own_words_then_detail(
        tab.page,
        "The token this page got does not allow the room “lobby” (error 40160).",
        re.compile(r"^Ably said: .*lobby"),
    )
    expect(tab.page.locator("#banner-fix")).to_contain_text("?channel=chat:lobby")
    expect(tab.page.locator("#banner-help")).to_have_attribute("href", "https://help.ably.io/error/40160")
    screenshot(tab.page, "problem-channel-not-allowed")
    assert_accessible(tab.page, "channel not allowed")
    assert tab.errors == []  # no unhandled rejection from subscribe, presence or publish
    tab.page.context.close()


def test_ably_out_of_reach_is_not_blamed_on_the_token_function(browser: Browser) -> None:
    # Real-Ably mode with a real-looking key: the function signs, and ably-js cannot reach Ably (no network).
    with dev_server(local=False, ABLY_API_KEY="realApp.realKey:notARealSecret") as real:
        tab = open_tab(browser)
        try_to_join(tab, real.url)
        banner = tab.page.locator("#banner")
        expect(banner).to_be_visible(timeout=TIMEOUT_MS)
        expect(tab.page.locator("#banner-title")).to_have_text("Cannot reach Ably")
        expect_own_words_then_detail(
            tab.page,
            "The token function answered, but the browser could not reach Ably (error 80019).",
            re.compile(r"^ably-js said: \S"),  # e.g. "XHR error occurred (event type: error)"
        )
        expect(banner).not_to_contain_text("authentication provider")
        expect(banner).to_have_attribute("data-final", "false")  # network trouble: ably-js keeps trying
        expect(tab.page.locator("#status-text")).to_have_text("Retrying…")
        expect(tab.page.locator("#empty")).to_have_text(re.compile("^Not connected yet"))  # not "Loading"
        screenshot(tab.page, "problem-ably-unreachable")
        assert_accessible(tab.page, "Ably unreachable")
        assert tab.errors == []
        assert tab.csp_violations() == []  # the request to Ably was allowed and failed on the network
        tab.page.context.close()
        real.stop()
        assert re.search(r"GET ably-token-request 200 [\d.]+ ms issued for carol\n", real.terminal_output())


@contextmanager
def function_signing_with_a_wrong_secret() -> Iterator[str]:
    """The dev server whose function signs with a key the local service does not accept (its URL).

    The function reads ABLY_API_KEY when it first loads, which is on the page's first request.
    """
    with running_devserver() as running:
        os.environ["ABLY_API_KEY"] = f"{running.realtime.key_name}:aRealLookingButWrongSecret0123"
        yield running.url


def test_ably_refusing_the_key_says_so_with_the_code_and_stops(browser: Browser) -> None:
    with function_signing_with_a_wrong_secret() as url:
        tab = open_tab(browser)
        tab.page.clock.install()
        requests = TokenRequests(tab.page)
        try_to_join(tab, url)
        expect_final(tab.page, "Ably refused the API key")
        expect_own_words_then_detail(
            tab.page,
            "Ably refused the token request that the token function signed with ABLY_API_KEY (error 40101).",
            re.compile("^Ably said: Invalid mac in token request$"),
        )
        expect(tab.page.locator("#banner-fix")).to_contain_text("ABLY_API_KEY")
        expect(tab.page.locator("#banner")).not_to_contain_text("authentication provider")
        expect_no_retry(tab, requests)
        screenshot(tab.page, "problem-ably-refused-key")
        assert_accessible(tab.page, "Ably refused the key")
        assert tab.errors == []
        tab.page.context.close()


def hs256_jwt(key_name: str, secret: str, client_id: str, ttl_s: int = 3600) -> str:
    """An Ably JWT as the function signs one (typ, kid; iat, exp, capability, clientId), signed here."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    now = int(time.time())
    header = {"typ": "JWT", "alg": "HS256", "kid": key_name}
    claims = {
        "iat": now,
        "exp": now + ttl_s,
        "x-ably-capability": json.dumps({"chat:*": ["presence", "publish", "subscribe"]}),
        "x-ably-clientId": client_id,
    }
    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    signature = hmac.digest(secret.encode(), signing_input.encode(), "sha256")
    return f"{signing_input}.{part(signature)}"


def test_a_jwt_that_ably_refuses_again_says_so_and_stops(browser: Browser) -> None:
    with running_devserver() as running:
        tab = open_tab(browser)
        tab.page.clock.install()
        requests = TokenRequests(tab.page)
        key_name = running.realtime.key_name
        tab.page.context.route(
            TOKEN_REQUESTS,
            lambda route: route.fulfill(
                content_type="application/jwt", body=hs256_jwt(key_name, "aWrongSecret0123", "carol")
            ),
        )
        try_to_join(tab, running.url)
        expect_final(tab.page, "Ably refused the JWT")
        expect_own_words_then_detail(
            tab.page,
            "Ably refused the JWT the token function signed, and a new one too (error 40144).",
            re.compile(r"^Ably said: Invalid JWT"),
        )
        expect(tab.page.locator("#banner-fix")).to_contain_text("ABLY_API_KEY")
        expect_no_retry(tab, requests)
        assert tab.errors == []
        tab.page.context.close()


def test_a_token_that_expires_while_connected_is_renewed_without_a_word(browser: Browser) -> None:
    # A JWT lives 3 s: the service closes the connection when it expires (DISCONNECTED 40142), and
    # ably-js asks the authCallback for a new one; a refusal once connected is an expiry, not a problem.
    with running_devserver() as running:
        tab = open_tab(browser)
        requests = TokenRequests(tab.page)
        secret = running.realtime.api_key.split(":", 1)[1]
        key_name = running.realtime.key_name
        tab.page.context.route(
            TOKEN_REQUESTS,
            lambda route: route.fulfill(
                content_type="application/jwt", body=hs256_jwt(key_name, secret, "carol", ttl_s=3)
            ),
        )
        join(tab, running.url, "carol")
        wait_until(tab.page, lambda: len(requests.urls) >= 3)  # renewed twice
        expect(tab.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
        expect(tab.page.locator("#banner")).to_be_hidden()
        assert "Stopped" not in tab.header_states
        assert tab.errors == []
        tab.page.context.close()


def test_network_trouble_shows_reconnecting_and_keeps_the_composer(
    browser: Browser, server: DevServer
) -> None:
    url = f"{server.url}/?channel=chat:offline-{time.time_ns()}"
    alice, bob = open_tab(browser), open_tab(browser, "phone")
    alice.page.clock.install()
    join(alice, url, "alice")
    join(bob, url, "bob")
    expect(alice.page.locator("#member-count")).to_have_text("2", timeout=TIMEOUT_MS)

    alice.page.context.set_offline(True)
    expect(alice.page.locator("#status-text")).to_have_text("Reconnecting…", timeout=TIMEOUT_MS)
    expect(alice.page.locator("#presence")).to_have_attribute("data-stale", "true")
    expect(alice.page.locator("#presence-note")).to_have_text(" · reconnecting")
    expect(alice.page.locator("#members li").first).to_have_css("color", "rgb(89, 97, 115)")  # greyed
    expect(alice.page.get_by_label("Message")).to_be_enabled()  # ably-js queues what is sent now
    expect(alice.page.locator("#banner")).to_be_hidden()
    send(alice.page, "sent while offline")
    expect(alice.page.locator("#messages .message").last).to_have_attribute("data-status", "sending")
    expect(alice.page.locator("#messages .message .state").last).to_have_text("Sending…")
    screenshot(alice.page, "problem-reconnecting")
    assert_accessible(alice.page, "reconnecting")

    alice.page.context.set_offline(False)
    expect(alice.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
    expect(alice.page.locator("#messages .message").last).not_to_have_attribute(
        "data-status", "sending", timeout=TIMEOUT_MS
    )
    expect(bob.page.locator("#messages .text").last).to_have_text("sent while offline", timeout=TIMEOUT_MS)
    expect(alice.page.locator("#presence")).to_have_attribute("data-stale", "false")

    # Offline for longer than Ably keeps a connection's state: messages cannot be queued any more.
    alice.page.context.set_offline(True)
    expect(alice.page.locator("#status-text")).to_have_text("Reconnecting…", timeout=TIMEOUT_MS)
    let_time_pass_until(alice.page, "Offline", limit_s=300)  # Ably keeps a connection's state 2 minutes
    expect(alice.page.locator("#banner-title")).to_have_text("Offline")
    expect(alice.page.get_by_label("Message")).to_be_disabled()
    screenshot(alice.page, "problem-offline")
    alice.page.context.set_offline(False)
    expect(alice.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
    expect(alice.page.locator("#banner")).to_be_hidden()  # the stale reason goes once connected
    expect(alice.page.get_by_label("Message")).to_be_enabled()
    assert alice.errors == []
    for tab in (alice, bob):
        tab.page.context.close()


def let_time_pass_until(page: Page, status: str, limit_s: int) -> None:
    """Moves the page's clock on 30 s at a time until the header shows `status`.

    Each step fires the timers then due once, as if the page had been left open; ably-js starts some of
    its timers only when a reconnect attempt begins, so one long jump could land before they exist.
    """
    for _ in range(limit_s // 30):
        page.clock.fast_forward("00:30")
        if page.locator("#status-text").inner_text() == status:
            return
    expect(page.locator("#status-text")).to_have_text(status)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_after_a_dev_server_restart_the_page_reconnects_without_a_stale_reason(browser: Browser) -> None:
    port = free_port()
    tab = open_tab(browser)
    with dev_server("--port", str(port)) as first:
        join(tab, f"{first.url}/?channel=chat:restart", "erin")
        send(tab.page, "before the restart")
        expect(tab.page.locator("#messages .message")).not_to_have_attribute("data-status", "sending")
    expect(tab.page.locator("#status-text")).to_have_text(
        re.compile("Reconnecting…|Retrying…"), timeout=TIMEOUT_MS
    )
    expect(tab.page.get_by_label("Message")).to_be_enabled()

    with dev_server("--port", str(port)):
        tab.page.context.set_offline(True)  # what a real network change does: ably-js retries now,
        tab.page.context.set_offline(False)  # instead of after its 15 s back-off
        expect(tab.page.locator("#status-text")).to_have_text("Connected", timeout=TIMEOUT_MS)
        expect(tab.page.locator("#status")).to_have_text("Connected")  # no "Unable to recover (80008)"
        expect(tab.page.locator("#banner")).to_be_hidden()
        expect(tab.page.locator("#messages .notice-text").last).to_have_text(
            "Reconnected. Messages sent while you were away may be missing.", timeout=TIMEOUT_MS
        )
        send(tab.page, "after the restart")
        expect(tab.page.locator("#messages .message .text")).to_have_text(
            ["before the restart", "after the restart"]
        )
        expect(tab.page.locator("#messages .message").last).not_to_have_attribute(
            "data-status", "sending", timeout=TIMEOUT_MS
        )
        expect(tab.page.locator("#members li")).to_have_text(["erin (you)"], timeout=TIMEOUT_MS)
    assert tab.errors == []
    tab.page.context.close()

"""The page wakes the token function while a visitor types their name, so Join meets a warm instance.

A freshly started dev server has a cold function: it imports the function on its first request. Its
realtime service is cold too, which Ably in production never is, so a first visit whose TokenRequest the
test signs itself (the function is not called) warms the service alone. Each measured visit then types a
name like a quick typist and presses Enter; the page's own clock times Join to Connected. The figures go
to artifacts/browser-timings.json (and the README); the test asserts what the page does, not how fast the
machine is.
"""

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from playwright.sync_api import Browser, Request, Route

from tests.client.browser import TIMEOUT_MS, Tab, join, open_tab, record_timings
from tests.client.devserver_process import DevServer, dev_server
from tests.function.signing import expected_mac

TYPING_DELAY_MS = 150  # per key: a quick typist (about 80 words a minute)
THINK_MS = 300  # from the last key to pressing Enter
FUNCTION = "/.netlify/functions/ably-token-request"
KEY_NAME = "warmupApp.warmupKey"
KEY_SECRET = "warmupTestSecret_0123456789abcdef"

# Times Join (the form's submit) to the status turning "connected", on the page's own clock.
MEASURE_JOIN = """() => {
  const status = document.getElementById('status');
  document.getElementById('join').addEventListener('submit', () => {
    window.__joinAt = performance.now();
  }, { capture: true });
  new MutationObserver(() => {
    if (status.dataset.state === 'connected' && window.__connectedAt === undefined) {
      window.__connectedAt = performance.now();
    }
  }).observe(status, { attributes: true });
}"""
RESULT = """() => {
  const warmup = performance.getEntriesByType('resource').find((entry) => entry.name.includes('warmup=1'));
  return {
    joinToConnected: window.__connectedAt - window.__joinAt,
    joinAt: window.__joinAt,
    warmupStart: warmup ? warmup.startTime : null,
    warmupEnd: warmup ? warmup.responseEnd : null,
  };
}"""


@dataclass
class Visit:
    join_to_connected_ms: float
    join_at_ms: float
    warmup_started_ms: float | None
    warmup_answered_ms: float | None
    function_calls: list[str]  # "warmup 204", "token 200", in the order the page made them


def visit(tab: Tab, url: str, *, block_warmup: bool = False) -> Visit:
    page = tab.page
    calls: list[str] = []

    def settled(request: Request) -> None:
        if FUNCTION in request.url:
            response = request.failure is None and request.response()
            kind = "warmup" if "warmup=1" in request.url else "token"
            calls.append(f"{kind} {response.status if response else 'failed'}")

    page.on("requestfinished", settled)
    page.on("requestfailed", settled)
    page.context.route(f"**{FUNCTION}?*", lambda route: _route(route, block_warmup))
    page.goto(url)
    page.evaluate(MEASURE_JOIN)
    page.keyboard.type("visitor", delay=TYPING_DELAY_MS)  # the name field has focus on arrival
    page.wait_for_timeout(THINK_MS)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__connectedAt !== undefined", timeout=TIMEOUT_MS)
    result = page.evaluate(RESULT)
    page.context.close()
    return Visit(
        result["joinToConnected"],
        result["joinAt"],
        result["warmupStart"],
        result["warmupEnd"],
        calls,
    )


def _route(route: Route, block_warmup: bool) -> None:
    if block_warmup and "warmup=1" in route.request.url:
        route.abort()
    else:
        route.continue_()


def signed_by_the_test(route: Route) -> None:
    """Answers for the function with a TokenRequest signed here; a warm-up is refused."""
    if "warmup=1" in route.request.url:
        route.abort()
        return
    token_request: dict[str, object] = {
        "keyName": KEY_NAME,
        "clientId": "service-warmer",
        "timestamp": int(time.time() * 1000),
        "nonce": secrets.token_hex(16),
    }
    route.fulfill(json=token_request | {"mac": expected_mac(token_request, KEY_SECRET)})


@contextmanager
def cold_function_warm_service(browser: Browser) -> Iterator[DevServer]:
    """A fresh dev server whose realtime service has served a chat, and whose function was never called."""
    # --json-logs: the function's log lines as Netlify and AWS get them, which function_log reads.
    with dev_server("--json-logs", ABLY_API_KEY=f"{KEY_NAME}:{KEY_SECRET}") as fresh:
        tab = open_tab(browser)
        tab.page.context.route(f"**{FUNCTION}?*", signed_by_the_test)
        join(tab, fresh.url, "service-warmer")
        tab.page.context.close()
        yield fresh


def function_log(terminal: str) -> list[tuple[str, str | None]]:
    """(outcome, client_id) for each line the token function logged."""
    lines = [json.loads(line) for line in terminal.splitlines() if line.startswith('{"level"')]
    return [(line["outcome"], line.get("client_id")) for line in lines if line["message"] == "token request"]


def test_one_warmup_per_visit_and_join_meets_a_warm_function(browser: Browser) -> None:
    with cold_function_warm_service(browser) as fresh:
        cold = visit(open_tab(browser), fresh.url)
        warm = visit(open_tab(browser, "phone"), fresh.url)
        fresh.stop()
        log = function_log(fresh.terminal_output())
    with cold_function_warm_service(browser) as fresh:
        unwarmed = visit(open_tab(browser), fresh.url, block_warmup=True)

    # One warm-up per visit, sent while the name was typed, before the one token request; it signs nothing.
    for each in (cold, warm):
        assert each.function_calls == ["warmup 204", "token 200"]
        assert each.warmup_started_ms is not None
        assert each.warmup_started_ms < each.join_at_ms
    assert log == [("warmup", None), ("issued", "visitor"), ("warmup", None), ("issued", "visitor")]
    assert unwarmed.function_calls == ["warmup failed", "token 200"]  # Join works without it

    assert cold.warmup_answered_ms is not None
    record_timings(
        join_to_connected_cold_function_ms=cold.join_to_connected_ms,
        join_to_connected_warm_function_ms=warm.join_to_connected_ms,
        join_to_connected_cold_function_without_warmup_ms=unwarmed.join_to_connected_ms,
        cold_warmup_answered_after_navigation_ms=cold.warmup_answered_ms,
        cold_join_after_navigation_ms=cold.join_at_ms,
    )
    print(f"cold/warm Join-to-Connected: {cold.join_to_connected_ms / warm.join_to_connected_ms:.2f}x")

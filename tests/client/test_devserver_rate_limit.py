"""`make dev` applies each function's declared config.rateLimit per client address, as Netlify does.

The counting is tested as a plain object with a fake clock; the declaration is read from real entries (the
project's own and variants Netlify would drop or weaken); then bursts go through a running dev server, past
the limit and again after the window.
"""

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from devserver.function_config import UnreadableRateLimit, declared_rate_limits, read_rate_limit
from devserver.rate_limit import RATE_LIMITED, FunctionRateLimits, RateLimit, SlidingWindowLimiter
from devserver.testing import running_devserver
from tests.client.devserver_process import ROOT
from tests.client.rate_limit_declarations import DECLARATIONS, NetlifyRule, write_function
from tests.client.test_devserver_startup import start_failure
from tests.docs import page

FUNCTION = "ably-token-request"
TOKEN_FUNCTION = f"/.netlify/functions/{FUNCTION}"
ENTRY = ROOT / "functions" / FUNCTION / f"{FUNCTION}.mjs"
OTHER_LOOPBACK_ADDRESS = "127.0.0.3"  # a second client address this machine can send from


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The counting.


def test_admits_the_limit_in_any_window_then_says_when_one_more_fits() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 10.0, clock=clock)
    for offset in (0.0, 2.0, 4.0):
        clock.now = 1000.0 + offset
        assert limiter.acquire("a") == 0.0
    clock.now = 1005.0
    assert limiter.acquire("a") == pytest.approx(5.0)  # the first request leaves the window at 1010
    clock.now = 1010.0
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(2.0)  # the next to leave was admitted at 1002


def test_refused_requests_are_not_counted_so_waiting_as_told_gets_in() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, 10.0, clock=clock)
    assert limiter.acquire("a") == limiter.acquire("a") == 0.0
    for _ in range(100):
        assert limiter.acquire("a") > 0
    clock.now += limiter.acquire("a")
    assert limiter.acquire("a") == 0.0


def test_each_address_has_its_own_count() -> None:
    limiter = SlidingWindowLimiter(1, 60.0, clock=FakeClock())
    assert limiter.acquire("10.0.0.1") == 0.0
    assert limiter.acquire("10.0.0.1") > 0
    assert limiter.acquire("10.0.0.2") == 0.0


def test_memory_is_bounded_forgetting_idle_addresses_first() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(10, 60.0, max_entries=1000, clock=clock)
    assert limiter.max_keys == 100  # 1,000 request times at most, 10 per address
    for n in range(5000):
        limiter.acquire(f"10.0.{n // 256}.{n % 256}")
    assert limiter.tracked_keys == 100
    clock.now += 30
    for _ in range(10):
        limiter.acquire("busy")
    clock.now += 30  # the first 5,000 addresses' requests have just left the window; busy's have not
    limiter.acquire("newcomer")
    assert limiter.tracked_keys == 2
    assert limiter.acquire("busy") > 0


def test_past_the_most_addresses_the_least_recently_seen_is_forgotten() -> None:
    limiter = SlidingWindowLimiter(1, 60.0, max_entries=2, clock=FakeClock())
    assert limiter.acquire("first") == limiter.acquire("second") == 0.0
    assert limiter.acquire("first") > 0  # seen again: now the most recent
    assert limiter.acquire("third") == 0.0  # "second" made room
    assert limiter.acquire("first") > 0
    assert limiter.acquire("second") == 0.0  # forgotten, so counted afresh


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (5, 0.0), (5, -1.0)])
def test_a_limiter_needs_a_limit_and_a_window(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="limit of at least 1"):
        SlidingWindowLimiter(limit, window)


def request_from(client: str, host: str = "localhost:8888") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": TOKEN_FUNCTION,
        "headers": [(b"host", host.encode())],
        "client": (client, 50000),
    }
    return Request(scope)


def test_past_the_limit_the_answer_is_an_ably_shaped_429_with_retry_after() -> None:
    clock = FakeClock()
    limits = FunctionRateLimits({FUNCTION: RateLimit(2, 30.0)}, clock=clock)
    assert limits.refusal(FUNCTION, request_from("10.0.0.1")) is None
    clock.now += 0.5
    assert limits.refusal(FUNCTION, request_from("10.0.0.1")) is None
    refusal = limits.refusal(FUNCTION, request_from("10.0.0.1"))
    assert refusal is not None
    assert refusal.status_code == 429
    assert refusal.headers["retry-after"] == "30"  # 29.5 s, rounded up: never early
    assert refusal.headers["x-ably-errorcode"] == str(RATE_LIMITED) == "42910"
    assert refusal.headers["content-type"] == "application/json"
    assert refusal.headers["cache-control"] == "no-store"  # for this request only: no cache may replay it
    error = json.loads(bytes(refusal.body))["error"]
    assert error == {
        "message": f"Too many requests to {FUNCTION} from this address: the limit is 2 in 30 s (its "
        "config.rateLimit, which Netlify applies). Retry after 30 s.",
        "code": 42910,
        "statusCode": 429,
    }
    assert limits.refusal(FUNCTION, request_from("10.0.0.2")) is None  # another address
    assert limits.refusal("another-function", request_from("10.0.0.1")) is None  # no declared limit


def test_retry_after_is_whole_seconds_rounded_up_never_zero() -> None:
    """A page waits Retry-After before its next try: less than a second left is 1, never 0 (which would
    send it straight back into another 429)."""
    clock = FakeClock()
    limits = FunctionRateLimits({FUNCTION: RateLimit(1, 1.5)}, clock=clock)
    assert limits.refusal(FUNCTION, request_from("10.0.0.1")) is None
    clock.now += 1.2
    refusal = limits.refusal(FUNCTION, request_from("10.0.0.1"))
    assert refusal is not None
    assert refusal.headers["retry-after"] == "1"
    assert "the limit is 1 in 1.5 s" in json.loads(bytes(refusal.body))["error"]["message"]


def test_the_terminal_says_once_when_an_address_starts_being_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One line when a run of refusals starts, naming the function, the rule and what was counted (the
    address and the site), not one per refused request; an address admitted again and refused again is
    told again."""
    clock = FakeClock()
    limits = FunctionRateLimits({FUNCTION: RateLimit(1, 10.0, ("ip", "domain"))}, clock=clock)
    caplog.set_level("WARNING", logger="devserver")
    for _ in range(5):
        limits.refusal(FUNCTION, request_from("10.0.0.1", "LocalHost:8888"))
    limits.refusal(FUNCTION, request_from("10.0.0.2", "example.test"))
    limits.refusal(FUNCTION, request_from("10.0.0.2", "example.test"))
    clock.now += 10
    assert limits.refusal(FUNCTION, request_from("10.0.0.1", "localhost")) is None
    clock.now += 1
    limits.refusal(FUNCTION, request_from("10.0.0.1", "localhost"))
    told = (
        f"{FUNCTION}: more than 1 requests in 10 s from {{}}; answering 429 (Retry-After {{}} s), "
        "as Netlify would"
    )
    assert [(record.name, record.levelname, record.getMessage()) for record in caplog.records] == [
        ("devserver", "WARNING", told.format("10.0.0.1 localhost", 10)),
        ("devserver", "WARNING", told.format("10.0.0.2 example.test", 10)),
        ("devserver", "WARNING", told.format("10.0.0.1 localhost", 9)),
    ]


def test_what_the_terminal_remembers_is_bounded(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each address being refused is remembered until it is admitted again, so that it is told once; past
    MAX_RATE_LIMIT_ENTRIES of them, the next are still refused, and no longer told."""
    monkeypatch.setattr("devserver.rate_limit.MAX_RATE_LIMIT_ENTRIES", 2)
    limits = FunctionRateLimits({FUNCTION: RateLimit(1, 10.0, ("ip",))}, clock=FakeClock())
    caplog.set_level("WARNING", logger="devserver")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert limits.refusal(FUNCTION, request_from(address)) is None
        assert limits.refusal(FUNCTION, request_from(address)) is not None
    assert [record.getMessage().split(" from ")[1][:8] for record in caplog.records] == [
        "10.0.0.1",
        "10.0.0.2",
    ]


def test_the_count_follows_what_the_rule_aggregates_by() -> None:
    per_domain = FunctionRateLimits({FUNCTION: RateLimit(1, 60.0, ("domain",))}, clock=FakeClock())
    assert per_domain.refusal(FUNCTION, request_from("10.0.0.1", "192.168.1.5:8888")) is None
    assert per_domain.refusal(FUNCTION, request_from("10.0.0.2", "192.168.1.5:8888")) is not None
    assert per_domain.refusal(FUNCTION, request_from("10.0.0.2", "localhost:8888")) is None
    per_address = FunctionRateLimits({FUNCTION: RateLimit(1, 60.0, ("ip",))}, clock=FakeClock())
    assert per_address.refusal(FUNCTION, request_from("10.0.0.1", "localhost:8888")) is None
    assert per_address.refusal(FUNCTION, request_from("10.0.0.1", "192.168.1.5:8888")) is not None


# Every way of writing the one site the dev server serves on loopback: each reaches the same page.
SAME_SITE_HOSTS = [
    "localhost:8888",
    "LocalHost:8888",
    "localhost.:8888",
    "localhost",
    "x.localhost:8888",
    "a" * 8000 + ".localhost",
    "127.0.0.1:8888",
    "127.9.9.9",
    "[::1]:8888",
]


def test_one_address_cannot_get_a_fresh_count_by_writing_the_host_differently() -> None:
    """The domain in the count is the site, as Netlify counts per site domain: the Host header is the
    client's to write, and every loopback name (any case, port, trailing dot or *.localhost) reaches the one
    site make dev serves. Counted as written, each spelling was a fresh count, so one address had no limit;
    and each kept up to 16 KiB of Host in memory and in the log line."""
    limits = FunctionRateLimits({FUNCTION: RateLimit(1, 60.0, ("ip", "domain"))}, clock=FakeClock())
    assert limits.refusal(FUNCTION, request_from("10.0.0.1", SAME_SITE_HOSTS[0])) is None
    for host in SAME_SITE_HOSTS:
        assert limits.refusal(FUNCTION, request_from("10.0.0.1", host)) is not None, host[:40]
    assert limits.refusal(FUNCTION, request_from("10.0.0.2", "localhost:8888")) is None


# The declaration.


def test_the_project_function_declares_its_per_address_limit() -> None:
    assert declared_rate_limits(ROOT / "functions") == {FUNCTION: RateLimit(60, 60.0, ("ip", "domain"))}


def test_the_docs_state_the_declared_limit() -> None:
    (limit,) = declared_rate_limits(ROOT / "functions").values()
    stated = f"{limit.window_limit} in any {limit.window_size_s:g} s"
    (function_row,) = [
        row for row in page("token-function").splitlines() if row.startswith("| requests per client")
    ]
    (dev_server_row,) = [
        row for row in page("page").splitlines() if row.startswith("| requests to a function")
    ]
    assert stated in function_row
    assert stated in dev_server_row


@pytest.mark.parametrize("name", DECLARATIONS)
def test_make_dev_applies_what_netlify_applies_or_stops_with_one_line_naming_the_file(
    tmp_path: Path, name: str
) -> None:
    """Each way of writing the rule (rate_limit_declarations.py, which tests/deploy holds to Netlify's own
    bundler): make dev applies the rule Netlify records, or refuses to start, saying why in one line that
    names the entry, when Netlify would drop or weaken the rule or make dev cannot apply it."""
    declaration = DECLARATIONS[name]
    entry = write_function(tmp_path, name, declaration)
    if isinstance(declaration.make_dev, str):
        with pytest.raises(UnreadableRateLimit) as refused:
            declared_rate_limits(tmp_path)
        assert str(refused.value) == declaration.make_dev.replace("{entry}", str(entry))
        assert "\n" not in str(refused.value)
    else:
        expected = {} if declaration.make_dev is None else {name: declaration.make_dev}
        assert declared_rate_limits(tmp_path) == expected


def test_where_make_dev_applies_a_rule_it_is_the_one_netlify_records() -> None:
    for name, declaration in DECLARATIONS.items():
        applied = declaration.make_dev
        if applied is None:
            assert declaration.netlify is None, name
        elif isinstance(applied, RateLimit):
            assert declaration.netlify is not None, name
            recorded = declaration.netlify._replace(
                aggregate_by=tuple(dict.fromkeys(declaration.netlify.aggregate_by))
            )
            assert recorded == NetlifyRule(
                applied.window_limit, applied.window_size_s, applied.aggregate_by
            ), name


def test_an_entry_that_does_not_parse_stops_make_dev(tmp_path: Path) -> None:
    """Netlify's build fails on it, and its bundler reads no rule from it (zip-it-and-ship-it's parser gives
    up on the whole file)."""
    entry = tmp_path / "fn" / "fn.mjs"
    entry.parent.mkdir()
    entry.write_text("export const config = { rateLimit: { windowLimit: 5, windowSize: 10 } ;\n")
    with pytest.raises(UnreadableRateLimit) as refused:
        read_rate_limit(entry)
    assert str(refused.value) == (
        f"{entry} does not parse as JavaScript, so Netlify's bundler reads no rateLimit from it: "
        "fix the syntax error."
    )


def test_an_unreadable_declaration_stops_make_dev_with_one_line(tmp_path: Path) -> None:
    write_function(tmp_path, "fn", DECLARATIONS["aggregate-string"])
    result = start_failure("--port", "0", "--env-file", "/dev/null", "--functions", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "aggregateBy 'ip'" in result.stderr
    assert "fn.mjs" in result.stderr


# Through a running dev server.


def get(client: httpx.Client, url: str) -> httpx.Response:
    return client.get(url + TOKEN_FUNCTION, params={"warmup": "1"})


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def assert_rate_limited(response: httpx.Response, window_s: float) -> int:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= math.ceil(window_s)
    assert response.headers["x-ably-errorcode"] == "42910"
    error: dict[str, Any] = response.json()["error"]
    assert (error["code"], error["statusCode"]) == (42910, 429)
    return retry_after


def test_make_dev_applies_the_declared_limit_per_address() -> None:
    """The project's own declaration, 60 in 60 s: the 61st request from one address is refused before the
    function runs; another address is still served."""
    with (
        running_devserver() as server,
        client_from("127.0.0.1") as first,
        client_from(OTHER_LOOPBACK_ADDRESS) as other,
    ):
        answers = [get(first, server.url).status_code for _ in range(60)]
        assert answers == [204] * 60
        assert_rate_limited(get(first, server.url), 60)
        assert first.get(server.url + TOKEN_FUNCTION, params={"clientId": "x"}).status_code == 429
        assert get(other, server.url).status_code == 204


def test_a_forwarded_for_header_does_not_make_a_new_address() -> None:
    """make dev is the front door: the address counted is the connection's. uvicorn believed
    X-Forwarded-For from loopback by default, so one local client writing a new address on each request
    was never limited."""
    with running_devserver() as server, client_from("127.0.0.1") as client:
        answers = [
            client.get(
                server.url + TOKEN_FUNCTION,
                params={"warmup": "1"},
                headers={"x-forwarded-for": f"203.0.113.{n}", "x-real-ip": f"203.0.113.{n}"},
            )
            for n in range(61)
        ]
        assert [answer.status_code for answer in answers[:60]] == [204] * 60
        assert_rate_limited(answers[60], 60)


def test_a_burst_past_the_limit_and_again_after_the_window(tmp_path: Path) -> None:
    """A copy of the function whose entry declares 5 in 2 s, read as make dev reads it: a burst from one
    address gets 5 answers and then 429s; after Retry-After it gets 5 more, then 429 again."""
    source = ROOT / "functions" / FUNCTION
    copy = tmp_path / FUNCTION
    shutil.copytree(source / "ably_token_request", copy / "ably_token_request")
    shutil.copy(source / "handler.py", copy)
    declared = (
        ENTRY.read_text()
        .replace("windowLimit: 60,", "windowLimit: 5,")
        .replace("windowSize: 60,", "windowSize: 2,")
    )
    (copy / ENTRY.name).write_text(declared)
    assert declared_rate_limits(tmp_path) == {FUNCTION: RateLimit(5, 2.0, ("ip", "domain"))}

    with running_devserver(functions_dir=tmp_path) as server, client_from("127.0.0.1") as client:
        for _ in range(2):
            burst = [get(client, server.url) for _ in range(8)]
            assert [response.status_code for response in burst[:5]] == [204] * 5
            retry_after = max(assert_rate_limited(response, 2.0) for response in burst[5:])
            time.sleep(retry_after)

"""CORS: what a page on another site, or this site behind a proxy, gets and may read."""

from collections.abc import Callable

import pytest

from tests.function.conftest import API_KEY, FunctionUnderTest
from tests.function.events import function_url_event, netlify_event

APP = "https://app.example.com"
CORS = {
    "Access-Control-Allow-Origin": APP,
    # Without it the page's fetch (and ably-js) cannot read the Ably error code of a refusal.
    "Access-Control-Expose-Headers": "x-ably-errorcode",
    "Vary": "Origin",
}


@pytest.fixture
def cross_site(make_function: Callable[..., FunctionUnderTest]) -> FunctionUnderTest:
    return make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS=APP)


def test_an_allowed_origin_gets_exactly_the_cors_headers(cross_site: FunctionUnderTest) -> None:
    result = cross_site(netlify_event(headers={"origin": APP}))
    assert result.status == 200
    assert result.headers == {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        **CORS,
    }


def test_the_preflight_answer_for_an_allowed_origin(cross_site: FunctionUnderTest) -> None:
    result = cross_site(
        netlify_event("OPTIONS", headers={"origin": APP, "access-control-request-method": "POST"})
    )
    assert result.response == {
        "statusCode": 204,
        "headers": {
            **CORS,
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, X-Ably-Version, Ably-Agent",
            # Browsers cache the preflight for ten minutes instead of sending one before every token request.
            "Access-Control-Max-Age": "600",
            "Allow": "GET, POST, OPTIONS",
        },
        "body": "",
        "isBase64Encoded": False,
    }
    (line,) = result.log_lines
    assert (line["outcome"], line["status"], line["method"]) == ("preflight", 204, "OPTIONS")


def test_options_without_an_origin_says_what_is_allowed(token_function: FunctionUnderTest) -> None:
    result = token_function(netlify_event("OPTIONS"))
    assert result.status == 204
    assert result.headers["Allow"] == "GET, POST, OPTIONS"
    assert "Access-Control-Allow-Origin" not in result.headers


@pytest.mark.parametrize(
    "event",
    [
        netlify_event("DELETE", headers={"origin": APP}),
        netlify_event(query={"clientId": "*"}, headers={"origin": APP}),
        netlify_event("POST", headers={"origin": APP, "content-type": "text/plain"}, body="x"),
    ],
    ids=["405", "400", "415"],
)
def test_refusals_to_an_allowed_origin_carry_cors_headers_so_the_page_can_read_them(
    cross_site: FunctionUnderTest, event: dict[str, object]
) -> None:
    result = cross_site(event)
    assert result.status >= 400
    assert {name: result.headers[name] for name in CORS} == CORS
    assert result.headers["x-ably-errorcode"] == str(result.json["error"]["code"])


@pytest.mark.parametrize(
    "configured",
    [
        f"{APP}/",
        f" {APP} ",
        f"https://other.example,{APP}",
        f"https://other.example, {APP}/",
        f"{APP},,",
        "HTTPS://App.Example.COM/",
    ],
)
def test_allowed_origins_are_read_as_people_write_them(
    make_function: Callable[..., FunctionUnderTest], configured: str
) -> None:
    """A trailing slash or capitals (as an address bar shows them), spaces and empty items are forgiven."""
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS=configured)
    assert function(netlify_event(headers={"origin": APP})).status == 200
    assert function(netlify_event(headers={"origin": "https://evil.example"})).status == 403


def test_each_listed_origin_is_allowed(make_function: Callable[..., FunctionUnderTest]) -> None:
    function = make_function(
        ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="https://a.example,http://localhost:8888"
    )
    for origin in ("https://a.example", "http://localhost:8888"):
        result = function(netlify_event(headers={"origin": origin}))
        assert result.headers["Access-Control-Allow-Origin"] == origin


def test_behind_a_proxy_the_forwarded_host_is_the_pages_origin(token_function: FunctionUnderTest) -> None:
    """A proxy (or Netlify's edge) forwards to an internal host: the page's origin is X-Forwarded-Host."""
    headers = {"host": "internal.lambda-url.eu-west-1.on.aws", "x-forwarded-host": "www.example.com"}
    page = token_function(function_url_event(headers={**headers, "origin": "https://www.example.com"}))
    internal = token_function(
        function_url_event(headers={**headers, "origin": "https://internal.lambda-url.eu-west-1.on.aws"})
    )
    assert page.status == 200
    assert page.headers["Access-Control-Allow-Origin"] == "https://www.example.com"
    assert internal.status == 403


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example://example.netlify.app",
        "https://example.netlify.app.evil.example",
        "https://example.netlify.app:8443",
    ],
)
def test_an_origin_that_only_contains_the_host_is_not_same_origin(
    token_function: FunctionUnderTest, origin: str
) -> None:
    assert token_function(netlify_event(headers={"origin": origin})).status == 403


def test_an_unexpected_failure_reaches_an_allowed_origin_readable(
    cross_site: FunctionUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page can still read the 500 (and show that the function failed, not the network)."""
    monkeypatch.setattr(cross_site.function, "signer", None)
    result = cross_site(netlify_event(headers={"origin": APP}))
    assert result.status == 500
    assert {name: result.headers[name] for name in CORS} == CORS
    assert result.headers["x-ably-errorcode"] == "50000"

"""A misconfigured deployment says which variable is wrong and how to fix it, and never shows the key."""

from collections.abc import Callable

import pytest

from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET, FunctionUnderTest
from tests.function.events import function_url_event, netlify_event

DEEP_CAPABILITY = '{"chat:*":' + "[" * 1000 + "]" * 1000 + "}"


def test_missing_key_tells_local_and_netlify_users_what_to_do(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    result = make_function()(netlify_event())

    assert result.status == 500
    message = result.json["error"]["message"]
    assert "ABLY_API_KEY" in message
    assert ".env" in message
    assert "Netlify" in message
    assert result.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("variable", "value", "secret"),
    [
        ("ABLY_API_KEY", "no-colon-SECRETPART", "SECRETPART"),
        ("ABLY_API_KEY", "missingdot:SECRETPART2", "SECRETPART2"),
        # Bytes that are not UTF-8 in the environment reach Python as lone surrogates (surrogateescape).
        ("ABLY_API_KEY", "app.key:SECRETPART7\udcff", "SECRETPART7"),
        ("ABLY_TOKEN_CAPABILITY", "{not json SECRETPART3", "SECRETPART3"),
        ("ABLY_TOKEN_CAPABILITY", '["chat"]', None),
        ("ABLY_TOKEN_CAPABILITY", "{}", None),
        ("ABLY_TOKEN_CAPABILITY", '{"chat:*": []}', None),
        ("ABLY_TOKEN_CAPABILITY", '{"chat:*": ["SECRETPART4"]}', "SECRETPART4"),
        ("ABLY_TOKEN_CAPABILITY", '{"chat:*": [["publish"]]}', None),
        ("ABLY_TOKEN_CAPABILITY", '{"chat:*": [{"SECRETPART5": 1}]}', "SECRETPART5"),
        ("ABLY_TOKEN_CAPABILITY", DEEP_CAPABILITY, None),
        ("ABLY_TOKEN_CAPABILITY", '{"chat:\\ud800": ["publish"]}', None),  # not Unicode: UTF-8 cannot
        ("ABLY_TOKEN_CAPABILITY", '{"chat:*": ["publish"], "x": ["' + "a" * 17_000 + '"]}', None),
        ("POWERTOOLS_LOG_LEVEL", "LOUD-SECRETPART6", "SECRETPART6"),
        ("ABLY_TOKEN_TTL_MS", "soon", None),
        ("ABLY_TOKEN_TTL_MS", "5", None),
        ("ABLY_TOKEN_TTL_MS", "86400001", None),
        ("DEFAULT_CLIENT_ID", "*", None),
        ("ABLY_ALLOWED_ORIGINS", "example.com", None),
    ],
)
def test_bad_configuration_names_the_variable_not_its_value(
    make_function: Callable[..., FunctionUnderTest], variable: str, value: str, secret: str | None
) -> None:
    environ = {"ABLY_API_KEY": API_KEY, variable: value}
    secrets = (secret,) if secret else ()
    function = make_function(secrets=secrets, **environ)

    for _ in range(2):
        result = function(netlify_event())
        assert result.status == 500
        assert variable in result.json["error"]["message"]


@pytest.mark.parametrize(
    "key",
    [f"{API_KEY}:extra", f"{KEY_NAME}::{KEY_SECRET}", f"{KEY_NAME}:{KEY_SECRET} trailing", f"{KEY_NAME}:"],
    ids=["extra-colon", "double-colon", "space", "no-secret"],
)
def test_a_key_the_signer_would_refuse_is_refused_at_start_up(
    make_function: Callable[..., FunctionUnderTest], key: str
) -> None:
    function = make_function(secrets=(KEY_SECRET, "extra", "trailing"), ABLY_API_KEY=key)
    result = function(function_url_event())
    assert result.status == 500
    assert "ABLY_API_KEY" in result.json["error"]["message"]
    assert "appId.keyId:secret" in result.json["error"]["message"]


def test_ttl_bounds_are_inclusive(make_function: Callable[..., FunctionUnderTest]) -> None:
    for ttl in ("10000", "86400000"):
        function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_TTL_MS=ttl)
        assert function(netlify_event()).json["ttl"] == int(ttl)


def test_cors_preflight_for_an_allowed_origin(make_function: Callable[..., FunctionUnderTest]) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="https://app.example.com")
    result = function(
        netlify_event(
            "OPTIONS",
            headers={"origin": "https://app.example.com", "access-control-request-method": "GET"},
        )
    )
    assert result.status == 204
    assert result.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "GET" in result.headers["Access-Control-Allow-Methods"]
    assert "POST" in result.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in result.headers["Access-Control-Allow-Headers"]


def test_cors_preflight_from_an_unknown_origin_is_refused(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="https://app.example.com")
    result = function(netlify_event("OPTIONS", headers={"origin": "https://evil.example"}))
    assert result.status == 403
    assert "ABLY_ALLOWED_ORIGINS" in result.json["error"]["message"]
    assert "Access-Control-Allow-Origin" not in result.headers


def test_cors_headers_only_for_allowed_cross_site_callers(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="https://app.example.com")
    allowed = function(netlify_event(headers={"origin": "https://app.example.com"}))
    unknown = function(netlify_event(headers={"origin": "https://evil.example"}))
    same_site = function(netlify_event(headers={"origin": "https://example.netlify.app"}))

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed.headers["Vary"] == "Origin"
    assert unknown.status == 403
    assert "Access-Control-Allow-Origin" not in unknown.headers
    assert same_site.headers["Access-Control-Allow-Origin"] == "https://example.netlify.app"


def test_any_origin_when_configured_with_star(make_function: Callable[..., FunctionUnderTest]) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="*")
    result = function(netlify_event(headers={"origin": "https://anywhere.example"}))
    assert result.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://example.netlify.app", "example.netlify.app"),
        ("http://localhost:8888", "localhost:8888"),
        ("HTTP://LOCALHOST:8888", "localhost:8888"),
    ],
)
def test_same_origin_requests_are_answered_with_or_without_origin(
    token_function: FunctionUnderTest, origin: str, host: str
) -> None:
    for headers in ({"host": host, "origin": origin}, {"host": host}):
        get = token_function(netlify_event(headers=headers))
        post = token_function(
            netlify_event(
                "POST",
                headers={**headers, "content-type": "application/x-www-form-urlencoded"},
                body="clientId=me",
            )
        )
        assert (get.status, post.status) == (200, 200), headers


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "https://example.netlify.app.evil.example"]
)
def test_any_request_from_a_foreign_origin_is_refused_with_an_ably_error(
    make_function: Callable[..., FunctionUnderTest], method: str, origin: str
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="https://app.example.com")
    result = function(
        netlify_event(
            method,
            headers={"origin": origin, "content-type": "application/x-www-form-urlencoded"},
            body="clientId=victim" if method == "POST" else None,
        )
    )
    assert result.status == 403
    assert result.json["error"] == {
        "message": "This origin may not call the token function; add it to ABLY_ALLOWED_ORIGINS.",
        "code": 40300,
        "statusCode": 403,
    }
    assert result.headers["x-ably-errorcode"] == "40300"
    assert "Access-Control-Allow-Origin" not in result.headers
    assert "mac" not in result.response["body"]
    assert [line["outcome"] for line in result.log_lines] == ["OriginNotAllowed"]


def test_an_allowed_origin_gets_a_token_request(make_function: Callable[..., FunctionUnderTest]) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="https://app.example.com")
    result = function(netlify_event(headers={"origin": "https://app.example.com"}))
    assert result.status == 200
    assert result.json["keyName"] == KEY_NAME

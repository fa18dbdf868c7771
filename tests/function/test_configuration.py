"""A misconfigured deployment says which variable is wrong and how to fix it, and never shows the key."""

import json
from collections.abc import Callable

import pytest

from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET, FunctionUnderTest
from tests.function.events import function_url_event, netlify_event
from tests.function.signing import expected_mac

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


CAPABILITY_FIX = (
    "Set ABLY_TOKEN_CAPABILITY to a JSON object mapping channel names to lists of operations, "
    'for example {"chat:*":["publish","subscribe","presence"]}.'
)
KNOWN_OPERATIONS = (
    "*",
    "annotation-publish",
    "annotation-subscribe",
    "channel-metadata",
    "history",
    "object-publish",
    "object-subscribe",
    "presence",
    "privileged-headers",
    "publish",
    "push-admin",
    "push-subscribe",
    "stats",
    "subscribe",
)
TTL_BOUNDS = "between 10000 (10 seconds) and 86400000 (24 hours)"
STORE_FIX = (
    "(for example /ably-token-request/api-key), not the key itself: store the key there and put only its "
    "name in the variable."
)
CONFIGURATION_ERRORS: dict[str, tuple[dict[str, str], str]] = {
    "empty-key": (
        {"ABLY_API_KEY": ""},
        "Missing ABLY_API_KEY environment variable. Running locally: create a .env file at the project root "
        "with ABLY_API_KEY=your-key (see .env.example). On Netlify: set ABLY_API_KEY in the site's "
        "environment variables (Site configuration > Environment variables). On AWS Lambda: set "
        "ABLY_API_KEY_SSM_PARAMETER or ABLY_API_KEY_SECRET_ID.",
    ),
    "blank-key": (
        {"ABLY_API_KEY": "  "},
        "Missing ABLY_API_KEY environment variable. Running locally: create a .env file at the project root "
        "with ABLY_API_KEY=your-key (see .env.example). On Netlify: set ABLY_API_KEY in the site's "
        "environment variables (Site configuration > Environment variables). On AWS Lambda: set "
        "ABLY_API_KEY_SSM_PARAMETER or ABLY_API_KEY_SECRET_ID.",
    ),
    "malformed-key": (
        {"ABLY_API_KEY": "appId-keyId-secret"},
        "ABLY_API_KEY does not hold an Ably API key of the form appId.keyId:secret (copy the whole key from "
        "the Ably dashboard, API Keys tab).",
    ),
    "key-in-the-ssm-variable": (
        {"ABLY_API_KEY_SSM_PARAMETER": API_KEY},
        f"ABLY_API_KEY_SSM_PARAMETER must hold the name or ARN of an SSM parameter {STORE_FIX}",
    ),
    "ssm-name-with-a-space": (
        {"ABLY_API_KEY_SSM_PARAMETER": "/ably token"},
        f"ABLY_API_KEY_SSM_PARAMETER must hold the name or ARN of an SSM parameter {STORE_FIX}",
    ),
    "key-in-the-secret-variable": (
        {"ABLY_API_KEY_SECRET_ID": API_KEY},
        f"ABLY_API_KEY_SECRET_ID must hold the name or ARN of a Secrets Manager secret {STORE_FIX}",
    ),
    "capability-not-json": (
        {"ABLY_TOKEN_CAPABILITY": "chat:*=publish"},
        f"ABLY_TOKEN_CAPABILITY is not valid JSON. {CAPABILITY_FIX}",
    ),
    "capability-a-list": (
        {"ABLY_TOKEN_CAPABILITY": '["chat:*"]'},
        f"ABLY_TOKEN_CAPABILITY must be a non-empty JSON object. {CAPABILITY_FIX}",
    ),
    "capability-empty": (
        {"ABLY_TOKEN_CAPABILITY": "{}"},
        f"ABLY_TOKEN_CAPABILITY must be a non-empty JSON object. {CAPABILITY_FIX}",
    ),
    "capability-empty-channel-name": (
        {"ABLY_TOKEN_CAPABILITY": '{"": ["publish"]}'},
        f"ABLY_TOKEN_CAPABILITY needs a non-empty list of operations for every channel. {CAPABILITY_FIX}",
    ),
    "capability-operations-not-a-list": (
        {"ABLY_TOKEN_CAPABILITY": '{"chat:*": "publish"}'},
        f"ABLY_TOKEN_CAPABILITY needs a non-empty list of operations for every channel. {CAPABILITY_FIX}",
    ),
    "capability-no-operations": (
        {"ABLY_TOKEN_CAPABILITY": '{"chat:*": ["publish"], "news": []}'},
        f"ABLY_TOKEN_CAPABILITY needs a non-empty list of operations for every channel. {CAPABILITY_FIX}",
    ),
    "capability-operation-not-a-string": (
        {"ABLY_TOKEN_CAPABILITY": '{"chat:*": [1]}'},
        f"ABLY_TOKEN_CAPABILITY operations must be strings. {CAPABILITY_FIX}",
    ),
    "capability-unknown-operation": (
        {"ABLY_TOKEN_CAPABILITY": '{"chat:*": ["publish", "admin"]}'},
        "ABLY_TOKEN_CAPABILITY names an unknown operation; "
        f"known operations are {', '.join(KNOWN_OPERATIONS)}.",
    ),
    "ttl-not-a-number": (
        {"ABLY_TOKEN_TTL_MS": "1h"},
        f"ABLY_TOKEN_TTL_MS must be a whole number of milliseconds {TTL_BOUNDS}.",
    ),
    "ttl-too-short": ({"ABLY_TOKEN_TTL_MS": "9999"}, f"ABLY_TOKEN_TTL_MS must be {TTL_BOUNDS}."),
    "ttl-too-long": ({"ABLY_TOKEN_TTL_MS": "86400001"}, f"ABLY_TOKEN_TTL_MS must be {TTL_BOUNDS}."),
    "default-client-id-wildcard": (
        {"DEFAULT_CLIENT_ID": "*"},
        "DEFAULT_CLIENT_ID is not usable: clientId '*' (any identity) cannot be requested.",
    ),
    "default-client-id-control-character": (
        {"DEFAULT_CLIENT_ID": "guest\x1b"},
        "DEFAULT_CLIENT_ID is not usable: clientId contains control characters.",
    ),
    "allowed-origin-without-scheme": (
        {"ABLY_ALLOWED_ORIGINS": "https://a.example,b.example"},
        "ABLY_ALLOWED_ORIGINS must be a comma-separated list of origins such as "
        "https://example.com,http://localhost:8888 (or * for any origin).",
    ),
    "allowed-origin-with-a-path": (
        {"ABLY_ALLOWED_ORIGINS": "https://a.example/chat"},
        "ABLY_ALLOWED_ORIGINS must be a comma-separated list of origins such as "
        "https://example.com,http://localhost:8888 (or * for any origin).",
    ),
    "publish-rate-without-jwt": (
        {"ABLY_PUBLISH_MAX_RATE": "10"},
        "ABLY_PUBLISH_MAX_RATE is carried by JWTs only: set ABLY_TOKEN_FORMAT=jwt, or unset "
        "ABLY_PUBLISH_MAX_RATE (a TokenRequest cannot carry a publish limit).",
    ),
    "publish-rate-not-positive": (
        {"ABLY_TOKEN_FORMAT": "jwt", "ABLY_PUBLISH_MAX_RATE": "0"},
        "ABLY_PUBLISH_MAX_RATE must be a positive number of messages per second, such as 10 or 0.5.",
    ),
    "token-format": (
        {"ABLY_TOKEN_FORMAT": "jws"},
        "ABLY_TOKEN_FORMAT must be token-request (the default: signed TokenRequests) or jwt (Ably JWTs).",
    ),
    "log-level": (
        {"POWERTOOLS_LOG_LEVEL": "VERBOSE"},
        "POWERTOOLS_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL.",
    ),
}


@pytest.mark.parametrize(
    ("environ", "message"), CONFIGURATION_ERRORS.values(), ids=CONFIGURATION_ERRORS.keys()
)
def test_each_configuration_error_is_a_50000_naming_the_variable_and_the_fix(
    make_function: Callable[..., FunctionUnderTest], environ: dict[str, str], message: str
) -> None:
    key = {} if any(name.startswith("ABLY_API_KEY") for name in environ) else {"ABLY_API_KEY": API_KEY}
    function = make_function(secrets=(KEY_SECRET,), **key, **environ)
    result = function(netlify_event())
    assert result.status == 500
    assert result.json == {"error": {"message": message, "code": 50000, "statusCode": 500}}
    assert result.headers["x-ably-errorcode"] == "50000"
    (line,) = result.log_lines
    assert (line["level"], line["outcome"], line["error"]) == ("ERROR", "ConfigurationError", message)


def test_every_documented_operation_may_be_granted(make_function: Callable[..., FunctionUnderTest]) -> None:
    capability = {"everything:*": sorted(KNOWN_OPERATIONS)}
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_CAPABILITY=json.dumps(capability))
    body = function(netlify_event()).json
    assert json.loads(body["capability"]) == capability
    assert body["mac"] == expected_mac(body, KEY_SECRET)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", " warning ", "Error"])
def test_every_documented_log_level_is_accepted(
    make_function: Callable[..., FunctionUnderTest], level: str
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, POWERTOOLS_LOG_LEVEL=level)
    assert function(netlify_event()).status == 200


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("ABLY_API_KEY", f"  {API_KEY}\n", "keyName", KEY_NAME),
        ("ABLY_TOKEN_TTL_MS", " 600000 ", "ttl", 600_000),
        ("ABLY_TOKEN_TTL_MS", "", "ttl", 3_600_000),
        ("ABLY_TOKEN_CAPABILITY", "  ", "capability", '{"chat:*": ["presence", "publish", "subscribe"]}'),
        ("DEFAULT_CLIENT_ID", " guest ", "clientId", "guest"),
        ("DEFAULT_CLIENT_ID", " ", "clientId", "NO_CLIENT_ID"),
    ],
)
def test_values_are_read_trimmed_and_blank_means_the_default(
    make_function: Callable[..., FunctionUnderTest], variable: str, value: str, field: str, expected: object
) -> None:
    environ = {"ABLY_API_KEY": API_KEY, variable: value}
    body = make_function(**environ)(netlify_event()).json
    assert body[field] == expected
    assert body["mac"] == expected_mac(body, KEY_SECRET)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ABLY_API_KEY_SSM_PARAMETER", "/ably-token-request/api-key"),
        ("ABLY_API_KEY_SSM_PARAMETER", "ably.api_key-1"),
        ("ABLY_API_KEY_SSM_PARAMETER", "arn:aws:ssm:eu-west-1:123456789012:parameter/ably/api-key"),
        ("ABLY_API_KEY_SECRET_ID", "prod/ably+key=1@team"),
        ("ABLY_API_KEY_SECRET_ID", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ably-AbCdEf"),
    ],
)
def test_key_store_names_and_arns_are_accepted(
    aws: None, make_function: Callable[..., FunctionUnderTest], variable: str, value: str
) -> None:
    """A valid name passes start-up; that the store has no such entry is then the request's 50001."""
    result = make_function(secrets=(value,), **{variable: value})(function_url_event())
    assert result.json["error"]["code"] == 50001
    assert variable in result.json["error"]["message"]

"""ABLY_TOKEN_FORMAT=jwt: Ably JWTs, checked with tests/function/signing.py's own decoder and HMAC.

Nothing here decodes a token with the function's code: each is split, base64url-decoded and its HMAC-SHA256
recomputed with the standard library, then its header and claims are held to what Ably documents and to
what the configuration and the request say they must be.
"""

import json
import os
import string
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ably_token_request.limits import MAX_IDENTITY_ROLES, MAX_JWT_BYTES, MAX_ROLES_CLAIM_BYTES
from ably_token_request.settings import OPERATIONS
from tests.docs import snippet
from tests.function.conftest import (
    API_KEY,
    FUNCTION_DIR,
    KEY_NAME,
    KEY_SECRET,
    FunctionUnderTest,
    Invocation,
)
from tests.function.events import function_url_event, identity_context, netlify_event
from tests.function.signing import BadJwt, verified_jwt

JWT_MODE = {"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_FORMAT": "jwt"}
DEFAULT_CAPABILITY = {"chat:*": ["presence", "publish", "subscribe"]}
RATE_CLAIM = "ably.limits.publish.perAttachment.maxRate."
CHANNEL_CLAIM = "ably.channel."
# Any character a clientId or a role may hold: no control characters, no lone surrogates.
SAFE_TEXT = st.characters(exclude_categories=("Cc", "Cs"))
WIDEST = "\U0001f600"  # four bytes of UTF-8


def decoded(result: Invocation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JWT in a 200 answer, verified with the test key; its header and claims."""
    assert result.status == 200, result.response
    assert result.headers["Content-Type"] == "application/jwt"
    return verified_jwt(result.response["body"], KEY_SECRET)


def identity(user: dict[str, Any], raw: bool = True) -> object:
    """Netlify's raw Lambda context (base64 JSON) or its Node runtime's clientContext.user."""
    return identity_context(user) if raw else {"clientContext": {"user": user}, "awsRequestId": "r-1"}


@st.composite
def jwt_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A configuration, a request and who makes it, with what the token must then say."""
    resource = st.text(alphabet=string.ascii_letters + string.digits + ":*-_.", min_size=1, max_size=20)
    operations = st.lists(st.sampled_from(sorted(OPERATIONS)), min_size=1, max_size=4)
    capability = draw(st.dictionaries(resource, operations, min_size=1, max_size=4))
    ttl_ms = draw(st.integers(10_000, 86_400_000))
    rate = draw(st.none() | st.integers(1, 500).map(str) | st.floats(0.01, 500).map(lambda r: f"{r:.2f}"))
    usable_default = st.text(SAFE_TEXT, min_size=1, max_size=20).filter(lambda t: t.strip() not in ("", "*"))
    default_client_id = draw(st.none() | usable_default)
    environ = {**JWT_MODE, "ABLY_TOKEN_CAPABILITY": json.dumps(capability), "ABLY_TOKEN_TTL_MS": str(ttl_ms)}
    if rate is not None:
        environ["ABLY_PUBLISH_MAX_RATE"] = rate
    if default_client_id is not None:
        environ["DEFAULT_CLIENT_ID"] = default_client_id
    client_id = st.text(SAFE_TEXT, min_size=1, max_size=128).filter(lambda text: text != "*")
    who = draw(st.sampled_from(["default", "requested", "identity"]))
    context: object = None
    roles: list[str] = []
    if who == "default":
        requested, expected_client_id = None, (default_client_id or "").strip() or "NO_CLIENT_ID"
    elif who == "requested":
        requested = expected_client_id = draw(client_id)
    else:  # a logged-in Identity user, asking for their own clientId or for none
        expected_client_id = draw(client_id)
        roles = draw(st.lists(st.text(SAFE_TEXT, min_size=1, max_size=8), max_size=5))
        user = {"sub": expected_client_id, "app_metadata": {"provider": "email", "roles": roles}}
        context = identity(user, raw=draw(st.booleans()))
        requested = draw(st.sampled_from([None, expected_client_id]))
    return {
        "environ": environ,
        "event": netlify_event(query={"clientId": requested} if requested is not None else None),
        "context": context,
        "capability": capability,
        "ttl_s": ttl_ms // 1000,
        "rate": None if rate is None else float(rate),
        "client_id": expected_client_id,
        "roles": roles,
    }


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jwt_cases())
def test_every_jwt_is_signed_and_says_what_the_configuration_and_request_say(case: dict[str, Any]) -> None:
    function = FunctionUnderTest(case["environ"])
    before = int(time.time())
    result = function(case["event"], case["context"])
    after = int(time.time())

    header, claims = decoded(result)
    assert header == {"alg": "HS256", "kid": KEY_NAME, "typ": "JWT"}
    assert before <= claims["iat"] <= after
    assert claims["exp"] - claims["iat"] == case["ttl_s"]
    capability = json.loads(claims["x-ably-capability"])
    assert capability == {resource: sorted(set(ops)) for resource, ops in case["capability"].items()}
    assert claims["x-ably-clientId"] == case["client_id"]
    rate_claims = {name: value for name, value in claims.items() if name.startswith(RATE_CLAIM)}
    if case["rate"] is None:
        assert rate_claims == {}
    else:
        assert rate_claims == dict.fromkeys((RATE_CLAIM + r for r in case["capability"]), case["rate"])
        assert all(type(value) in (int, float) for value in rate_claims.values())
    role_claims = {name: value for name, value in claims.items() if name.startswith(CHANNEL_CLAIM)}
    if case["roles"]:
        assert set(role_claims) == {CHANNEL_CLAIM + resource for resource in case["capability"]}
        assert all(json.loads(value) == {"roles": case["roles"]} for value in role_claims.values())
    else:
        assert role_claims == {}
    assert set(claims) == {"iat", "exp", "x-ably-capability", "x-ably-clientId", *rate_claims, *role_claims}
    assert len(result.response["body"].encode()) <= MAX_JWT_BYTES


def test_the_capability_text_is_the_one_a_token_request_signs(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    capability = '{"room:*":["subscribe","publish"],"alerts":["subscribe"],"x":["history","history"]}'
    as_jwt = make_function(**JWT_MODE, ABLY_TOKEN_CAPABILITY=capability)(netlify_event())
    as_token_request = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_CAPABILITY=capability)(netlify_event())
    assert decoded(as_jwt)[1]["x-ably-capability"] == as_token_request.json["capability"]


def test_the_default_format_is_token_request_and_jwt_is_chosen_by_name(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    for value in (None, "", "token-request", " Token-Request "):
        environ = {"ABLY_API_KEY": API_KEY} | ({} if value is None else {"ABLY_TOKEN_FORMAT": value})
        result = make_function(**environ)(netlify_event())
        assert result.headers["Content-Type"] == "application/json"
        assert result.json["keyName"] == KEY_NAME
    for value in ("jwt", " JWT "):
        result = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_FORMAT=value)(netlify_event())
        assert decoded(result)[0]["kid"] == KEY_NAME


def test_a_forged_or_tampered_token_fails_the_independent_check(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    """Guard against a check that cannot fail: another secret, or one changed claim, is refused."""
    token = make_function(**JWT_MODE)(netlify_event(query={"clientId": "alice"})).response["body"]
    header, payload, signature = token.split(".")
    with pytest.raises(BadJwt):
        verified_jwt(token, KEY_SECRET + "x")
    with pytest.raises(BadJwt):
        verified_jwt(
            f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}",
            KEY_SECRET,
        )


def test_the_jwt_answer_is_uncached_text_with_the_cors_headers_of_a_token_request(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    origin = "https://app.example.com"
    environ = {"ABLY_ALLOWED_ORIGINS": origin}
    as_jwt = make_function(**JWT_MODE, **environ)(netlify_event(headers={"origin": origin}))
    as_request = make_function(ABLY_API_KEY=API_KEY, **environ)(netlify_event(headers={"origin": origin}))

    assert as_jwt.status == 200
    assert as_jwt.headers == {**as_request.headers, "Content-Type": "application/jwt"}
    assert as_jwt.headers["Cache-Control"] == "no-store"
    assert as_jwt.headers["Access-Control-Allow-Origin"] == origin
    assert as_jwt.headers["Vary"] == "Origin"
    assert as_jwt.response["isBase64Encoded"] is False
    verified_jwt(as_jwt.response["body"], KEY_SECRET)


def test_origin_rules_and_refusals_are_the_same_in_jwt_mode(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(**JWT_MODE, ABLY_ALLOWED_ORIGINS="https://app.example.com")
    foreign = function(netlify_event(headers={"origin": "https://evil.example"}))
    wildcard = function(netlify_event(query={"clientId": "*"}))
    impersonation = function(netlify_event(query={"clientId": "admin"}), identity({"sub": "user-1"}))
    put = function(netlify_event("PUT"))

    assert (foreign.status, foreign.json["error"]["code"]) == (403, 40300)
    assert (wildcard.status, wildcard.json["error"]["code"]) == (400, 40012)
    assert (impersonation.status, impersonation.json["error"]["code"]) == (403, 40012)
    assert put.status == 405
    assert all(
        r.headers["Content-Type"] == "application/json" for r in (foreign, wildcard, impersonation, put)
    )


def test_one_log_line_per_request_and_never_the_token(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(**JWT_MODE)
    result = function(function_url_event(query={"clientId": "alice"}))
    token = result.response["body"]

    (line,) = result.log_lines
    assert (line["message"], line["outcome"], line["status"]) == ("token request", "issued", 200)
    assert line["client_id"] == "alice"
    log_text = json.dumps(result.log_lines)
    assert all(part not in log_text for part in token.split("."))


def test_warmup_signs_nothing_in_jwt_mode(make_function: Callable[..., FunctionUnderTest]) -> None:
    function = make_function(**JWT_MODE)
    result = function(netlify_event(query={"warmup": "1"}))
    assert (result.status, result.response["body"]) == (204, "")
    assert result.log_lines[0]["outcome"] == "warmup"


@pytest.mark.parametrize("raw", [True, False], ids=["lambda-raw-context", "node-client-context"])
def test_identity_roles_travel_on_every_resource_and_anonymous_clients_get_none(
    make_function: Callable[..., FunctionUnderTest], raw: bool
) -> None:
    function = make_function(**JWT_MODE, ABLY_TOKEN_CAPABILITY='{"chat:*":["publish"],"news":["subscribe"]}')
    user = {
        "sub": "mod-1",
        "app_metadata": {"roles": ["moderator", "zoë"]},
        "user_metadata": {"roles": ["x"]},
    }
    moderator = decoded(function(netlify_event(), identity(user, raw)))[1]
    no_roles = decoded(function(netlify_event(), identity({"sub": "u-2", "app_metadata": {}}, raw)))[1]
    anonymous = decoded(function(netlify_event(query={"clientId": "moderator"})))[1]

    assert moderator["x-ably-clientId"] == "mod-1"
    expected = '{"roles":["moderator","zoë"]}'
    assert {k: v for k, v in moderator.items() if k.startswith(CHANNEL_CLAIM)} == {
        "ably.channel.chat:*": expected,
        "ably.channel.news": expected,
    }
    assert not any(name.startswith(CHANNEL_CLAIM) for name in no_roles)
    assert not any(name.startswith(CHANNEL_CLAIM) for name in anonymous)


@pytest.mark.parametrize("raw", [True, False], ids=["lambda-raw-context", "node-client-context"])
def test_roles_belong_to_an_identified_user_only(
    make_function: Callable[..., FunctionUnderTest], raw: bool
) -> None:
    """A context user with roles but no `sub` is nobody: the request was anonymous, so it could name any
    clientId, and it got the roles as a trusted claim on that clientId, for other clients to believe."""
    function = make_function(**JWT_MODE)
    nobody = identity({"app_metadata": {"roles": ["moderator"]}}, raw)
    claims = decoded(function(netlify_event(query={"clientId": "someone"}), nobody))[1]
    assert claims["x-ably-clientId"] == "someone"
    assert not any(name.startswith(CHANNEL_CLAIM) for name in claims)


def test_roles_are_ignored_by_token_requests(make_function: Callable[..., FunctionUnderTest]) -> None:
    """A TokenRequest cannot carry claims, so roles (even ones a JWT would refuse) change nothing."""
    function = make_function(ABLY_API_KEY=API_KEY)
    result = function(netlify_event(), identity({"sub": "u", "app_metadata": {"roles": ["r"] * 50}}))
    assert result.json["clientId"] == "u"


@pytest.mark.parametrize(
    "roles",
    [
        ["r"] * (MAX_IDENTITY_ROLES + 1),
        "moderator",
        ["moderator", 7],
        ["moderator", ""],
        ["line\nbreak"],
        ["lone\ud800"],
        ["x" * 300],
        [WIDEST * 60],
    ],
    ids=["too-many", "not-a-list", "not-a-string", "empty", "control", "surrogate", "long", "wide"],
)
def test_roles_that_cannot_travel_in_a_token_are_a_400_naming_them(
    make_function: Callable[..., FunctionUnderTest], roles: object
) -> None:
    function = make_function(**JWT_MODE)
    result = function(netlify_event(), identity({"sub": "u", "app_metadata": {"roles": roles}}, raw=False))
    assert result.status == 400
    assert result.json["error"]["code"] == 40000
    assert "role" in result.json["error"]["message"]


def test_roles_at_their_bounds_are_carried(make_function: Callable[..., FunctionUnderTest]) -> None:
    function = make_function(**JWT_MODE)
    # {"roles":["xx…"]} as a JSON string in the payload: 20 bytes around the role's own.
    longest = ["x" * (MAX_ROLES_CLAIM_BYTES - 20)]
    most = [f"r{i}" for i in range(MAX_IDENTITY_ROLES)]
    for roles in (longest, most):
        result = function(
            netlify_event(), identity({"sub": "u", "app_metadata": {"roles": roles}}, raw=False)
        )
        claim = decoded(result)[1]["ably.channel.chat:*"]
        assert json.loads(claim) == {"roles": roles}
    one_more = function(
        netlify_event(), identity({"sub": "u", "app_metadata": {"roles": [longest[0] + "x"]}}, raw=False)
    )
    assert one_more.status == 400


def capability_of(resources: int, prefix: str = "room") -> str:
    return json.dumps({f"{prefix}-{i:03d}": ["publish", "subscribe"] for i in range(resources)})


def test_the_largest_token_a_configuration_allows_fits_and_one_more_resource_is_refused(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    """Find the most resources accepted at start-up, then issue the largest token they allow: the longest
    clientId in the widest characters, and the largest role claim on every resource."""
    environ = {**JWT_MODE, "ABLY_PUBLISH_MAX_RATE": "12.5"}
    accepted = [
        n
        for n in range(1, 40)
        if make_function(**environ, ABLY_TOKEN_CAPABILITY=capability_of(n))(netlify_event()).status == 200
    ]
    most = max(accepted)
    assert accepted == list(range(1, most + 1))
    assert 3 <= most < 39
    function = make_function(**environ, ABLY_TOKEN_CAPABILITY=capability_of(most))
    roles = ["x" * (MAX_ROLES_CLAIM_BYTES - 20)]
    user = {"sub": WIDEST * 128, "app_metadata": {"roles": roles}}
    token = function(netlify_event(), identity(user, raw=False)).response["body"]
    assert verified_jwt(token, KEY_SECRET)[1]["x-ably-clientId"] == WIDEST * 128
    per_resource = len(token) / most
    assert MAX_JWT_BYTES - 2 * per_resource < len(token) <= MAX_JWT_BYTES


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ABLY_TOKEN_FORMAT", "SECRETPART1"),
        ("ABLY_TOKEN_FORMAT", "tokenrequest"),
        ("ABLY_TOKEN_FORMAT", "jwt-SECRETPART2"),
        ("ABLY_PUBLISH_MAX_RATE", "0"),
        ("ABLY_PUBLISH_MAX_RATE", "0.0"),
        ("ABLY_PUBLISH_MAX_RATE", "-1"),
        ("ABLY_PUBLISH_MAX_RATE", "nan"),
        ("ABLY_PUBLISH_MAX_RATE", "inf"),
        ("ABLY_PUBLISH_MAX_RATE", "9" * 400),
        ("ABLY_PUBLISH_MAX_RATE", "fast-SECRETPART3"),
        ("ABLY_PUBLISH_MAX_RATE", "1_000"),
        ("ABLY_PUBLISH_MAX_RATE", "10/s"),
        ("ABLY_TOKEN_CAPABILITY", capability_of(40, prefix="SECRETPART4")),
        # JSON can write a lone surrogate (\ud800) that UTF-8 cannot: the JWT's payload crashed the start.
        ("ABLY_TOKEN_CAPABILITY", '{"chat:\\ud800":["publish"]}'),
    ],
)
def test_jwt_configuration_errors_name_the_variable_not_its_value(
    make_function: Callable[..., FunctionUnderTest], variable: str, value: str
) -> None:
    secrets = tuple(
        part for part in ("SECRETPART1", "SECRETPART2", "SECRETPART3", "SECRETPART4") if part in value
    )
    function = make_function(secrets=(KEY_SECRET, *secrets), **{**JWT_MODE, variable: value})
    for _ in range(2):
        result = function(netlify_event())
        assert result.status == 500
        assert result.json["error"]["code"] == 50000
        assert variable in result.json["error"]["message"]
        assert result.log_lines[0]["outcome"] == "ConfigurationError"


def test_a_publish_rate_without_jwt_is_refused_rather_than_dropped(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    result = make_function(ABLY_API_KEY=API_KEY, ABLY_PUBLISH_MAX_RATE="10")(netlify_event())
    assert result.status == 500
    message = result.json["error"]["message"]
    assert "ABLY_PUBLISH_MAX_RATE" in message
    assert "ABLY_TOKEN_FORMAT=jwt" in message


@pytest.mark.parametrize(
    ("value", "claim"), [("10", 10), (" 2.5 ", 2.5), ("0.25", 0.25), ("7.", 7), (".5", 0.5)]
)
def test_publish_rates_are_carried_as_numbers(
    make_function: Callable[..., FunctionUnderTest], value: str, claim: float
) -> None:
    claims = decoded(make_function(**JWT_MODE, ABLY_PUBLISH_MAX_RATE=value)(netlify_event()))[1]
    assert claims[RATE_CLAIM + "chat:*"] == claim
    assert type(claims[RATE_CLAIM + "chat:*"]) is type(claim)  # a JSON number, as Ably documents it


def loaded_modules(environ: dict[str, str]) -> set[str]:
    """The modules a fresh interpreter holds after importing handler.py and answering one request."""
    script = (
        "import sys, handler\n"
        "handler.handler({'httpMethod': 'GET', 'headers': {}}, None)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=FUNCTION_DIR,
        env={**keep, "ABLY_API_KEY": API_KEY, **environ},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(completed.stdout.split()[-1000:])


def test_each_format_loads_only_its_own_signing_code() -> None:
    """TokenRequests load ably-python's signing module (signer.py, at its import), JWTs only jwt_signer.py."""
    token_request = loaded_modules({})
    jwt = loaded_modules({"ABLY_TOKEN_FORMAT": "jwt"})

    assert "ably_token_request.signer" in token_request
    assert "ably_token_request.jwt_signer" not in token_request
    assert "ably_token_request.jwt_signer" in jwt
    assert "ably_token_request.signer" not in jwt
    assert not {name for name in token_request | jwt if name.split(".")[0] in ("ably", "jwt")}
    assert len(jwt) <= len(token_request)


def test_the_documented_example_is_what_the_function_issues(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    documented = json.loads(snippet("jwt-claims").text)
    function = make_function(**JWT_MODE, ABLY_PUBLISH_MAX_RATE="10")
    user = {"sub": "mod-1", "app_metadata": {"roles": ["moderator"]}}
    issued = decoded(function(netlify_event(), identity(user)))[1]
    assert documented["exp"] - documented["iat"] == issued["exp"] - issued["iat"]
    times = ("iat", "exp")
    assert {k: v for k, v in issued.items() if k not in times} == {
        k: v for k, v in documented.items() if k not in times
    }
    assert list(issued) == list(documented)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=12) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=20,
)
_jwt_function = FunctionUnderTest({**JWT_MODE, "ABLY_PUBLISH_MAX_RATE": "3"})


@settings(max_examples=400, deadline=None)
@given(
    sub=st.one_of(st.text(max_size=140), json_values),
    app_metadata=st.one_of(json_values, st.fixed_dictionaries({"roles": json_values})),
    raw=st.booleans(),
)
def test_any_identity_payload_gets_a_jwt_or_a_clear_refusal(sub: Any, app_metadata: Any, raw: bool) -> None:
    """Whatever an Identity context holds, JWT mode answers a verified JWT or a 400/403, never a 500."""
    result = _jwt_function(netlify_event(), identity({"sub": sub, "app_metadata": app_metadata}, raw))
    assert result.status in (200, 400, 403), result.response
    if result.status == 200:
        claims = decoded(result)[1]
        assert claims["x-ably-clientId"] == (sub if isinstance(sub, str) and sub else "NO_CLIENT_ID")
        assert len(result.response["body"]) <= MAX_JWT_BYTES
    else:
        assert result.headers["Content-Type"] == "application/json"
        assert result.json["error"]["code"] in (40000, 40012)

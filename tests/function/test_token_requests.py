"""What a browser gets back: a TokenRequest ably-js and ably-python accept, signed with the key."""

import json
import time
from collections.abc import Callable

import pytest

from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET, FunctionUnderTest
from tests.function.events import api_gateway_v1_event, function_url_event, identity_context, netlify_event
from tests.function.signing import expected_mac

TOKEN_REQUEST_FIELDS = {"keyName", "ttl", "capability", "clientId", "timestamp", "nonce", "mac"}
DEFAULT_CAPABILITY = {"chat:*": ["presence", "publish", "subscribe"]}


def test_get_returns_a_signed_token_request_with_exactly_the_sdk_fields(
    token_function: FunctionUnderTest,
) -> None:
    before = int(time.time() * 1000)
    result = token_function(netlify_event(query={"clientId": "alice"}))
    after = int(time.time() * 1000)

    assert result.status == 200
    assert result.headers["Content-Type"] == "application/json"
    assert result.headers["Cache-Control"] == "no-store"
    body = result.json
    assert set(body) == TOKEN_REQUEST_FIELDS
    assert body["keyName"] == KEY_NAME
    assert body["clientId"] == "alice"
    assert body["ttl"] == 3_600_000
    assert json.loads(body["capability"]) == DEFAULT_CAPABILITY
    assert before <= body["timestamp"] <= after
    assert len(body["nonce"]) >= 16
    assert body["mac"] == expected_mac(body, KEY_SECRET)


def test_each_token_request_has_a_fresh_nonce(token_function: FunctionUnderTest) -> None:
    nonces = {token_function(netlify_event()).json["nonce"] for _ in range(50)}
    assert len(nonces) == 50


def test_client_id_falls_back_to_default_then_to_no_client_id(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    with_default = make_function(ABLY_API_KEY=API_KEY, DEFAULT_CLIENT_ID="guest")
    without_default = make_function(ABLY_API_KEY=API_KEY)

    assert with_default(netlify_event()).json["clientId"] == "guest"
    assert with_default(netlify_event(query={"clientId": ""})).json["clientId"] == "guest"
    assert without_default(netlify_event()).json["clientId"] == "NO_CLIENT_ID"


def test_capability_and_ttl_come_from_configuration_and_are_signed(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(
        ABLY_API_KEY=API_KEY,
        ABLY_TOKEN_CAPABILITY='{"room:*":["subscribe"],"alerts":["subscribe","history"]}',
        ABLY_TOKEN_TTL_MS="600000",
    )
    body = function(netlify_event(query={"clientId": "bob"})).json

    assert json.loads(body["capability"]) == {"alerts": ["history", "subscribe"], "room:*": ["subscribe"]}
    assert body["ttl"] == 600_000
    assert body["mac"] == expected_mac(body, KEY_SECRET)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "clientId=carol&ttl=1"),
        ("application/x-www-form-urlencoded; charset=UTF-8", "clientId=carol"),
        ("application/json", '{"clientId": "carol"}'),
    ],
)
def test_post_reads_client_id_from_the_body(
    token_function: FunctionUnderTest, content_type: str, body: str
) -> None:
    result = token_function(netlify_event("POST", headers={"content-type": content_type}, body=body))
    assert result.status == 200
    assert result.json["clientId"] == "carol"
    assert result.json["mac"] == expected_mac(result.json, KEY_SECRET)


def test_post_body_may_arrive_base64_encoded(token_function: FunctionUnderTest) -> None:
    event = netlify_event(
        "POST",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body="clientId=dora",
        base64_body=True,
    )
    assert token_function(event).json["clientId"] == "dora"


def test_function_url_v2_event(token_function: FunctionUnderTest) -> None:
    result = token_function(function_url_event(query={"clientId": "erin"}))
    assert result.status == 200
    assert result.json["clientId"] == "erin"
    assert result.log_lines[-1]["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_function_url_v2_post_with_json_body(token_function: FunctionUnderTest) -> None:
    event = function_url_event(
        "POST", headers={"content-type": "application/json"}, body='{"clientId":"frank"}'
    )
    assert token_function(event).json["clientId"] == "frank"


def test_api_gateway_v1_event(token_function: FunctionUnderTest) -> None:
    result = token_function(api_gateway_v1_event(query={"clientId": "gina"}))
    assert result.json["clientId"] == "gina"


def test_unicode_client_id_is_signed_over_its_utf8_text(token_function: FunctionUnderTest) -> None:
    body = token_function(netlify_event(query={"clientId": "zoë-日本"})).json
    assert body["clientId"] == "zoë-日本"
    assert body["mac"] == expected_mac(body, KEY_SECRET)


@pytest.mark.parametrize(
    "client_id",
    ["*", "x" * 129, "bell\x07", "line\nbreak", "nul\x00"],
    ids=["wildcard", "too-long", "bell", "newline", "nul"],
)
def test_unsafe_client_ids_are_refused(token_function: FunctionUnderTest, client_id: str) -> None:
    result = token_function(netlify_event(query={"clientId": client_id}))
    assert result.status == 400
    assert result.json["error"]["code"] == 40012
    assert result.headers["Content-Type"] == "application/json"


def test_longest_allowed_client_id(token_function: FunctionUnderTest) -> None:
    assert token_function(netlify_event(query={"clientId": "x" * 128})).status == 200


def test_conflicting_repeated_client_ids_are_refused(token_function: FunctionUnderTest) -> None:
    result = token_function(netlify_event(query={"clientId": ["ann", "bea"]}))
    assert result.status == 400
    assert "more than once" in result.json["error"]["message"]


def test_identity_user_becomes_the_client_id(token_function: FunctionUnderTest) -> None:
    context = identity_context({"sub": "user-123", "email": "u@example.com"})
    assert token_function(netlify_event(), context).json["clientId"] == "user-123"
    same = token_function(netlify_event(query={"clientId": "user-123"}), context)
    assert same.json["clientId"] == "user-123"


def test_identity_user_cannot_impersonate_someone_else(token_function: FunctionUnderTest) -> None:
    context = identity_context({"sub": "user-123"})
    result = token_function(netlify_event(query={"clientId": "admin"}), context)
    assert result.status == 403
    assert result.json["error"]["code"] == 40012


def test_identity_from_netlify_node_style_context(token_function: FunctionUnderTest) -> None:
    context = {"clientContext": {"user": {"sub": "node-user"}}, "awsRequestId": "r-1"}
    result = token_function(netlify_event(), context)
    assert result.json["clientId"] == "node-user"
    assert result.log_lines[-1]["request_id"] == "r-1"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_get_405_with_allow(token_function: FunctionUnderTest, method: str) -> None:
    result = token_function(netlify_event(method))
    assert result.status == 405
    assert result.headers["Allow"] == "GET, POST, OPTIONS"
    assert result.json["error"]["code"] == 40500


def test_unsupported_post_body_type_is_415(token_function: FunctionUnderTest) -> None:
    event = netlify_event("POST", headers={"content-type": "text/xml"}, body="<clientId>x</clientId>")
    assert token_function(event).status == 415


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"clientId": 7}'])
def test_malformed_json_bodies_are_400(token_function: FunctionUnderTest, body: str) -> None:
    event = netlify_event("POST", headers={"content-type": "application/json"}, body=body)
    assert token_function(event).status == 400


def test_oversized_body_is_413(token_function: FunctionUnderTest) -> None:
    event = netlify_event(
        "POST", headers={"content-type": "application/json"}, body='{"clientId":"' + "a" * 20_000 + '"}'
    )
    assert token_function(event).status == 413


def test_invalid_base64_body_is_400(token_function: FunctionUnderTest) -> None:
    event = netlify_event("POST", headers={"content-type": "application/json"}, body="{}")
    event["isBase64Encoded"] = True
    event["body"] = "%%%not-base64"
    assert token_function(event).status == 400


def test_event_that_is_not_an_object_is_400(token_function: FunctionUnderTest) -> None:
    result = token_function(["not", "an", "event"])
    assert result.status == 400
    assert result.json["error"]["statusCode"] == 400

"""Every refusal, exactly as the caller gets it: status, Ably error body and code header, and its log line.

ably-js shows an authUrl's `error.message` to the developer as the cause of a failed connection, and the page
shows it to the visitor: the words are part of the answer, so this table holds each one whole.
"""

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.function.conftest import API_KEY, FunctionUnderTest
from tests.function.events import api_gateway_v1_event, function_url_event, identity_context, netlify_event

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def post(body: str, headers: dict[str, str] = JSON) -> dict[str, Any]:
    return netlify_event("POST", headers=headers, body=body)


def with_fields(**fields: Any) -> dict[str, Any]:
    return {**netlify_event(), **fields}


def identity(sub: object) -> object:
    return identity_context({"sub": sub})


BAD_REQUEST = (400, 40000, "BadRequest")
BAD_CLIENT_ID = (400, 40012, "InvalidClientId")

REFUSALS: dict[str, tuple[object, object, tuple[int, int, str], str]] = {
    # The event itself
    "event-not-an-object": (["GET"], None, BAD_REQUEST, "The event is not a JSON object."),
    "request-context-not-an-object": (
        with_fields(httpMethod=None, requestContext="GET"),
        None,
        BAD_REQUEST,
        "The event's requestContext is not an object.",
    ),
    "request-context-http-not-an-object": (
        with_fields(httpMethod=None, requestContext={"http": ["GET"]}),
        None,
        BAD_REQUEST,
        "The event's requestContext.http is not an object.",
    ),
    "headers-not-an-object": (
        with_fields(headers="host: x"),
        None,
        BAD_REQUEST,
        "The event's headers is not an object.",
    ),
    "header-name-not-a-string": (
        with_fields(headers={1: "x"}),
        None,
        BAD_REQUEST,
        "The event's headers has a non-string name.",
    ),
    "header-value-not-a-string": (
        with_fields(headers={"host": ["a", "b"]}),
        None,
        BAD_REQUEST,
        "The event has a header that is not a string.",
    ),
    "multi-value-headers-not-an-object": (
        with_fields(headers=None, multiValueHeaders=["host: x"]),
        None,
        BAD_REQUEST,
        "The event's multiValueHeaders is not an object.",
    ),
    "multi-value-headers-not-lists": (
        with_fields(headers=None, multiValueHeaders={"host": "example.netlify.app"}),
        None,
        BAD_REQUEST,
        "The event's multiValueHeaders are not lists of strings.",
    ),
    "multi-value-header-item-not-a-string": (
        with_fields(headers=None, multiValueHeaders={"host": [7]}),
        None,
        BAD_REQUEST,
        "The event's multiValueHeaders are not lists of strings.",
    ),
    "multi-value-query-not-an-object": (
        with_fields(multiValueQueryStringParameters="clientId=ann"),
        None,
        BAD_REQUEST,
        "The event's multiValueQueryStringParameters is not an object.",
    ),
    "query-not-an-object": (
        {**api_gateway_v1_event(), "queryStringParameters": "clientId=ann"},
        None,
        BAD_REQUEST,
        "The event's queryStringParameters is not an object.",
    ),
    "multi-value-query-not-lists": (
        with_fields(multiValueQueryStringParameters={"clientId": "ann"}),
        None,
        BAD_REQUEST,
        "The event's multiValueQueryStringParameters are not lists of strings.",
    ),
    "multi-value-query-item-not-a-string": (
        with_fields(multiValueQueryStringParameters={"clientId": [None]}),
        None,
        BAD_REQUEST,
        "The event's multiValueQueryStringParameters are not lists of strings.",
    ),
    "query-value-not-a-string": (
        {**function_url_event(), "rawQueryString": None, "queryStringParameters": {"clientId": 5}},
        None,
        BAD_REQUEST,
        "The event has a query parameter that is not a string.",
    ),
    "body-not-a-string": (
        with_fields(body={"clientId": "x"}),
        None,
        BAD_REQUEST,
        "The event's body is not a string.",
    ),
    # The method
    "method-with-a-digit": (netlify_event("G3T"), None, BAD_REQUEST, "The event has no valid HTTP method."),
    "method-with-a-space": (netlify_event("GET "), None, BAD_REQUEST, "The event has no valid HTTP method."),
    "method-of-21-letters": (
        netlify_event("A" * 21),
        None,
        BAD_REQUEST,
        "The event has no valid HTTP method.",
    ),
    "method-empty": (netlify_event(""), None, BAD_REQUEST, "The event has no valid HTTP method."),
    "method-not-a-string": (
        with_fields(httpMethod=["GET"]),
        None,
        BAD_REQUEST,
        "The event has no valid HTTP method.",
    ),
    "method-put": (netlify_event("PUT"), None, (405, 40500, "MethodNotAllowed"), "Use GET or POST, not PUT."),
    "method-of-20-letters": (
        netlify_event("A" * 20),
        None,
        (405, 40500, "MethodNotAllowed"),
        f"Use GET or POST, not {'A' * 20}.",
    ),
    # The body
    "body-not-base64": (
        post("{}") | {"isBase64Encoded": True, "body": "e30=%%"},
        None,
        BAD_REQUEST,
        "The request body is not valid base64.",
    ),
    "body-text-not-utf8": (
        post('{"clientId": "\ud800"}'),
        None,
        BAD_REQUEST,
        "The request body is not valid UTF-8.",
    ),
    "body-bytes-not-utf8": (
        post("clientId=\xff", headers=FORM)
        | {"body": base64.b64encode(b"clientId=\xff").decode(), "isBase64Encoded": True},
        None,
        BAD_REQUEST,
        "The request body is not valid UTF-8.",
    ),
    "body-not-json": (post("{clientId: 'x'}"), None, BAD_REQUEST, "The request body is not valid JSON."),
    "body-json-too-deep": (
        post('{"a":' + "[" * 8 + "]" * 8 + "}"),
        None,
        BAD_REQUEST,
        "The JSON body is nested deeper than 8 levels.",
    ),
    "body-json-not-an-object": (
        post('["clientId", "x"]'),
        None,
        BAD_REQUEST,
        "The JSON request body must be an object.",
    ),
    "body-json-client-id-not-a-string": (
        post('{"clientId": ["x"]}'),
        None,
        BAD_REQUEST,
        "clientId in the JSON body must be a string.",
    ),
    "body-of-another-type": (
        post("clientId: x", headers={"content-type": "text/plain"}),
        None,
        (415, 41500, "UnsupportedMediaType"),
        "Send the POST body as application/x-www-form-urlencoded (ably-js authMethod 'POST') "
        "or application/json.",
    ),
    "body-too-large": (
        post("clientId=" + "a" * 16_384, headers=FORM),
        None,
        (413, 41300, "PayloadTooLarge"),
        "The request body is larger than 16384 bytes.",
    ),
    # The clientId
    "client-id-twice": (
        netlify_event(query={"clientId": ["ann", "bea"]}),
        None,
        BAD_REQUEST,
        "clientId was given more than once with different values.",
    ),
    "client-id-in-query-and-body": (
        post("clientId=bea", headers=FORM) | {"multiValueQueryStringParameters": {"clientId": ["ann"]}},
        None,
        BAD_REQUEST,
        "clientId was given more than once with different values.",
    ),
    "client-id-wildcard": (
        netlify_event(query={"clientId": "*"}),
        None,
        BAD_CLIENT_ID,
        "clientId '*' (any identity) cannot be requested.",
    ),
    "client-id-too-long": (
        netlify_event(query={"clientId": "x" * 129}),
        None,
        BAD_CLIENT_ID,
        "clientId is longer than 128 characters.",
    ),
    "client-id-control-character": (
        netlify_event(query={"clientId": "tab\there"}),
        None,
        BAD_CLIENT_ID,
        "clientId contains control characters.",
    ),
    # Netlify Identity
    "identity-impersonation": (
        netlify_event(query={"clientId": "admin"}),
        identity("user-1"),
        (403, 40012, "ClientIdMismatch"),
        "clientId does not match the logged-in user.",
    ),
    "identity-empty-sub": (
        netlify_event(),
        identity(""),
        BAD_CLIENT_ID,
        "The Identity user has no usable id.",
    ),
    "identity-numeric-sub": (
        netlify_event(),
        identity(42),
        BAD_CLIENT_ID,
        "The Identity user has no usable id.",
    ),
    "identity-sub-wildcard": (
        netlify_event(),
        identity("*"),
        BAD_CLIENT_ID,
        "clientId '*' (any identity) cannot be requested.",
    ),
    "identity-context-not-base64": (
        netlify_event(),
        {"clientContext": {"custom": {"netlify": "eyJ1c2VyIjp7fX0=%%"}}},
        BAD_CLIENT_ID,
        "The Identity context could not be read.",
    ),
    "identity-context-not-json": (
        netlify_event(),
        {"clientContext": {"custom": {"netlify": base64.b64encode(b"user").decode()}}},
        BAD_CLIENT_ID,
        "The Identity context could not be read.",
    ),
}


@pytest.mark.parametrize(("event", "context", "expected", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_each_refusal_is_an_ably_error_with_its_own_message(
    token_function: FunctionUnderTest,
    event: object,
    context: object,
    expected: tuple[int, int, str],
    message: str,
) -> None:
    status, code, outcome = expected
    result = token_function(event, context)

    assert result.status == status
    # Compact, as JSON.stringify writes it; and never flagged base64, or the front door would decode it.
    error = {"error": {"message": message, "code": code, "statusCode": status}}
    assert result.response["body"] == json.dumps(error, separators=(",", ":"))
    assert result.response["isBase64Encoded"] is False
    assert result.headers["x-ably-errorcode"] == str(code)
    assert result.headers["Content-Type"] == "application/json"
    assert result.headers["Cache-Control"] == "no-store"
    (line,) = result.log_lines
    assert (line["level"], line["outcome"], line["status"]) == ("INFO", outcome, status)
    assert "error" not in line  # a caller's mistake is not the function's: no reason logged as a fault


ROLES_FIX = "Fix the user's roles in the site's Identity settings."
ROLE_REFUSALS: dict[str, tuple[object, str]] = {
    "not-a-list": ("moderator", f"The Identity user's roles must be a list of names. {ROLES_FIX}"),
    "empty-name": (["moderator", ""], f"The Identity user's roles must be a list of names. {ROLES_FIX}"),
    "eleven": ([f"r{n}" for n in range(11)], f"The Identity user has more than 10 roles. {ROLES_FIX}"),
    "control-character": (["mod\x1b[31m"], f"An Identity role contains control characters. {ROLES_FIX}"),
    "too-many-bytes": (
        ["r" * 120, "s" * 120],
        f"The Identity user's roles take more than the 256 bytes a token carries for them. {ROLES_FIX}",
    ),
}


@pytest.mark.parametrize(("roles", "message"), ROLE_REFUSALS.values(), ids=ROLE_REFUSALS.keys())
def test_identity_roles_a_jwt_cannot_carry_are_refused_with_the_fix(
    make_function: Callable[..., FunctionUnderTest], roles: object, message: str
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_FORMAT="jwt")
    context = identity_context({"sub": "u-1", "app_metadata": {"roles": roles}})
    result = function(netlify_event(), context)
    assert result.status == 400
    assert result.json["error"] == {"message": message, "code": 40000, "statusCode": 400}

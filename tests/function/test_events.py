"""The event shapes front doors really send, and what the function reads from each."""

import json
from collections.abc import Callable
from typing import Any

import pytest

import handler
from tests.function.conftest import API_KEY, KEY_SECRET, FunctionUnderTest
from tests.function.events import api_gateway_v1_event, function_url_event, netlify_event
from tests.function.signing import expected_mac


def test_multi_value_headers_without_headers_are_read(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    """API Gateway (REST, v1) may give only multiValueHeaders; repeated values join as HTTP joins them."""
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_ALLOWED_ORIGINS="https://a.example")
    event = {
        **api_gateway_v1_event("POST"),
        "headers": None,
        "multiValueHeaders": {
            "Host": ["abc.execute-api.eu-west-1.amazonaws.com"],
            "Origin": ["https://a.example"],
            "Content-Type": ["application/x-www-form-urlencoded"],
        },
        "body": "clientId=vic",
    }
    result = function(event)

    assert result.status == 200
    assert result.json["clientId"] == "vic"
    assert result.headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_repeated_multi_value_headers_are_joined_with_a_comma(token_function: FunctionUnderTest) -> None:
    """Two Origin values are one malformed Origin, "a, b": it matches no host and no allowed origin."""
    event = {
        **netlify_event(),
        "headers": None,
        "multiValueHeaders": {
            "host": ["example.netlify.app"],
            "origin": ["https://example.netlify.app", "https://example.netlify.app"],
        },
    }
    assert token_function(event).status == 403


def test_headers_win_over_multi_value_headers(token_function: FunctionUnderTest) -> None:
    event = netlify_event(query={"clientId": "ann"}, headers={"origin": "https://example.netlify.app"})
    event["multiValueHeaders"] = {"origin": ["https://evil.example"]}
    assert token_function(event).status == 200


def test_header_names_are_case_insensitive(token_function: FunctionUnderTest) -> None:
    event = netlify_event("POST", body='{"clientId": "cy"}')
    event["headers"] = {"Host": "example.netlify.app", "Content-Type": "Application/JSON; charset=utf-8"}
    assert token_function(event).json["clientId"] == "cy"


def test_function_url_repeated_client_ids_in_the_raw_query_string(token_function: FunctionUnderTest) -> None:
    """Payload v2 joins repeats in queryStringParameters ("a,b"); only rawQueryString keeps them apart."""
    event = function_url_event(query={"clientId": "ann,bea"})
    event["rawQueryString"] = "clientId=ann&clientId=bea"
    conflicting = token_function(event)
    event["rawQueryString"] = "clientId=ann&clientId=ann"
    repeated = token_function(event)

    assert conflicting.status == 400
    assert repeated.json["clientId"] == "ann"


def test_function_url_raw_query_string_is_decoded(token_function: FunctionUnderTest) -> None:
    event = function_url_event()
    event["rawQueryString"] = "clientId=zo%C3%AB+b&warmup="
    assert token_function(event).json["clientId"] == "zoë b"


def test_netlify_raw_query_is_read_when_there_is_no_multi_value_form(
    token_function: FunctionUnderTest,
) -> None:
    event = netlify_event()
    del event["multiValueQueryStringParameters"]
    event["queryStringParameters"] = {"clientId": "ann, bea"}
    event["rawQuery"] = "clientId=ann&clientId=bea"
    assert token_function(event).status == 400
    event["rawQuery"] = "clientId=ann"
    assert token_function(event).json["clientId"] == "ann"


def test_single_value_query_alone_is_read(token_function: FunctionUnderTest) -> None:
    """API Gateway v1 with multiValueQueryStringParameters null, and no raw query at all."""
    event = api_gateway_v1_event(query={"clientId": "gus"})
    event["multiValueQueryStringParameters"] = None
    assert token_function(event).json["clientId"] == "gus"


def test_an_event_without_query_or_headers_is_a_plain_get(token_function: FunctionUnderTest) -> None:
    result = token_function({"httpMethod": "GET"})
    assert result.status == 200
    assert result.json["clientId"] == "NO_CLIENT_ID"


@pytest.mark.parametrize("method", ["get", "Post"])
def test_methods_are_case_insensitive(token_function: FunctionUnderTest, method: str) -> None:
    result = token_function(netlify_event(method, headers={"content-type": "application/json"}, body="{}"))
    assert result.status == 200
    assert result.log_lines[0]["method"] == method.upper()


def test_the_v1_method_wins_over_the_v2_one(token_function: FunctionUnderTest) -> None:
    event = {**function_url_event("DELETE"), "httpMethod": "GET"}
    assert token_function(event).status == 200


def test_a_get_never_reads_its_client_id_from_a_body(token_function: FunctionUnderTest) -> None:
    """Only a POST carries the clientId in its body (ably-js authMethod 'POST'); a GET's body is ignored."""
    event = netlify_event(
        query={"clientId": "ann"},
        headers={"content-type": "application/x-www-form-urlencoded"},
        body="clientId=mallory",
    )
    assert token_function(event).json["clientId"] == "ann"
    del event["multiValueQueryStringParameters"]
    event["rawQuery"] = ""
    assert token_function(event).json["clientId"] == "NO_CLIENT_ID"


def test_a_post_with_an_empty_body_uses_the_query(token_function: FunctionUnderTest) -> None:
    event = netlify_event("POST", query={"clientId": "ann"}, headers={"content-type": "text/plain"}, body="")
    assert token_function(event).json["clientId"] == "ann"


def test_a_post_repeating_the_query_client_id_in_its_body_is_served(
    token_function: FunctionUnderTest,
) -> None:
    event = netlify_event(
        "POST",
        query={"clientId": "ann"},
        headers={"content-type": "application/x-www-form-urlencoded"},
        body="clientId=ann&clientId=ann&ttl=5",
    )
    body = token_function(event).json
    assert body["clientId"] == "ann"
    assert body["mac"] == expected_mac(body, KEY_SECRET)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/x-www-form-urlencoded", "clientId=&ttl=5"), ("application/json", '{"clientId": null}')],
)
def test_a_blank_client_id_in_a_post_body_means_none(
    token_function: FunctionUnderTest, content_type: str, body: str
) -> None:
    result = token_function(netlify_event("POST", headers={"content-type": content_type}, body=body))
    assert result.json["clientId"] == "NO_CLIENT_ID"


def blank_beside_a_name_in_the_raw_query() -> dict[str, Any]:
    event = function_url_event()
    event["rawQueryString"] = "clientId=ann&clientId="
    return event


BLANK_BESIDE_A_NAME = {
    "netlify-query": netlify_event(query={"clientId": ["ann", ""]}),
    "function-url-query": blank_beside_a_name_in_the_raw_query(),
    "query-and-body": netlify_event(
        "POST",
        query={"clientId": "ann"},
        headers={"content-type": "application/x-www-form-urlencoded"},
        body="clientId=",
    ),
}


@pytest.mark.parametrize("event", BLANK_BESIDE_A_NAME.values(), ids=BLANK_BESIDE_A_NAME.keys())
def test_a_blank_client_id_beside_a_name_is_a_conflict_whatever_the_front_door(
    token_function: FunctionUnderTest, event: dict[str, Any]
) -> None:
    """The caller said two things; neither is guessed, and every front door answers the same."""
    assert token_function(event).status == 400


def test_a_post_body_without_a_client_id_keeps_the_querys(token_function: FunctionUnderTest) -> None:
    event = netlify_event(
        "POST",
        query={"clientId": "ann"},
        headers={"content-type": "application/x-www-form-urlencoded"},
        body="ttl=5&capability=x",
    )
    assert token_function(event).json["clientId"] == "ann"


def test_the_entry_point_hands_event_and_context_to_the_function(
    token_function: FunctionUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """handler.handler is what Netlify and Lambda call: the same answer, the same log line."""
    monkeypatch.setattr(handler, "_function", token_function.function)
    response = handler.handler(function_url_event(query={"clientId": "ann"}), {"awsRequestId": "entry-1"})
    assert json.loads(response["body"])["clientId"] == "ann"
    token_function.log.seek(0)
    assert json.loads(token_function.log.readline())["request_id"] == "entry-1"


def test_a_post_without_a_body_is_served(token_function: FunctionUnderTest) -> None:
    """ably-js may POST with no authParams at all: no body, no content type."""
    assert token_function(netlify_event("POST", query={"clientId": "ann"})).json["clientId"] == "ann"

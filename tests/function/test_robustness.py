"""Thousands of odd events: the function never raises and always answers JSON with a documented status."""

import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.function.conftest import API_KEY, FunctionUnderTest

DOCUMENTED_STATUSES = {200, 204, 400, 403, 405, 413, 415, 500}

_function = FunctionUnderTest({"ABLY_API_KEY": API_KEY, "ABLY_ALLOWED_ORIGINS": "https://ok.example"})

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.printable, max_size=300),
    st.sampled_from(["*", "x" * 129, "\x00", "\ud800", "clientId=a&clientId=b", "%ff%fe"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
methods = st.one_of(
    st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "DELETE", "HEAD", "get", "TRACE", ""]), texts
)
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "multipart/form-data"]
)
query = st.dictionaries(st.sampled_from(["clientId", "ttl", "x", ""]), texts, max_size=3)


@st.composite
def events(draw: st.DrawFn) -> Any:
    event: dict[str, Any] = {}
    if draw(st.booleans()):
        event["httpMethod"] = draw(methods)
    else:
        event["requestContext"] = {"http": {"method": draw(methods)}}
    optional_fields = {
        "headers": st.fixed_dictionaries(
            {},
            optional={
                "content-type": content_types,
                "origin": st.sampled_from(["https://ok.example", "https://no.example"]) | texts,
                "host": texts,
            },
        ),
        "multiValueHeaders": st.dictionaries(texts, st.lists(texts, max_size=2), max_size=2),
        "queryStringParameters": query | st.none(),
        "multiValueQueryStringParameters": st.dictionaries(
            st.just("clientId"), st.lists(texts, max_size=3), max_size=1
        )
        | st.none(),
        "rawQuery": texts,
        "body": st.one_of(st.none(), texts, st.integers(1, 40_000).map(lambda n: "clientId=" + "a" * n)),
        "isBase64Encoded": st.booleans(),
    }
    for name, strategy in optional_fields.items():
        if draw(st.booleans()):
            event[name] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        event[draw(st.sampled_from(["headers", "body", "requestContext", "rawQuery"]))] = draw(json_values)
    return event


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=st.one_of(events(), json_values))
def test_any_event_gets_a_json_answer_with_a_documented_status(event: Any) -> None:
    result = _function(event)

    assert result.status in DOCUMENTED_STATUSES
    if result.status == 204:
        assert result.response["body"] == ""
        return
    assert result.headers["Content-Type"] == "application/json"
    body = json.loads(result.response["body"])
    assert isinstance(body, dict)
    if result.status == 200:
        assert {"keyName", "mac", "nonce", "timestamp", "clientId"} <= set(body)
    else:
        assert body["error"]["statusCode"] == result.status
        assert isinstance(body["error"]["message"], str)

"""Thousands of odd events: the function never raises and always answers JSON with a documented status."""

import base64
import json
import os
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.function.conftest import API_KEY, FunctionUnderTest
from tests.function.events import netlify_event

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


# `make mutation` runs this for every mutant the function's requests reach: there a sample of 100 events,
# drawn from a fixed seed (scripts/mutation.py), keeps the run to minutes and its score repeatable.
FUZZ_EXAMPLES = 100 if os.environ.get("MUTATION_RUN") else 3000


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


HOSTILE_JSON = {
    "nested-arrays": "[" * 1000 + "]" * 1000,
    "unclosed-arrays": "[" * 16_000,
    "nested-in-client-id": '{"clientId": ' + "[" * 1000 + "]" * 1000 + "}",
    "nested-objects": '{"a":' * 1000 + "1" + "}" * 1000,
}


@pytest.mark.parametrize("body", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_hostile_json_bodies_are_400_not_500(body: str) -> None:
    event = netlify_event("POST", headers={"content-type": "application/json"}, body=body)
    result = _function(event)
    assert result.status == 400
    assert result.json["error"]["code"] == 40000
    assert [line["outcome"] for line in result.log_lines] == ["BadRequest"]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = json.dumps({"clientId": "[" * 60 + "{" * 60})
    event = netlify_event("POST", headers={"content-type": "application/json"}, body=body)
    assert _function(event).json["clientId"] == "[" * 60 + "{" * 60


def test_a_deeply_nested_identity_context_is_400() -> None:
    user = base64.b64encode(("[" * 1000 + "]" * 1000).encode()).decode()
    context = {"clientContext": {"custom": {"netlify": user}}}
    assert _function(netlify_event(), context).status == 400

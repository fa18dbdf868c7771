"""Each limit in ably_token_request/limits.py, at its exact edge: the last value served, the first refused."""

import base64
import json
from collections.abc import Callable

import pytest

from tests.function.conftest import API_KEY, FunctionUnderTest
from tests.function.events import netlify_event

MAX_BODY_BYTES = 16_384
MAX_JSON_DEPTH = 8
MAX_CAPABILITY_BYTES = 16_384
FORM = {"content-type": "application/x-www-form-urlencoded"}


def form_body(size: int, filler: str = "a") -> bytes:
    """`clientId=ann&pad=...`, exactly `size` bytes of UTF-8 long."""
    head = b"clientId=ann&pad="
    pad = (filler * size).encode()[: size - len(head)]
    body = head + pad
    assert len(body) == size
    return body


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY_BYTES, 200), (MAX_BODY_BYTES + 1, 413)])
def test_body_bytes(token_function: FunctionUnderTest, size: int, status: int) -> None:
    result = token_function(netlify_event("POST", headers=FORM, body=form_body(size).decode()))
    assert result.status == status


def test_body_size_counts_bytes_not_characters(token_function: FunctionUnderTest) -> None:
    """8,193 two-byte characters: fewer characters than the limit, more bytes."""
    body = "clientId=ann&pad=" + "é" * 8_192
    assert len(body) < MAX_BODY_BYTES < len(body.encode())
    assert token_function(netlify_event("POST", headers=FORM, body=body)).status == 413


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY_BYTES, 200), (MAX_BODY_BYTES + 1, 413)])
def test_base64_body_bytes_are_counted_after_decoding(
    token_function: FunctionUnderTest, size: int, status: int
) -> None:
    event = netlify_event("POST", headers=FORM, body=form_body(size), base64_body=True)
    assert len(event["body"]) > MAX_BODY_BYTES  # base64 is a third longer than what it carries
    assert token_function(event).status == status


@pytest.mark.parametrize(("length", "status"), [(2 * MAX_BODY_BYTES, 400), (2 * MAX_BODY_BYTES + 1, 413)])
def test_an_encoded_body_over_twice_the_limit_is_refused_before_decoding(
    token_function: FunctionUnderTest, length: int, status: int
) -> None:
    """Base64 grows a body by a third: twice the limit is allowance enough; beyond it nothing is decoded."""
    event = netlify_event("POST", headers=FORM, body="clientId=ann")
    event.update(isBase64Encoded=True, body="%" * length)  # not base64 at all: decoding it would say so
    assert token_function(event).status == status


def nested_client_id_body(depth: int) -> str:
    """A JSON object whose deepest value sits `depth` levels down (the object itself is the first)."""
    return '{"clientId": "ann", "a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize(("depth", "status"), [(MAX_JSON_DEPTH, 200), (MAX_JSON_DEPTH + 1, 400)])
def test_json_body_nesting(token_function: FunctionUnderTest, depth: int, status: int) -> None:
    body = nested_client_id_body(depth)
    result = token_function(netlify_event("POST", headers={"content-type": "application/json"}, body=body))
    assert result.status == status


def test_nesting_is_depth_not_count(token_function: FunctionUnderTest) -> None:
    """Many siblings, each as deep as allowed, are fine: closing a bracket goes back up a level."""
    siblings = ", ".join(f'"s{i}": {{"a": ' + "[" * 6 + "]" * 6 + "}" for i in range(20))
    body = '{"clientId": "ann", ' + siblings + "}"
    result = token_function(netlify_event("POST", headers={"content-type": "application/json"}, body=body))
    assert result.json["clientId"] == "ann"


def capability(size: int, channel_char: str = "a") -> str:
    """A valid ABLY_TOKEN_CAPABILITY exactly `size` bytes of UTF-8 long."""
    head, tail = '{"chat:*":["publish"],"', '":["subscribe"]}'
    room = size - len(head.encode()) - len(tail.encode())
    text = head + channel_char * (room // len(channel_char.encode())) + tail
    assert len(text.encode()) == size
    return text


@pytest.mark.parametrize(("size", "status"), [(MAX_CAPABILITY_BYTES, 200), (MAX_CAPABILITY_BYTES + 1, 500)])
def test_capability_bytes(make_function: Callable[..., FunctionUnderTest], size: int, status: int) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_CAPABILITY=capability(size))
    result = function(netlify_event())
    assert result.status == status
    if status == 500:
        message = result.json["error"]["message"]
        assert message.startswith("ABLY_TOKEN_CAPABILITY is longer than 16384 bytes.")


def test_capability_size_counts_bytes_not_characters(make_function: Callable[..., FunctionUnderTest]) -> None:
    text = capability(MAX_CAPABILITY_BYTES + 1, channel_char="é")
    assert len(text) < MAX_CAPABILITY_BYTES
    assert make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_CAPABILITY=text)(netlify_event()).status == 500


@pytest.mark.parametrize(("depth", "status"), [(MAX_JSON_DEPTH, 200), (MAX_JSON_DEPTH + 1, 500)])
def test_capability_nesting(make_function: Callable[..., FunctionUnderTest], depth: int, status: int) -> None:
    """The capability's own two levels (object, list) count: a deeper one is refused whatever it holds."""
    nested = '{"chat:*": ["publish"], "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    json.loads(nested)
    result = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_CAPABILITY=nested)(netlify_event())
    if status == 200:  # deep enough to pass the depth check, and then refused for its shape
        assert "nested" not in result.json["error"]["message"]
    else:
        assert result.json["error"]["message"].startswith(
            "ABLY_TOKEN_CAPABILITY is nested deeper than 8 levels."
        )


def test_identity_context_nesting(token_function: FunctionUnderTest) -> None:
    def context(depth: int) -> object:
        user = '{"user": {"sub": "u-1", "a": ' + "[" * (depth - 2) + "]" * (depth - 2) + "}}"
        return {"clientContext": {"custom": {"netlify": base64.b64encode(user.encode()).decode()}}}

    assert token_function(netlify_event(), context(MAX_JSON_DEPTH)).json["clientId"] == "u-1"
    assert token_function(netlify_event(), context(MAX_JSON_DEPTH + 1)).status == 400


def _segment(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_jwt_is_as_short_as_its_claims_allow(make_function: Callable[..., FunctionUnderTest]) -> None:
    """A JWT travels in a header with a size limit: compact JSON, and UTF-8 rather than \\u escapes."""
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_FORMAT="jwt")
    token = function(netlify_event(query={"clientId": "zoë-日本"})).response["body"]
    header, payload, _ = token.split(".")
    assert _segment(header) == b'{"alg":"HS256","kid":"testApp.testKey","typ":"JWT"}'
    claims = json.loads(_segment(payload))
    assert _segment(payload) == json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    assert "zoë-日本".encode() in _segment(payload)

"""One structured line per request, and never the secret or the mac."""

from collections.abc import Callable

import pytest

from tests.function.conftest import API_KEY, KEY_SECRET, FunctionUnderTest, SecretLeaked, check_no_secret
from tests.function.events import function_url_event, netlify_event


def test_one_structured_line_per_request(token_function: FunctionUnderTest) -> None:
    result = token_function(function_url_event(query={"clientId": "alice"}))

    assert len(result.log_lines) == 1
    line = result.log_lines[0]
    assert line["message"] == "token request"
    assert line["level"] == "INFO"
    assert line["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert line["method"] == "GET"
    assert line["client_id"] == "alice"
    assert line["outcome"] == "issued"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)


def test_refusals_are_logged_with_their_reason(token_function: FunctionUnderTest) -> None:
    result = token_function(netlify_event("DELETE"))
    assert [line["outcome"] for line in result.log_lines] == ["MethodNotAllowed"]
    assert result.log_lines[0]["status"] == 405


def test_the_mac_is_never_logged(token_function: FunctionUnderTest) -> None:
    result = token_function(netlify_event(query={"clientId": "alice"}))
    mac = result.json["mac"]
    assert all(mac not in str(line) for line in result.log_lines)


def test_a_misconfigured_function_logs_each_request(make_function: Callable[..., FunctionUnderTest]) -> None:
    result = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_TTL_MS="x")(netlify_event())
    assert result.log_lines[-1]["outcome"] == "ConfigurationError"


def test_the_leak_check_would_catch_a_leak() -> None:
    with pytest.raises(SecretLeaked):
        check_no_secret(f'{{"body": "{KEY_SECRET}"}}', (KEY_SECRET,))

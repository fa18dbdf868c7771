"""One structured line per request, and never the secret or the mac."""

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from ably_token_request.app import MisconfiguredFunction
from tests.function.conftest import (
    API_KEY,
    FUNCTION_DIR,
    KEY_NAME,
    KEY_SECRET,
    FunctionUnderTest,
    SecretLeaked,
    check_no_secret,
)
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


def test_a_misconfigured_function_logs_one_line_per_request_with_its_id(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_TTL_MS="x")
    for _ in range(2):
        result = function(function_url_event())
        (line,) = result.log_lines
        assert line["level"] == "ERROR"
        assert line["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        assert line["outcome"] == "ConfigurationError"
        assert line["status"] == 500
        assert "ABLY_TOKEN_TTL_MS" in line["error"]


def test_an_unexpected_failure_logs_one_line_with_the_key_scrubbed_from_the_traceback(
    token_function: FunctionUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def leaky_sign(*args: object, **kwargs: object) -> dict[str, str | int]:
        raise RuntimeError(f"could not sign with {API_KEY} (parts {KEY_NAME!r}, {KEY_SECRET!r})")

    assert not isinstance(token_function.function, MisconfiguredFunction)
    monkeypatch.setattr(token_function.function.signer, "sign", leaky_sign)
    token_function.secrets = (KEY_SECRET, KEY_NAME)

    result = token_function(function_url_event(query={"clientId": "alice"}))

    assert result.status == 500
    assert result.json["error"]["message"] == "The token function failed unexpectedly; see its logs."
    (line,) = result.log_lines
    assert line["level"] == "ERROR"
    assert line["outcome"] == "InternalError"
    assert line["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert "RuntimeError: could not sign with [redacted]" in line["exception"]


def fresh_start(environ: dict[str, str]) -> tuple[dict[str, object], str]:
    """Import handler.py in a new interpreter with only this configuration; its answer and all it printed."""
    script = (
        "import json, handler\n"
        "event = {'httpMethod': 'GET', 'headers': {}, 'requestContext': {'requestId': 'r-9'}}\n"
        "print('RESPONSE', json.dumps(handler.handler(event, None)))\n"
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
    output = completed.stdout + completed.stderr
    response = json.loads(output.split("RESPONSE ", 1)[1].splitlines()[0])
    return response, output


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POWERTOOLS_LOG_LEVEL", f"LOUD{KEY_SECRET}"),
        ("POWERTOOLS_LOGGER_SAMPLE_RATE", f"often{KEY_SECRET}"),
        ("ABLY_TOKEN_CAPABILITY", '{"c":[["publish"]]}'),
        ("ABLY_TOKEN_CAPABILITY", '{"c":' + "[" * 5000 + "]" * 5000 + "}"),
    ],
    ids=["log-level", "sample-rate", "non-string-operation", "deep-capability"],
)
def test_configuration_that_crashed_at_import_is_the_documented_500(variable: str, value: str) -> None:
    response, output = fresh_start({variable: value})
    body = json.loads(str(response["body"]))
    assert response["statusCode"] == 500
    assert variable in body["error"]["message"]
    assert KEY_SECRET not in output
    (line,) = [json.loads(text) for text in output.splitlines() if text.startswith("{")]
    assert line["request_id"] == "r-9"
    assert line["outcome"] == "ConfigurationError"


def test_the_leak_check_would_catch_a_leak() -> None:
    with pytest.raises(SecretLeaked):
        check_no_secret(f'{{"body": "{KEY_SECRET}"}}', (KEY_SECRET,))

"""One structured line per request, and never the secret or the mac."""

import io
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools import Logger

from ably_token_request.api_key import ApiKey
from ably_token_request.app import MisconfiguredFunction, TokenFunction
from handler import create_function
from tests.function.conftest import (
    API_KEY,
    FUNCTION_DIR,
    KEY_NAME,
    KEY_SECRET,
    FunctionUnderTest,
    SecretLeaked,
    check_no_secret,
)
from tests.function.events import api_gateway_v1_event, function_url_event, netlify_event


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


@contextmanager
def redirected(handler: logging.StreamHandler[Any]) -> Iterator[io.StringIO]:
    """What the handler writes, kept; its own stream (perhaps one an earlier pytest run closed) set back."""
    previous, handler.stream = handler.stream, io.StringIO()
    try:
        yield handler.stream
    finally:
        handler.stream = previous


@contextmanager
def production_log(environ: dict[str, str]) -> Iterator[tuple[Callable[..., Any], io.StringIO]]:
    """The function as handler.py makes it, with Powertools' own logger, its output kept."""
    function = create_function(environ=environ)
    handler = cast(Logger, function.logger).registered_handler
    assert isinstance(handler, logging.StreamHandler)
    with redirected(handler) as stream:
        yield function, stream


def unique() -> str:
    """A service name of its own: Powertools configures a logger once per name and process."""
    return f"ably-token-request-{uuid.uuid4().hex}"


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("named", [False, True])
def test_each_line_is_one_flat_json_object_naming_the_service(named: bool) -> None:
    """POWERTOOLS_SERVICE_NAME, else ably-token-request: what a log search filters on."""
    service = unique() if named else "ably-token-request"
    configured = {"POWERTOOLS_SERVICE_NAME": service} if named else {}
    with production_log({"ABLY_API_KEY": API_KEY, **configured}) as (function, stream):
        function(function_url_event(query={"clientId": "ann"}), None)
    (line,) = lines(stream)
    assert stream.getvalue() == json.dumps(line, separators=(",", ":")) + "\n"  # compact, one line
    assert set(line) == {
        "level",
        "timestamp",
        "message",
        "service",
        "request_id",
        "method",
        "client_id",
        "outcome",
        "status",
        "duration_ms",
    }
    assert line["service"] == service
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() == timedelta(0)


def test_the_log_level_setting_is_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    """At ERROR, the requests the function answers write nothing; one it fails still does."""
    environ = {"ABLY_API_KEY": API_KEY, "POWERTOOLS_LOG_LEVEL": "error", "POWERTOOLS_SERVICE_NAME": unique()}
    with production_log(environ) as (function, stream):
        function(function_url_event(), None)
        function(function_url_event("PUT"), None)
        monkeypatch.setattr(function, "signer", None)
        function(function_url_event(), None)
    assert [(line["level"], line["outcome"]) for line in lines(stream)] == [("ERROR", "InternalError")]


def test_when_powertools_refuses_its_settings_the_fallback_logger_writes_the_line_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Powertools reads POWERTOOLS_* itself and may raise: the function still answers and logs, once."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_SAMPLE_RATE", "often")
    # Lambda's runtime may raise the root logger's level (AWS_LAMBDA_LOG_LEVEL): the line still goes out.
    monkeypatch.setattr(logging.getLogger(), "level", logging.CRITICAL)
    # As in a new execution environment: the first start-up that needs the fallback logger makes it, once.
    monkeypatch.setattr(logging.getLogger("ably-token-request.fallback"), "handlers", [])
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    function = create_function(environ={"ABLY_API_KEY": API_KEY, "POWERTOOLS_SERVICE_NAME": unique()})
    again = create_function(environ={"ABLY_API_KEY": API_KEY, "POWERTOOLS_SERVICE_NAME": unique()})
    response = function(function_url_event(), None)
    again(function_url_event(), None)
    message = json.loads(response["body"])["error"]["message"]
    assert message.startswith("Powertools could not create its logger from the POWERTOOLS_* variables")
    assert isinstance(sys.stderr, io.StringIO)
    line, _ = (json.loads(text) for text in sys.stderr.getvalue().splitlines())
    assert (line["level"], line["outcome"], line["error"]) == ("ERROR", "ConfigurationError", message)
    assert not caplog.records  # not also handed to the root logger, which Lambda's runtime prints again


def test_the_lambda_request_id_comes_from_the_context(token_function: FunctionUnderTest) -> None:
    context = SimpleNamespace(aws_request_id="lambda-request-1")
    result = token_function(function_url_event(), context)
    assert result.log_lines[0]["request_id"] == "lambda-request-1"


@pytest.mark.parametrize(
    ("event", "request_id"),
    [
        (api_gateway_v1_event(), "v1-request-id"),
        ({**netlify_event(), "requestContext": {"requestId": 7}}, None),
        (["not", "an", "event"], None),
    ],
    ids=["api-gateway-v1", "not-a-string", "not-an-event"],
)
def test_the_request_id_falls_back_to_the_front_doors(
    token_function: FunctionUnderTest, event: object, request_id: str | None
) -> None:
    line = token_function(event).log_lines[0]
    assert line.get("request_id") == request_id


def test_a_line_for_an_unreadable_event_has_no_method(token_function: FunctionUnderTest) -> None:
    line = token_function({"httpMethod": "G3T", "requestContext": {"requestId": "r-2"}}).log_lines[0]
    assert (line["request_id"], line["outcome"], line["status"]) == ("r-2", "BadRequest", 400)
    assert "method" not in line


def test_a_misconfigured_function_still_logs_the_method(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_TTL_MS="x")
    assert function(netlify_event("POST", body="")).log_lines[0]["method"] == "POST"
    assert "method" not in function(["not", "an", "event"]).log_lines[0]


def test_an_unexpected_failure_before_the_key_is_read_is_logged_as_it_is(
    aws: None, make_function: Callable[..., FunctionUnderTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no key read yet there is nothing to scrub: the traceback is logged whole."""
    function = make_function(ABLY_API_KEY_SECRET_ID="never-read")

    def broken_read() -> None:
        raise RuntimeError("store\nunreachable")

    monkeypatch.setattr(function.function, "read_key", broken_read)
    (line,) = function(function_url_event()).log_lines
    assert line["outcome"] == "InternalError"
    assert line["exception"].startswith('Traceback (most recent call last):\n  File "')
    assert line["exception"].endswith("RuntimeError: store\nunreachable\n")


def test_a_misconfigured_function_logs_the_lambda_request_id(
    make_function: Callable[..., FunctionUnderTest],
) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_TOKEN_TTL_MS="x")
    line = function(netlify_event(), SimpleNamespace(aws_request_id="lambda-request-2")).log_lines[0]
    assert line["request_id"] == "lambda-request-2"


def test_a_key_read_before_is_scrubbed_from_a_later_failure(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    """A warm-up (or a request) read the key; a later read fails with the key in its error: not logged."""
    name = f"/ably-token-request/scrub-{uuid.uuid4().hex}"
    boto3.client("ssm", region_name="eu-west-1").put_parameter(Name=name, Value=API_KEY, Type="SecureString")
    function = make_function(ABLY_API_KEY_SSM_PARAMETER=name)
    assert isinstance(function.function, TokenFunction)
    read_key = function.function.read_key

    def leaky_read() -> ApiKey:
        raise RuntimeError(f"could not parse {API_KEY}")

    for first in (function_url_event(query={"warmup": "1"}), function_url_event()):
        function.function.read_key = read_key
        function.function._key = None
        assert function(first).status in (200, 204)
        function.function.read_key = leaky_read
        (line,) = function(function_url_event()).log_lines
        assert "RuntimeError: could not parse [redacted]:[redacted]" in line["exception"]


def test_the_duration_is_the_calls_own_in_milliseconds(
    token_function: FunctionUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(token_function.function, TokenFunction)
    signer = token_function.function.signer
    sign = signer.sign

    def slow_sign(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return sign(*args, **kwargs)

    monkeypatch.setattr(signer, "sign", slow_sign)
    started = time.perf_counter()
    result = token_function(function_url_event())
    wall_ms = (time.perf_counter() - started) * 1000
    duration = result.log_lines[0]["duration_ms"]
    assert 50 <= duration <= wall_ms
    assert duration == round(duration, 3)  # to the microsecond


def test_a_request_id_that_is_not_text_is_logged_as_text(token_function: FunctionUnderTest) -> None:
    """A runtime (or a test harness) may hand over a UUID object: the line is still written."""
    request_id = uuid.UUID("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
    line = token_function(netlify_event(), {"awsRequestId": request_id}).log_lines[0]
    assert line["request_id"] == str(request_id)

"""Run the token function with its log kept; every answer and log line is checked for the secret."""

import io
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import handler
from ably_token_request.log_format import powertools_logger
from handler import create_function

KEY_NAME = "testApp.testKey"
KEY_SECRET = "Zq9s3cr3tValueThatMustNeverLeak_0123456789"
API_KEY = f"{KEY_NAME}:{KEY_SECRET}"
# The function the tests import (under `make mutation`, the mutated copy), for the tests that start it afresh.
FUNCTION_DIR = Path(handler.__file__).resolve().parent

_logger_ids = itertools.count()


class SecretLeaked(AssertionError):
    pass


@dataclass
class Invocation:
    response: dict[str, Any]
    log_lines: list[dict[str, Any]]

    @property
    def status(self) -> int:
        status: int = self.response["statusCode"]
        return status

    @property
    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = self.response["headers"]
        return headers

    @property
    def json(self) -> Any:
        return json.loads(self.response["body"])


@dataclass
class FunctionUnderTest:
    """The function as a fresh execution environment would build it, with its log kept."""

    environ: dict[str, str]
    secrets: tuple[str, ...] = (KEY_SECRET,)
    log: io.StringIO = field(default_factory=io.StringIO)

    def __post_init__(self) -> None:
        # Powertools shares one logging.Logger per service name: a fresh name keeps each log apart.
        service = f"ably-token-request-test-{next(_logger_ids)}"
        logger = powertools_logger("INFO", service=service, handler=logging.StreamHandler(self.log))
        self.function = create_function(logger, self.environ)

    def __call__(self, event: object, context: object = None) -> Invocation:
        start = self.log.tell()
        response = self.function(event, context)
        self.log.seek(start)
        text = self.log.read()
        check_no_secret(json.dumps(response), self.secrets)
        check_no_secret(text, self.secrets)
        lines = [json.loads(line) for line in text.split("\n") if line]
        return Invocation(response, lines)


def check_no_secret(text: str, secrets: tuple[str, ...]) -> None:
    for secret in secrets:
        if secret in text:
            raise SecretLeaked("the key secret appeared in a response or a log line")


@pytest.fixture
def make_function() -> Callable[..., FunctionUnderTest]:
    def make(secrets: tuple[str, ...] = (KEY_SECRET,), **environ: str) -> FunctionUnderTest:
        return FunctionUnderTest(environ, secrets)

    return make


@pytest.fixture
def token_function(make_function: Callable[..., FunctionUnderTest]) -> FunctionUnderTest:
    return make_function(ABLY_API_KEY=API_KEY)

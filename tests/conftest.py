"""Fixtures and output hooks shared by every test area."""

import importlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from ably_local import LocalAbly
from ably_local.testing import running_service

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# The token function configures itself when imported, as Lambda does, and test modules import it at
# collection for `create_function` (each test builds its own function from an explicit environment). With
# no key around, that import would log "token function misconfigured" at ERROR level, which reads like a
# failure while nothing failed; so collection imports it once with a throwaway key instead.
IMPORT_TIME_KEY = "collection.import:keyUsedOnlyWhileTheTestsImportTheHandler"
_session_started = time.time()


def pytest_configure(config: pytest.Config) -> None:
    preset = "ABLY_API_KEY" in os.environ
    os.environ.setdefault("ABLY_API_KEY", IMPORT_TIME_KEY)
    try:
        importlib.import_module("handler")
    finally:
        if not preset:
            del os.environ["ABLY_API_KEY"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where this run's screenshots and timings went, so nobody has to know the folder."""
    written = sorted(
        path.name
        for path in ARTIFACTS.glob("*")
        if path.is_file() and path.stat().st_mtime >= _session_started
    )
    if written:
        terminalreporter.write_sep("-", "artifacts")
        terminalreporter.write_line(f"Screenshots and timings from this run are in {ARTIFACTS}/:")
        terminalreporter.write_line("  " + ", ".join(written))


@pytest.fixture
def local_ably() -> Iterator[LocalAbly]:
    """A running local Ably with a generated key, on its own thread so sync and async tests can use it."""
    with running_service() as service:
        yield service


AWS_REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-memory AWS with fake credentials, for the SSM and Secrets Manager key paths."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield

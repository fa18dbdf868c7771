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

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
# The token function configures itself when imported, as Lambda does, and test modules import it at
# collection for `create_function` (each test builds its own function from an explicit environment). With
# no key around, that import would log "token function misconfigured" at ERROR level, which reads like a
# failure while nothing failed; so collection imports it once with a throwaway key instead.
IMPORT_TIME_KEY = "collection.import:keyUsedOnlyWhileTheTestsImportTheHandler"
_session_started = time.time()


def outdated_compiled_modules(package: Path) -> list[str]:
    """Modules edited (or deleted) since setup.py compiled them: Python imports the .so, not the edit."""
    outdated = []
    for built in package.glob("*.so"):
        source = built.with_name(built.name.split(".", 1)[0] + ".py")
        if not source.exists() or source.stat().st_mtime > built.stat().st_mtime:
            outdated.append(source.name)
    return sorted(outdated)


def pytest_configure(config: pytest.Config) -> None:
    if outdated := outdated_compiled_modules(ROOT / "src" / "ably_local"):
        pytest.exit(
            f"src/ably_local: {', '.join(outdated)} changed after the core was compiled, so the tests "
            "would run the old build. `make test` (or `make test-fast`) compiles it again; to test the plain "
            "Python instead, delete src/ably_local/*.so and set ABLY_LOCAL_PURE_PYTHON=1.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
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

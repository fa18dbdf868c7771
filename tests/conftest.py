"""Fixtures shared by every test area."""

from collections.abc import Iterator

import pytest
from moto import mock_aws

from ably_local import LocalAbly
from ably_local.testing import running_service


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

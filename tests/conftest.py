"""Fixtures shared by every test area."""

from collections.abc import Iterator

import pytest

from ably_local import LocalAbly
from ably_local.testing import running_service


@pytest.fixture
def local_ably() -> Iterator[LocalAbly]:
    """A running local Ably with a generated key, on its own thread so sync and async tests can use it."""
    with running_service() as service:
        yield service

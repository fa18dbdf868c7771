"""pytest fixtures for the local Ably service, registered by installing the package (entry point `pytest11`).

- `ably_local` (session): one running service for the whole run, with its own generated key.
- `ably_app` (each test): a fresh app on that service, provisioned through its sandbox (`POST /apps`)
  from `ably_app_spec` and deleted afterwards, so tests never see each other's channels.

pytest loads an installed plugin in every run of that environment, used or not: this module imports
only pytest, and the service loads when a test first asks for a fixture. `-p no:ably_local` turns it off.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ably_local.server import LocalAbly
    from ably_local.testing import SandboxApp


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("ably_local_host", "the address the ably_local service listens on", default="127.0.0.1")
    parser.addini(
        "ably_local_port",
        "its port: 0 for any free one; 80 (as root) also lets ably-python's realtime client connect",
        default="0",
    )
    parser.addini(
        "ably_local_limits",
        "limits to change, one NAME=VALUE a line (the limits table), e.g. connection_publish_rate=500",
        type="linelist",
        default=[],
    )


@pytest.fixture(scope="session")
def ably_local(pytestconfig: pytest.Config) -> Iterator["LocalAbly"]:
    """A running local Ably service (sandbox on), shared by the session; it runs on a thread of its own, so
    sync tests and asyncio tests on any event loop can use it."""
    from ably_local.limits import limits_with
    from ably_local.testing import running_service

    host = pytestconfig.getini("ably_local_host")
    port_text = pytestconfig.getini("ably_local_port")
    try:
        port = int(port_text)
    except ValueError:
        raise pytest.UsageError(f"ably_local_port must be a port number, not {port_text!r}") from None
    try:
        limits = limits_with(pytestconfig.getini("ably_local_limits"))
    except ValueError as error:
        raise pytest.UsageError(f"ably_local_limits: {error}") from None
    with running_service(host=host, port=port, sandbox=True, limits=limits) as service:
        yield service


@pytest.fixture
def ably_app_spec() -> dict[str, Any]:
    """The app spec `ably_app` provisions (ably-common's test-app-setup.json form): override this fixture
    for other keys, capabilities, namespaces or presence fixtures."""
    return {"keys": [{}]}


@pytest.fixture
def ably_app(ably_local: "LocalAbly", ably_app_spec: dict[str, Any]) -> Iterator["SandboxApp"]:
    """A fresh app for one test: its own keys (`keys[0]` is `api_key`), channels and connections."""
    from ably_local.testing import provision_app

    app = provision_app(ably_local, ably_app_spec)
    yield app
    app.delete()

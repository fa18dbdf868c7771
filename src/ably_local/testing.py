"""The service in tests: run it on a thread of its own, and provision apps through its sandbox.

What the pytest plugin (ably_local.pytest_plugin) hands out, usable without pytest too.
"""

import asyncio
import base64
import http.client
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from ably_local.server import LocalAbly

START_TIMEOUT_S = 10
REQUEST_TIMEOUT_S = 10


@contextmanager
def running_service(**options: Any) -> Iterator[LocalAbly]:
    """A started LocalAbly on its own thread and event loop, so sync tests and any asyncio loop can use it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ably-local", daemon=True)
    thread.start()
    service = LocalAbly(**options)
    try:
        asyncio.run_coroutine_threadsafe(service.start(), loop).result(START_TIMEOUT_S)
        yield service
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT_S)
        loop.close()


class ProvisioningFailed(Exception):
    """The sandbox refused a request (an app spec, a deletion); carries Ably's error code and message."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"the sandbox answered {status}: {message} (error {code})")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class SandboxKey:
    """One of an app's keys, from the sandbox's answer."""

    name: str
    secret: str
    capability: str

    @property
    def value(self) -> str:
        return f"{self.name}:{self.secret}"


@dataclass(frozen=True)
class SandboxApp:
    """An app with its own keys, channels and connections, provisioned as an SDK's test suite provisions one.

    Its client options point at the service that holds it, like LocalAbly's, with its first key.
    """

    app_id: str
    keys: tuple[SandboxKey, ...]
    host: str
    port: int

    @property
    def api_key(self) -> str:
        return self.keys[0].value

    @property
    def key_name(self) -> str:
        return self.keys[0].name

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_options(self) -> dict[str, Any]:
        return {"endpoint": self.host, "port": self.port, "tls": False}

    def ably_python_options(self) -> dict[str, Any]:
        return {**self.client_options(), "key": self.api_key, "use_token_auth": True}

    def delete(self) -> None:
        """Remove the app (`DELETE /apps/{id}` with its first key), closing its connections."""
        basic = base64.b64encode(self.api_key.encode()).decode()
        _call(self, "DELETE", f"/apps/{self.app_id}", headers={"Authorization": f"Basic {basic}"})


class Service(Protocol):
    """Where a sandbox listens: a LocalAbly started with sandbox=True (or an app it holds)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


def provision_app(service: Service, spec: Mapping[str, Any] | None = None) -> SandboxApp:
    """A new app from an app spec in the form of ably-common's test-app-setup.json (`keys`, `namespaces`,
    `channels`); by default, one key that may do everything."""
    answer = _call(service, "POST", "/apps", spec or {})
    keys = tuple(SandboxKey(key["keyName"], key["keySecret"], key["capability"]) for key in answer["keys"])
    return SandboxApp(answer["appId"], keys, answer["endpoint"], answer["port"])


def _call(
    service: Service, method: str, path: str, body: object = None, headers: Mapping[str, str] = {}
) -> Any:
    """One JSON request to the service; http.client goes straight there, whatever proxy is configured."""
    connection = http.client.HTTPConnection(service.host, service.port, timeout=REQUEST_TIMEOUT_S)
    try:
        content = None if body is None else json.dumps(body).encode()
        kind = {"Content-Type": "application/json"} if content else {}
        connection.request(method, path, content, {"Accept": "application/json", **kind, **headers})
        response = connection.getresponse()
        text = response.read()
    finally:
        connection.close()
    answer = json.loads(text) if text else None
    if response.status >= 300:
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        raise ProvisioningFailed(response.status, error.get("code"), error.get("message", f"{method} {path}"))
    return answer

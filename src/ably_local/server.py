"""The network layer: uvicorn serving the REST API (Starlette) and the realtime WebSocket on one port.

Every WebSocket upgrade goes to `websocket.RealtimeSocket` (uvicorn's `ws` protocol setting); the protocol
work stays in RealtimeService.
"""

import asyncio
import contextlib
import gc
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ably_local.apps import Apps
from ably_local.auth import ApiKey
from ably_local.config import ServiceConfig
from ably_local.connection import Connection
from ably_local.limits import Limits
from ably_local.realtime import RealtimeService, presented_credentials
from ably_local.rest import rest_routes
from ably_local.rest.sandbox import sandbox_routes
from ably_local.websocket import Gateway

TICK_SECONDS = 0.25
KEEP_ALIVE_S = 75


def tune_gc_for_serving() -> None:
    """For server processes: keep the cyclic GC from pausing fan-out to many subscribers.

    Start-up objects are frozen out of every future collection, and the youngest generation is collected
    less often; measured with 1,000 subscribers, this cut the p99 publish-to-receive tail two to four times.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class LocalAbly:
    """An offline Ably stand-in on one host and port: WebSocket at `/` plus the REST endpoints.

    It hosts one app for `api_key` (generated when not given); with `sandbox=True` it also provisions
    more apps through `POST /apps`, as Ably's test sandbox does for the SDKs' own test suites.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sandbox: bool = False,
        **config: Any,
    ) -> None:
        key = ApiKey.parse(api_key) if api_key else ApiKey.generate()
        self.api_key = key.value
        self.key_name = key.name
        self.host = host
        self.port = port
        self.apps = Apps(ServiceConfig(**config))
        self.service = self.apps.add(key.app_id, [key])
        routes: list[BaseRoute] = [*sandbox_routes(self.apps, self)] if sandbox else []
        self.asgi_app = Starlette(routes=[*routes, *rest_routes(self.apps)])
        # uvicorn's `ws` setting: every WebSocket upgrade on a server running asgi_app goes here.
        self.websocket_protocol = Gateway(self).protocol_class()
        # Which Host headers a WebSocket handshake may carry; the dev server narrows it to loopback names.
        self.accepts_host: Callable[[str | None], bool] = lambda host: True
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._timers: asyncio.Task[None] | None = None

    @property
    def limits(self) -> Limits:
        return self.service.limits

    def open(self, params: dict[str, str]) -> tuple[RealtimeService, Connection]:
        """Open a realtime connection on the app the credentials belong to."""
        key, token = presented_credentials(params)
        if key:
            service = self.apps.for_key(key)
        elif token:
            service = self.apps.for_token(token)
        else:
            service = self.service  # which refuses it with Ably's "no credentials" error
        return service, service.open(params)

    def refusal(self, request: Request) -> Response | None:
        """A WebSocket handshake for a host this server does not answer is refused (403)."""
        if self.accepts_host(request.headers.get("Host")):
            return None
        text = b"This server answers WebSocket handshakes only for its own host names.\n"
        headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
        return Response(403, "Forbidden", headers, text)

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_options(self) -> dict[str, Any]:
        return {"endpoint": self.host, "port": self.port, "tls": False}

    def ably_python_options(self) -> dict[str, Any]:
        """ably-python's options with this service's key. Its REST client refuses basic auth over plain
        HTTP (40103), so the key signs TokenRequests; its realtime client ignores `port` and dials port 80."""
        return {**self.client_options(), "key": self.api_key, "use_token_auth": True}

    async def __aenter__(self) -> "LocalAbly":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        config = uvicorn.Config(
            self.asgi_app,
            host=self.host,
            port=self.port,
            ws=self.websocket_protocol,
            log_level="warning",
            lifespan="off",
            # Clients reuse idle HTTP connections; closing one as a request arrives on it (uvicorn's 5 s
            # default, exactly a short token's renewal interval) makes the client see "socket hang up".
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self._timers = asyncio.create_task(self.run_timers())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._timers is not None:
            self._timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timers
        if self._serving is not None:
            await self._serving
        self._serving = self._timers = None

    async def run_timers(self) -> None:
        """Drive the services' timers; also used by the dev server, which mounts asgi_app itself."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            for connection in self.apps.tick():
                connection.wake()

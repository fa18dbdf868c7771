"""The network layer: Starlette routes on uvicorn, a WebSocket per connection, nothing else.

Each connection has one writer task that drains the connection's outbox, so a slow client only delays
itself; the protocol work stays in RealtimeService.
"""

import asyncio
import contextlib
import gc
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ably_local.apps import Apps
from ably_local.auth import ApiKey
from ably_local.connection import Connection
from ably_local.errors import AblyError
from ably_local.protocol import FORMATS, JSON, Action, encode_frame
from ably_local.realtime import RealtimeService, ServiceConfig
from ably_local.rest import rest_routes
from ably_local.rest.sandbox import sandbox_routes

TICK_SECONDS = 0.25
# How long a closing handshake or a last frame may take before a client that does not read is let go.
CLOSE_TIMEOUT_S = 2.0


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
        routes: list[BaseRoute] = [WebSocketRoute("/", self._realtime)]
        if sandbox:
            routes += sandbox_routes(self.apps, self)
        self.asgi_app = Starlette(routes=[*routes, *rest_routes(self.apps)])
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._timers: asyncio.Task[None] | None = None
        self._sockets: set[WebSocket] = set()

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_options(self) -> dict[str, Any]:
        return {"endpoint": self.host, "port": self.port, "tls": False}

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
            ws="websockets-sansio",
            log_level="warning",
            lifespan="off",
            ws_max_size=self.service.limits.max_frame_size,
            ws_ping_interval=None,
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
        for socket in list(self._sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(), CLOSE_TIMEOUT_S)
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

    def _open(self, params: dict[str, str]) -> tuple[RealtimeService, Connection]:
        if key := params.get("key"):
            service = self.apps.for_key(key)
        elif token := params.get("access_token") or params.get("accessToken"):
            service = self.apps.for_token(token)
        else:
            service = self.service  # which refuses it with Ably's "no credentials" error
        return service, service.open(params)

    async def _realtime(self, websocket: WebSocket) -> None:
        await websocket.accept()
        params = dict(websocket.query_params)
        try:
            service, connection = self._open(params)
        except AblyError as error:
            fmt = params.get("format", JSON)
            frame = encode_frame(
                {"action": Action.ERROR, "error": error.to_wire()}, fmt if fmt in FORMATS else JSON
            )
            with contextlib.suppress(Exception):
                await _send(websocket, frame)
                await asyncio.wait_for(websocket.close(), CLOSE_TIMEOUT_S)
            return
        self._sockets.add(websocket)
        wake = asyncio.Event()
        connection.wake = wake.set
        wake.set()  # CONNECTED is already in the outbox
        generation = connection.generation
        writer = asyncio.create_task(self._write(websocket, connection, wake, generation))
        reader = asyncio.create_task(self._read(websocket, service, connection, generation))
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._sockets.discard(websocket)
            reader.cancel()
            writer.cancel()
            frames: list[str | bytes] = []
            if connection.generation == generation:  # not taken over by a resumed transport
                frames = connection.take_outbox()
                service.transport_lost(connection)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):  # a client that never reads is let go
                    for frame in frames:
                        await _send(websocket, frame)
                    await websocket.close()

    @staticmethod
    async def _read(
        websocket: WebSocket, service: RealtimeService, connection: Connection, generation: int
    ) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect" or connection.generation != generation:
                    return
                text: str | None = message.get("text")
                if not service.receive(connection, text if text is not None else message["bytes"]):
                    return

    @staticmethod
    async def _write(
        websocket: WebSocket, connection: Connection, wake: asyncio.Event, generation: int
    ) -> None:
        """Drain the outbox until the client goes, is told to go, or resumes on another socket."""
        with contextlib.suppress(OSError, RuntimeError, WebSocketDisconnect):
            while connection.generation == generation:
                await wake.wait()
                wake.clear()
                if connection.generation != generation or connection.overflowed:
                    return
                for frame in connection.take_outbox():
                    await _send(websocket, frame)
                if connection.closing:
                    return


async def _send(websocket: WebSocket, frame: str | bytes) -> None:
    if isinstance(frame, str):
        await websocket.send_text(frame)
    else:
        await websocket.send_bytes(frame)

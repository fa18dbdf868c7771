"""The realtime WebSocket: python-websockets' sans-I/O protocol on an asyncio transport, one per client.

uvicorn serves HTTP (the REST API through Starlette) and hands every WebSocket upgrade to `RealtimeSocket`
through its `ws` protocol setting. Frames go straight to the sans-I/O service; what the service queues for a
connection is written in one go at the end of the event loop's turn, and a frame every subscriber gets is
serialised once for all of them. A client that stops reading fills its transport, then its outbox, and is
let go when the outbox passes its bound.
"""

import asyncio
import contextlib
import logging
from functools import partial
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from ably_local.connection import Connection
from ably_local.errors import AblyError
from ably_local.protocol import FORMATS, JSON, Action, encode_frame
from ably_local.realtime import RealtimeService

log = logging.getLogger("ably_local")

# How long a closing handshake may take before the socket is dropped.
CLOSE_TIMEOUT_S = 2.0
# Bytes the transport may buffer for a client before writes pause and frames wait in the outbox.
TRANSPORT_HIGH_WATER = 256 * 1024
_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class Opener(Protocol):
    """What the socket needs from the server: the service for a client's credentials, and its limits."""

    @property
    def max_frame_size(self) -> int: ...

    def open(self, params: dict[str, str]) -> tuple[RealtimeService, Connection]: ...

    def refusal(self, request: Request) -> Response | None: ...


class Gateway:
    """The sockets of one server: when one has something to write, all write at the end of the turn."""

    def __init__(self, opener: Opener) -> None:
        self.opener = opener
        self._dirty: dict[RealtimeSocket, None] = {}
        self._scheduled = False

    def protocol_class(self) -> type["RealtimeSocket"]:
        """uvicorn's `ws` setting: the class it makes a protocol of for each upgraded connection."""
        gateway = self

        class GatewaySocket(RealtimeSocket):
            def __init__(self, **uvicorn: Any) -> None:
                super().__init__(gateway, **uvicorn)

        return GatewaySocket

    def wake(self, socket: "RealtimeSocket") -> None:
        self._dirty[socket] = None
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, {}
        wires: dict[int, tuple[str | bytes, bytes]] = {}
        for socket in dirty:
            socket.flush(wires)


class RealtimeSocket(asyncio.Protocol):
    def __init__(self, gateway: Gateway, **uvicorn: Any) -> None:
        self.gateway = gateway
        self.server_state = uvicorn.get("server_state")
        self.protocol = ServerProtocol(max_size=gateway.opener.max_frame_size)
        self.transport: asyncio.Transport | None = None
        self.service: RealtimeService | None = None
        self.connection: Connection | None = None
        self.generation = -1
        self.writable = True
        self.parts: list[bytes] = []
        self.text = False

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER)
        if self.server_state is not None:
            self.server_state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.server_state is not None:
            self.server_state.connections.discard(self)
        if self._current and self.service is not None and self.connection is not None:
            self.service.transport_lost(self.connection)
        self.connection = None

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        if self.connection is not None:
            self.gateway.wake(self)

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame) and event.opcode in _DATA:
                self._frame(event)
        self._send_protocol_output()

    def shutdown(self) -> None:
        """uvicorn is stopping: say so (1001) and let the socket go without waiting for the client."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1001)
            self._send_protocol_output()
        if self.transport is not None:
            self.transport.close()
        self._drop_later()

    # --- handshake and frames --------------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        response = self.gateway.opener.refusal(request) or self.protocol.accept(request)
        self.protocol.send_response(response)
        self._send_protocol_output()
        if response.status_code != 101:
            self._drop_later()
            return
        params = dict(parse_qsl(urlsplit(request.path).query))
        try:
            self.service, self.connection = self.gateway.opener.open(params)
        except AblyError as error:
            fmt = params.get("format", JSON)
            refusal = encode_frame(
                {"action": Action.ERROR, "error": error.to_wire()}, fmt if fmt in FORMATS else JSON
            )
            self._write_now(refusal)
            self._close(1000)
            return
        self.generation = self.connection.generation
        self.connection.wake = partial(self.gateway.wake, self)
        self.gateway.wake(self)  # CONNECTED is already in the outbox

    def _frame(self, frame: Frame) -> None:
        if frame.opcode is not Opcode.CONT:
            self.text = frame.opcode is Opcode.TEXT
        self.parts.append(bytes(frame.data))
        if not frame.fin:
            return
        data = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        self.parts = []
        if not self._current or self.service is None or self.connection is None:
            return
        if self.text:
            try:
                payload: str | bytes = data.decode()
            except UnicodeDecodeError:
                self.protocol.fail(1007, "text frame is not UTF-8")
                return
        else:
            payload = data
        if not self.service.receive(self.connection, payload):
            self.connection.closing = True

    @property
    def _current(self) -> bool:
        """False once the connection was resumed on another socket (this one is a leftover)."""
        return self.connection is not None and self.connection.generation == self.generation

    # --- writing ---------------------------------------------------------------------------------------

    def flush(self, wires: dict[int, tuple[str | bytes, bytes]]) -> None:
        """Write what the connection has queued, each frame serialised once per flush for every socket."""
        connection, transport = self.connection, self.transport
        if connection is None or transport is None or transport.is_closing():
            return
        if not self._current:
            self._close(1000)
            return
        if not self.writable and not connection.overflowed:
            return  # the client is behind; frames wait in the outbox, which has its own bound
        chunks = []
        for payload in connection.take_outbox():
            cached = wires.get(id(payload))
            if cached is None:
                cached = wires[id(payload)] = (payload, _serialise(payload))
            chunks.append(cached[1])
        transport.write(b"".join(chunks))
        if connection.overflowed and self.service is not None:
            self.service.transport_lost(connection)
            self._drop_later()
        elif connection.closing:
            self._close(1000)

    def _write_now(self, payload: str | bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_serialise(payload))

    def _close(self, code: int) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code)
            self._send_protocol_output()
        self._drop_later()

    def _send_protocol_output(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            else:  # the protocol's end of stream: the server closes the TCP connection
                transport.close()
                return
        if self.protocol.state is State.CLOSED:
            transport.close()

    def _drop_later(self) -> None:
        """Give a closing handshake and the last writes a moment, then let the socket go regardless."""
        transport = self.transport
        if transport is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S, transport.abort)


def _serialise(payload: str | bytes) -> bytes:
    if isinstance(payload, str):
        return Frame(Opcode.TEXT, payload.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, payload).serialize(mask=False)

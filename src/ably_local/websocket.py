"""The realtime WebSocket on an asyncio transport, one per client.

uvicorn serves HTTP (the REST API through Starlette) and hands every WebSocket upgrade to `RealtimeSocket`
through its `ws` protocol setting. python-websockets' sans-I/O protocol answers the opening handshake; the
frames after it are read and written by `frames` and go straight to the sans-I/O service. What the service
queues for a connection is written in one go at the end of the event loop's turn, and a frame every
subscriber gets is framed once for all of them. A client that stops reading fills its transport, then its
outbox, and is let go when the outbox passes its bound; a presence SYNC too large to send at once goes out
page by page while the client keeps reading.
"""

import asyncio
import contextlib
import logging
from functools import partial
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from ably_local.connection import Connection
from ably_local.errors import AblyError
from ably_local.frames import (
    BINARY,
    CLOSE,
    GOING_AWAY,
    INVALID_DATA,
    NORMAL_CLOSURE,
    PING,
    PONG,
    PROTOCOL_ERROR,
    TEXT,
    TRY_AGAIN_LATER,
    FrameError,
    FrameReader,
    close_frame,
    frame,
)
from ably_local.limits import Limits
from ably_local.protocol import FORMATS, JSON, Action, encode_frame
from ably_local.realtime import RealtimeService

log = logging.getLogger("ably_local")

# How long a closing handshake may take before the socket is dropped.
CLOSE_TIMEOUT_S = 2.0
# Bytes the transport may buffer for a client before writes pause and frames wait in the outbox.
TRANSPORT_HIGH_WATER = 256 * 1024


class Opener(Protocol):
    """What the socket needs from the server: the service for a client's credentials, and its limits."""

    @property
    def limits(self) -> Limits: ...

    def open(self, params: dict[str, str]) -> tuple[RealtimeService, Connection]: ...

    def refusal(self, request: Request) -> Response | None: ...


class Gateway:
    """The sockets of one server: when one has something to write, all write at the end of the turn."""

    def __init__(self, opener: Opener) -> None:
        self.opener = opener
        # What every socket's frame reader keeps of messages not complete yet, against inbound_bytes_total.
        self.inbound_buffered = 0
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
        # The opening handshake's protocol; once it is answered, `frames` reads what the client sends.
        self.handshake: ServerProtocol | None = ServerProtocol()
        self.frames: FrameReader | None = None
        self.buffered = 0  # this socket's share of the gateway's inbound_buffered
        self.close_sent = False
        # A PING not yet answered because the client is not reading: only the latest is (RFC 6455 5.5.3).
        self.unanswered_ping: bytes | None = None
        self.transport: asyncio.Transport | None = None
        self.service: RealtimeService | None = None
        self.connection: Connection | None = None
        self.generation = -1
        self.writable = True

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER)
        if self.server_state is not None:
            self.server_state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.frames = None
        self._count_buffered()
        if self.server_state is not None:
            self.server_state.connections.discard(self)
        if self._current and self.service is not None and self.connection is not None:
            self.service.transport_lost(self.connection)
            self.connection.take_outbox()  # nothing more can be written (a closed connection's last frames)
        self.connection = None

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        if self.unanswered_ping is not None and not self.close_sent:
            self._write(frame(PONG, self.unanswered_ping))
            self.unanswered_ping = None
        if self.connection is not None:
            self.gateway.wake(self)

    def data_received(self, data: bytes) -> None:
        if self.frames is None:
            self._handshake_data(data)
            return
        try:
            received, fault = self.frames.feed(data), None
        except FrameError as error:
            received, fault = error.received, error
        for opcode, payload in received:
            self._received(opcode, payload)
        if fault is not None:
            self._fail(fault.code)
        self._count_buffered()
        if self.gateway.inbound_buffered > self.gateway.opener.limits.inbound_bytes_total:
            self._fail(TRY_AGAIN_LATER)  # whoever tips the total over lets go of what it sent so far
            self._count_buffered()

    def _count_buffered(self) -> None:
        buffered = 0 if self.frames is None else self.frames.buffered_bytes
        self.gateway.inbound_buffered += buffered - self.buffered
        self.buffered = buffered

    def shutdown(self) -> None:
        """uvicorn is stopping: say so (1001) and let the socket go without waiting for the client."""
        self._close(GOING_AWAY)
        if self.transport is not None:
            self.transport.close()

    # --- handshake and frames --------------------------------------------------------------------

    def _handshake_data(self, data: bytes) -> None:
        handshake = self.handshake
        if handshake is None:
            return  # a refused handshake, or a client that broke the framing: nothing more is read
        handshake.receive_data(data)
        events = handshake.events_received()
        if events and isinstance(events[0], Request):
            self._handshake(handshake, events[0], sent_early=len(events) > 1)
        else:
            self._send_handshake_output(handshake)

    def _handshake(self, handshake: ServerProtocol, request: Request, sent_early: bool) -> None:
        response = self.gateway.opener.refusal(request) or handshake.accept(request)
        handshake.send_response(response)
        self._send_handshake_output(handshake)
        if response.status_code != 101:
            self.handshake = None
            self._drop_later()
            return
        self.handshake = None
        limits = self.gateway.opener.limits
        self.frames = FrameReader(limits.max_frame_size, limits.max_frame_fragments)
        if sent_early:  # RFC 6455 4.1: a client waits for the server's answer before it sends frames
            self._close(PROTOCOL_ERROR)
            return
        params = dict(parse_qsl(urlsplit(request.path).query))
        try:
            self.service, self.connection = self.gateway.opener.open(params)
        except AblyError as error:
            fmt = params.get("format", JSON)
            refusal = encode_frame(
                {"action": Action.ERROR, "error": error.to_wire()}, fmt if fmt in FORMATS else JSON
            )
            self._write(_framed(refusal))
            self._close(NORMAL_CLOSURE)
            return
        self.generation = self.connection.generation
        self.connection.wake = partial(self.gateway.wake, self)
        self.gateway.wake(self)  # CONNECTED is already in the outbox

    def _received(self, opcode: int, payload: bytes) -> None:
        if opcode == CLOSE:  # the client's closing handshake, or its answer to ours: either way, done
            if not self.close_sent:
                self._close(NORMAL_CLOSURE)
            if self.transport is not None:
                self.transport.close()
        elif self.close_sent:
            return  # once the service has sent its CLOSE, only the client's CLOSE is read
        elif opcode == PING:
            if self.writable:
                self._write(frame(PONG, payload))
            else:  # a client that sends PINGs and reads nothing must not grow the transport's buffer
                self.unanswered_ping = payload
        elif opcode != PONG:
            self._message(opcode, payload)

    def _message(self, opcode: int, data: bytes) -> None:
        if not self._current or self.service is None or self.connection is None:
            return
        if opcode == TEXT:
            try:
                payload: str | bytes = data.decode()
            except UnicodeDecodeError:
                self._fail(INVALID_DATA)
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
        """Write what the connection has queued, each frame made once per flush for every socket."""
        connection, transport = self.connection, self.transport
        if connection is None or transport is None or transport.is_closing():
            return
        if not self._current:
            self._close(NORMAL_CLOSURE)
            return
        if not self.writable and not connection.overflowed:
            return  # the client is behind; frames wait in the outbox, which has its own bound
        if connection.syncs:
            connection.continue_syncs()  # the client keeps up: the next SYNC pages go with this write
        self._write_outbox(connection, wires)
        if connection.syncs and self.writable:
            self.gateway.wake(self)  # more pages next turn, after the other sockets had theirs
        if connection.overflowed and self.service is not None:
            self.service.transport_lost(connection)
            self._drop_later()
        elif connection.closing:
            self._close(NORMAL_CLOSURE)

    def _write_outbox(self, connection: Connection, wires: dict[int, tuple[str | bytes, bytes]]) -> None:
        chunks = []
        for payload in connection.take_outbox():
            cached = wires.get(id(payload))
            if cached is None:
                cached = wires[id(payload)] = (payload, _framed(payload))
            chunks.append(cached[1])
        self._write(b"".join(chunks))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _close(self, code: int) -> None:
        """Start the closing handshake (once); the client's CLOSE, or the timeout, ends the connection.
        What the connection has queued goes first: nothing may follow a CLOSE."""
        if self.frames is not None and not self.close_sent:
            if self.connection is not None and self._current:
                self._write_outbox(self.connection, {})
            self._write(close_frame(code))
            self.close_sent = True
        self._drop_later()

    def _fail(self, code: int) -> None:
        """The client broke the protocol: say why, close the TCP connection (RFC 6455 7.1.7), read no more."""
        self._close(code)
        self.frames = None
        if self.transport is not None:
            self.transport.close()

    def _send_handshake_output(self, handshake: ServerProtocol) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for data in handshake.data_to_send():
            if data:
                transport.write(data)
            else:  # the protocol's end of stream: the server closes the TCP connection
                transport.close()
                return

    def _drop_later(self) -> None:
        """Give a closing handshake and the last writes a moment, then let the socket go regardless."""
        transport = self.transport
        if transport is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S, transport.abort)


def _framed(payload: str | bytes) -> bytes:
    """A protocol message's frame: JSON travels in text frames, msgpack in binary ones."""
    if isinstance(payload, str):
        return frame(TEXT, payload.encode())
    return frame(BINARY, payload)

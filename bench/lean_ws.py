"""A deliberately minimal WebSocket client (RFC 6455) for load generation.

A benchmark's clients must be cheaper than the server they measure, or the figures describe the clients.
This protocol does the handshake, splits incoming frames without copying more than needed, answers pings,
and hands each text/binary payload to a callback; no fragmentation, extensions or validation.
"""

import asyncio
import base64
import os
import struct
from collections.abc import Callable

FrameHandler = Callable[[bytes], None]

_OP_TEXT = 0x1
_OP_BINARY = 0x2
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame, as RFC 6455 requires of clients."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    mask = os.urandom(4)
    masked = (
        int.from_bytes(payload, "little") ^ int.from_bytes(mask * (length // 4 + 1), "little")
    ).to_bytes(length + 4, "little")[:length]
    return header + mask + masked


class LeanWebSocket(asyncio.Protocol):
    def __init__(self, on_frame: FrameHandler) -> None:
        self.on_frame = on_frame
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b"\r\n", 1)[0]
            del buffer[: end + 4]
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self._upgraded = True
            self.opened.set_result(None)
        position, size = 0, len(buffer)
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length, header = second & 0x7F, 2
            if length == 126:
                if size - position < 4:
                    break
                length, header = struct.unpack_from("!H", buffer, position + 2)[0], 4
            elif length == 127:
                if size - position < 10:
                    break
                length, header = struct.unpack_from("!Q", buffer, position + 2)[0], 10
            end = position + header + length
            if end > size:
                break
            opcode = first & 0x0F
            if opcode in (_OP_TEXT, _OP_BINARY):
                self.on_frame(bytes(buffer[position + header : end]))
            elif opcode == _OP_PING:
                self.send(_OP_PONG, bytes(buffer[position + header : end]))
            elif opcode == _OP_CLOSE and self.transport is not None:
                self.transport.close()
            position = end
        del buffer[:position]

    def send(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(encode_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        self.send(_OP_TEXT, text.encode())

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def open_lean(host: str, port: int, target: str, on_frame: FrameHandler) -> LeanWebSocket:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: LeanWebSocket(on_frame), host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    assert protocol.transport is not None
    protocol.transport.write(
        (
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await asyncio.wait_for(protocol.opened, 30)
    return protocol

"""WebSocket frames on an open connection, the server's side of RFC 6455: bytes in, messages out.

websockets' sans-I/O protocol does the opening handshake. After it, each publish is one frame in and one or
two out, and websockets' general parser (written for both sides and every extension) took longer per frame
than the publish itself. This reads only what a server is sent once no extension is negotiated: masked
frames, fragmented messages joined up to a size and a fragment count, and control frames.
"""

from typing import Final

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

CONTINUATION: Final = 0x0
TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA

# Close codes (RFC 6455 7.4.1).
NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001
PROTOCOL_ERROR: Final = 1002
INVALID_DATA: Final = 1007
MESSAGE_TOO_BIG: Final = 1009
TRY_AGAIN_LATER: Final = 1013  # the server's condition, not the client's fault (IANA registry)

_FIN: Final = 0x80
_RESERVED: Final = 0x70
_MASKED: Final = 0x80
_MAX_CONTROL_PAYLOAD: Final = 125


class FrameError(Exception):
    """The client broke the framing rules: the connection closes with this code.

    `received` holds what the same bytes completed before the fault, which the client sent in good order."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.received: list[tuple[int, bytes]] = []


class FrameReader:
    """A client's frames as they arrive: whole TEXT and BINARY messages, and each control frame."""

    def __init__(self, max_message_bytes: int, max_fragments: int) -> None:
        self.max_message_bytes = max_message_bytes
        self.max_fragments = max_fragments
        # Bytes of a frame not complete yet, and how many bytes the next look at it needs.
        self._pending = bytearray()
        self._wanted = 0
        # The fragmented message being joined: its opcode (0 when none), its parts and their size.
        self._opcode = 0
        self._parts: list[bytes] = []
        self._parts_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """What is kept of messages not complete yet: a frame's bytes so far, and a message's fragments."""
        return len(self._pending) + self._parts_bytes

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """(opcode, payload) for each message and control frame completed by these bytes."""
        if self._pending:
            self._pending += data
            if len(self._pending) < self._wanted:
                return []
            buffer = bytes(self._pending)
            self._pending = bytearray()
        else:
            buffer = data
        received: list[tuple[int, bytes]] = []
        try:
            self._read(buffer, received)
        except FrameError as error:
            error.received = received
            raise
        return received

    def _read(self, buffer: bytes, received: list[tuple[int, bytes]]) -> None:
        """Each complete frame of the buffer into `received`; what is left waits in `_pending`."""
        start, end = 0, len(buffer)
        while True:
            available = end - start
            if available < 2:
                wanted = 2
                break
            first, second = buffer[start], buffer[start + 1]
            if not second & _MASKED:
                raise FrameError(PROTOCOL_ERROR, "a client's frames must be masked")
            if first & _RESERVED:
                raise FrameError(PROTOCOL_ERROR, "reserved bits are set, and no extension was agreed")
            length, header = second & 0x7F, 6
            if length == 126:
                if available < 4:
                    wanted = 4
                    break
                length, header = int.from_bytes(buffer[start + 2 : start + 4], "big"), 8
            elif length == 127:
                if available < 10:
                    wanted = 10
                    break
                length, header = int.from_bytes(buffer[start + 2 : start + 10], "big"), 14
            opcode, fin = first & 0x0F, bool(first & _FIN)
            self._check_size(opcode, fin, length)
            if available < header + length:
                wanted = header + length
                break
            body = start + header
            payload = apply_mask(buffer[body : body + length], buffer[body - 4 : body])
            start = body + length
            message = self._message(opcode, fin, payload)
            if message is not None:
                received.append(message)
        if start < end:
            self._pending = bytearray(buffer[start:])
            self._wanted = wanted

    def _check_size(self, opcode: int, fin: bool, length: int) -> None:
        """Refused from the header, before the payload is waited for."""
        if opcode >= CLOSE:
            if length > _MAX_CONTROL_PAYLOAD or not fin:
                raise FrameError(PROTOCOL_ERROR, "a control frame is at most 125 bytes, in one frame")
        elif self._parts_bytes + length > self.max_message_bytes:
            raise FrameError(MESSAGE_TOO_BIG, f"a message is at most {self.max_message_bytes} bytes")
        elif opcode == CONTINUATION and len(self._parts) >= self.max_fragments:
            raise FrameError(MESSAGE_TOO_BIG, f"a message comes in at most {self.max_fragments} fragments")

    def _message(self, opcode: int, fin: bool, payload: bytes) -> tuple[int, bytes] | None:
        if opcode >= CLOSE:
            if opcode not in (CLOSE, PING, PONG):
                raise FrameError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
            return opcode, payload
        if opcode == CONTINUATION:
            if not self._opcode:
                raise FrameError(PROTOCOL_ERROR, "a continuation frame with no message to continue")
            self._parts.append(payload)
            self._parts_bytes += len(payload)
            if not fin:
                return None
            whole = (self._opcode, b"".join(self._parts))
            self._opcode, self._parts, self._parts_bytes = 0, [], 0
            return whole
        if opcode not in (TEXT, BINARY):
            raise FrameError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if self._opcode:
            raise FrameError(PROTOCOL_ERROR, "a new message began before the last one ended")
        if fin:
            return opcode, payload
        self._opcode, self._parts, self._parts_bytes = opcode, [payload], len(payload)
        return None


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame, as a server sends it."""
    length = len(payload)
    if length < 126:
        return bytes((_FIN | opcode, length)) + payload
    if length < 1 << 16:
        return bytes((_FIN | opcode, 126)) + length.to_bytes(2, "big") + payload
    return bytes((_FIN | opcode, 127)) + length.to_bytes(8, "big") + payload


def close_frame(code: int) -> bytes:
    return frame(CLOSE, code.to_bytes(2, "big"))

"""uvicorn configured with the dev server's limits: request-head time and size, WebSocket frame size."""

import asyncio

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from ably_local import LocalAbly
from devserver.limits import HEADER_READ_TIMEOUT_S, MAX_HEADER_BYTES

HEAD_END = b"\r\n\r\n"
_TOO_LARGE_TEXT = f"Request line and headers over the dev server's {MAX_HEADER_BYTES}-byte limit.\n".encode()
HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\nconnection: close\r\n"
    + f"content-length: {len(_TOO_LARGE_TEXT)}\r\n\r\n".encode()
    + _TOO_LARGE_TEXT
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus: a request's head must arrive within a time and a size.

    uvicorn times out only idle kept-alive connections, and any byte resets that, so a client trickling a
    request line could hold a connection open forever; and h11 bounds only the part of a head still
    incomplete after a read, so a head arriving in one read could be several times larger. The clock runs
    from the connection opening (or the previous response) until h11 has the whole head.
    """

    header_timeout_s = HEADER_READ_TIMEOUT_S
    max_head_bytes = MAX_HEADER_BYTES
    _header_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0  # of the head being received so far
    _head_tail = b""  # its last 3 bytes, to find a terminator split across reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_next_head()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self._cancel_header_timer()
            self.transport.write(HEAD_TOO_LARGE)
            self.transport.close()
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or the connection upgraded)
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_next_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _head_too_large(self, data: bytes) -> bool:
        seen = self._head_tail + data
        end = seen.find(HEAD_END)
        size = self._head_bytes + (len(data) if end < 0 else end - len(self._head_tail) + len(HEAD_END))
        self._head_bytes = size if end < 0 else 0
        self._head_tail = seen[-3:] if end < 0 else b""
        return size > self.max_head_bytes

    def _await_next_head(self) -> None:
        self._cancel_header_timer()
        self._head_bytes, self._head_tail = 0, b""
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def server_config(app: ASGIApp, realtime: LocalAbly | None) -> uvicorn.Config:
    """WebSocket upgrades go to the local service's own protocol, which caps frames at its advertised
    maxFrameSize; without the local service, no WebSocket is accepted at all.

    The dev server is the front door, behind no proxy: a client's address is its connection's. uvicorn would
    otherwise take X-Forwarded-For from any loopback client as the address, which let one local client
    escape the per-address rate limit by writing a new one on each request."""
    return uvicorn.Config(
        app,
        http=GuardedH11Protocol,
        ws=realtime.websocket_protocol if realtime is not None else "none",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        proxy_headers=False,
        log_level="warning",
    )

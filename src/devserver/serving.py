"""uvicorn configured with the dev server's limits: header-read timeout, header size, WebSocket frames."""

import asyncio

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from ably_local import LocalAbly
from devserver.limits import HEADER_READ_TIMEOUT_S, MAX_HEADER_BYTES


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus: a request's head must arrive within HEADER_READ_TIMEOUT_S.

    uvicorn times out only idle kept-alive connections, and any byte resets that, so a client trickling a
    request line could hold a connection open forever. The timer runs from the connection opening (or the
    previous response) until h11 has the whole head, and closes the connection if it fires first.
    """

    header_timeout_s = HEADER_READ_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_next_head()

    def data_received(self, data: bytes) -> None:
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

    def _await_next_head(self) -> None:
        self._cancel_header_timer()
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
    """WebSocket frames are capped at the local service's advertised maxFrameSize.

    Without the local service no WebSocket is accepted at all (no route), so the cap does not matter then.
    """
    max_frame_bytes = realtime.service.config.max_frame_size if realtime is not None else MAX_HEADER_BYTES
    return uvicorn.Config(
        app,
        http=HeaderTimeoutH11Protocol,
        ws="websockets-sansio",
        ws_max_size=max_frame_bytes,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_level="warning",
    )

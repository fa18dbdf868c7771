"""A client connection's state, independent of any socket: what it is allowed, and what it must be sent.

The network layer feeds frames to the service and drains `outbox`; `wake` tells it there is something to
write. A connection outlives its transport for `connection_state_ttl` so that the client can resume it.
A client that stops reading cannot grow the outbox past its bound: it is sent 80020 and its transport is
dropped, as Ably drops a connection it cannot deliver to.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from ably_local.auth import Credentials
from ably_local.errors import AblyError
from ably_local.protocol import Action, ProtocolMessage, encode_frame

OVERFLOW = AblyError(80020, 400, "Continuity lost: the client did not read messages fast enough")


def noop() -> None:
    return None


@dataclass(eq=False)
class Connection:
    id: str
    credentials: Credentials
    fmt: str
    max_outbox_bytes: int
    echo: bool = True
    key: str = field(default="")
    # channel name -> granted mode flags
    attached: dict[str, int] = field(default_factory=dict)
    # channels where this connection has presence members
    present_on: set[str] = field(default_factory=set)
    resume_from: dict[str, str] = field(default_factory=dict)
    outbox: list[str | bytes] = field(default_factory=list)
    outbox_bytes: int = 0
    wake: Callable[[], None] = noop
    transport_lost_at: int | None = None
    generation: int = 0
    closing: bool = False
    overflowed: bool = False

    def __post_init__(self) -> None:
        if not self.key:
            self.renew_key()

    def renew_key(self) -> None:
        """A fresh connectionKey, as every resume or recover gets (RTN16d); the old one no longer works."""
        self.key = f"{self.id}!{secrets.token_urlsafe(12)}"

    @property
    def client_id(self) -> str | None:
        return self.credentials.client_id

    @property
    def live(self) -> bool:
        return self.transport_lost_at is None and not self.overflowed

    def send(self, message: ProtocolMessage) -> None:
        self.send_frame(encode_frame(message, self.fmt))

    def send_frame(self, frame: str | bytes) -> None:
        if not self.live:
            return
        was_empty = not self.outbox
        self.outbox.append(frame)
        self.outbox_bytes += len(frame)
        if self.outbox_bytes > self.max_outbox_bytes:
            self._overflow()
        elif was_empty:
            self.wake()

    def _overflow(self) -> None:
        """Drop what the client did not read; tell it why, in case it ever reads again, and let go."""
        self.outbox = [encode_frame({"action": Action.DISCONNECTED, "error": OVERFLOW.to_wire()}, self.fmt)]
        self.outbox_bytes = len(self.outbox[0])
        self.overflowed = True
        self.closing = True
        self.wake()

    def take_outbox(self) -> list[str | bytes]:
        frames, self.outbox = self.outbox, []
        self.outbox_bytes = 0
        return frames

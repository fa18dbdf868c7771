"""A client connection's state, independent of any socket: what it is allowed, and what it must be sent.

The network layer feeds frames to the service and drains `outbox`; `wake` tells it there is something to
write. A connection outlives its transport for `connection_state_ttl` so that the client can resume it.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from ably_local.auth import Credentials
from ably_local.protocol import ProtocolMessage, encode_frame


def noop() -> None:
    return None


@dataclass
class Connection:
    id: str
    credentials: Credentials
    fmt: str
    echo: bool = True
    key: str = field(default="")
    attached: dict[str, int] = field(default_factory=dict)
    resume_from: dict[str, str] = field(default_factory=dict)
    outbox: list[str | bytes] = field(default_factory=list)
    wake: Callable[[], None] = noop
    transport_lost_at: int | None = None
    generation: int = 0
    closing: bool = False

    def __post_init__(self) -> None:
        if not self.key:
            self.key = f"{self.id}!{secrets.token_urlsafe(12)}"

    @property
    def client_id(self) -> str | None:
        return self.credentials.client_id

    @property
    def live(self) -> bool:
        return self.transport_lost_at is None

    def send(self, message: ProtocolMessage) -> None:
        self.send_frame(encode_frame(message, self.fmt))

    def send_frame(self, frame: str | bytes) -> None:
        if self.live:
            was_empty = not self.outbox
            self.outbox.append(frame)
            if was_empty:
                self.wake()

    def take_outbox(self) -> list[str | bytes]:
        frames, self.outbox = self.outbox, []
        return frames

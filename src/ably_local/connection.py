"""A client connection's state, independent of any socket: what it is allowed, and what it must be sent.

The network layer feeds frames to the service and drains `outbox`; `wake` tells it there is something to
write. A connection outlives its transport for `connection_state_ttl` so that the client can resume it.
A client that stops reading cannot grow the outbox past its bound: it is sent 80020 and its transport is
dropped, as Ably drops a connection it cannot deliver to. Every outbox also draws on the service's
outbound total, which the connection holding most gives back the same way.
"""

import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ably_local.auth import Credentials
from ably_local.budgets import FrameBudget
from ably_local.capability import operations_on
from ably_local.errors import AblyError
from ably_local.presence_sync import PresenceSync
from ably_local.protocol import Action, ProtocolMessage, encode_frame
from ably_local.rate_limits import InboundRates

# Channels whose granted operations a connection remembers; past this the memory starts over.
MAX_REMEMBERED_RIGHTS = 1024
OVERFLOW = AblyError(80020, 400, "Continuity lost: the client did not read messages fast enough")


def noop() -> None:
    return None


@dataclass(eq=False)
class Connection:
    id: str
    credentials: Credentials
    fmt: str
    max_outbox_bytes: int
    # The most an attach may queue at once (its replay and SYNC pages); never more than half the free room.
    max_burst_bytes: int
    # What it may send how fast: protocol messages, publishes, publishes per attachment.
    rates: InboundRates
    echo: bool = True
    # What every connection's outbox holds together (the service's; a connection alone: its own).
    outbound: FrameBudget = field(default_factory=lambda: FrameBudget(sys.maxsize))
    key: str = field(default="")
    # channel name -> granted mode flags
    attached: dict[str, int] = field(default_factory=dict)
    # channels where this connection has presence members
    present_on: set[str] = field(default_factory=set)
    resume_from: dict[str, str] = field(default_factory=dict)
    # Presence SYNC sequences not yet sent in full, by channel: their pages go out as the client reads.
    syncs: dict[str, PresenceSync] = field(default_factory=dict)
    outbox: list[str | bytes] = field(default_factory=list)
    outbox_bytes: int = 0
    wake: Callable[[], None] = noop
    transport_lost_at: int | None = None
    generation: int = 0
    closing: bool = False
    overflowed: bool = False
    # An ACK not yet encoded: the first msgSerial and one result per message it acknowledges. Consecutive
    # ACKs merge into one (count > 1), as Ably sends them, until anything else is queued.
    pending_ack: tuple[int, list[dict[str, Any] | None]] | None = None
    # The operations the credentials grant per channel, worked out once (every publish asks).
    _rights: dict[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.key:
            self.renew_key()

    def renew_key(self) -> None:
        """A fresh connectionKey, as every resume or recover gets (RTN16d); the old one no longer works."""
        self.key = f"{self.id}!{secrets.token_urlsafe(12)}"

    def operations_on(self, channel: str) -> frozenset[str]:
        rights = self._rights.get(channel)
        if rights is None:
            if len(self._rights) >= MAX_REMEMBERED_RIGHTS:
                self._rights.clear()
            rights = self._rights[channel] = operations_on(self.credentials.capability, channel)
        return rights

    def authorize(self, credentials: Credentials) -> None:
        """New credentials (a renewed token, a resume): what they grant is worked out afresh."""
        self.credentials = credentials
        self._rights.clear()

    @property
    def client_id(self) -> str | None:
        return self.credentials.client_id

    @property
    def live(self) -> bool:
        return self.transport_lost_at is None and not self.overflowed

    def send(self, message: ProtocolMessage) -> None:
        self.send_frame(encode_frame(message, self.fmt))

    def acknowledge(self, msg_serial: int, result: dict[str, Any] | None) -> None:
        if not self.live:
            return
        pending = self.pending_ack
        if pending is not None and pending[0] + len(pending[1]) == msg_serial:
            pending[1].append(result)
            return
        self._queue_pending_ack()
        self.pending_ack = (msg_serial, [result])
        if not self.outbox:
            self.wake()

    def _queue_pending_ack(self) -> None:
        if self.pending_ack is not None:
            first, results = self.pending_ack
            self.pending_ack = None
            ack: ProtocolMessage = {"action": Action.ACK, "msgSerial": first, "count": len(results)}
            if any(result is not None for result in results):
                ack["res"] = results
            self.send(ack)

    def send_frame(self, frame: str | bytes) -> None:
        if not self.live:
            return
        self._queue_pending_ack()
        was_empty = not self.outbox
        self.outbox.append(frame)
        self.outbox_bytes += len(frame)
        outbound = self.outbound
        outbound.hold(frame)
        if self.outbox_bytes > self.max_outbox_bytes:
            self.overflow()
            return
        if outbound.used > outbound.limit:
            outbound.make_room()  # the connection holding most is let go, perhaps this one
        if was_empty and self.live:
            self.wake()

    def burst_room(self) -> int:
        """What an attach-time burst (a replay, SYNC pages) may queue now: at most max_burst_bytes, and
        never more than half the outbox's free room, so that live messages always have the other half."""
        return min(self.max_burst_bytes, max(0, self.max_outbox_bytes - self.outbox_bytes) // 2)

    def continue_syncs(self) -> None:
        """Queue the next SYNC pages the outbox has room for; the rest wait until the client has read. A
        page larger than the room still goes once the outbox is empty, so every sequence finishes."""
        room = self.burst_room()
        for name in list(self.syncs):
            sync = self.syncs[name]
            while not sync.done:
                frame, cursor = sync.next_frame(self.fmt)
                if len(frame) > room and self.outbox:
                    return
                sync.advance(cursor)
                self.send_frame(frame)
                room -= len(frame)
                if not self.live:
                    return
            del self.syncs[name]

    def overflow(self) -> None:
        """Drop what the client did not read; tell it why, in case it ever reads again, and let go."""
        self.pending_ack = None
        self.syncs.clear()
        self.outbound.release(self.outbox)
        goodbye = encode_frame({"action": Action.DISCONNECTED, "error": OVERFLOW.to_wire()}, self.fmt)
        self.outbound.hold(goodbye)
        self.outbox = [goodbye]
        self.outbox_bytes = len(goodbye)
        self.overflowed = True
        self.closing = True
        self.wake()

    def take_outbox(self) -> list[str | bytes]:
        """What to write now (and a transport that is lost or replaced takes it to discard it)."""
        self._queue_pending_ack()
        frames, self.outbox = self.outbox, []
        self.outbound.release(frames)
        self.outbox_bytes = 0
        return frames


@dataclass(eq=False)
class OutboxShare:
    """A connection's part of the service's outbound total, as that budget sees it: when the total is
    spent, the connection holding most is let go (80020) and its outbox given back."""

    connection: Connection

    @property
    def bytes(self) -> int:
        return 0 if self.connection.overflowed else self.connection.outbox_bytes

    def forget_oldest(self) -> None:
        self.connection.overflow()

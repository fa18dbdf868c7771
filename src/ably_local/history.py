"""Channel history: what was published, kept as long as the limits allow and no longer.

Each event has a service-wide position, so a channel that is released and created again never hands out
a position twice: a client resuming from a position the log no longer reaches gets a fresh attach, not
someone else's messages. The service keeps one queue per retention class in publish order, so expiring
and evicting the oldest events costs nothing per channel.
"""

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ably_local.deltas import DeltaVersion
from ably_local.limits import EVENT_OVERHEAD_BYTES, ITEM_OVERHEAD_BYTES, Limits
from ably_local.protocol import JSON, Action, ProtocolMessage, encode_frame, to_json_item

# The field of a protocol message that carries an event's items, by the event's action.
ITEMS_FIELD: dict[int, str] = {
    Action.MESSAGE: "messages",
    Action.PRESENCE: "presence",
    Action.ANNOTATION: "annotations",
}


class Event:
    """One published message set or presence change, encoded lazily once per wire format.

    A plain class rather than a dataclass: one is made per publish, and mypyc compiles this __init__,
    where a dataclass's generated one would run as Python."""

    def __init__(
        self, position: int, message: ProtocolMessage, connection_id: str, timestamp: int, size: int
    ) -> None:
        self.position = position
        self.message = message
        self.connection_id = connection_id
        self.timestamp = timestamp
        # Ably's count of its messages' size (what stats report); history also charges bookkeeping on top.
        self.size = size
        # The same messages as deltas against the channel's previous message, for delta subscribers.
        self.delta: DeltaVersion | None = None
        self._frames: dict[str, str | bytes] = {}
        # Read on every delivery, so kept as plain fields rather than looked up in `message` each time.
        self.action: int = message["action"]
        self.items: list[dict[str, Any]] = message[ITEMS_FIELD[self.action]]

    def frame(self, fmt: str) -> str | bytes:
        frame = self._frames.get(fmt)
        if frame is None:
            message = self.message
            if fmt == JSON:
                message = {**message, ITEMS_FIELD[self.action]: [to_json_item(item) for item in self.items]}
            frame = self._frames[fmt] = encode_frame(message, fmt)
        return frame


def held_bytes(event: Event) -> int:
    """What keeping an event costs: its messages' size and the bookkeeping Python keeps for it."""
    return event.size + EVENT_OVERHEAD_BYTES + ITEM_OVERHEAD_BYTES * len(event.items)


def position_text(position: int) -> str:
    """Sixteen digits, so that positions order as text; zfill costs a fifth of a format spec."""
    return str(position).zfill(16)


class ChannelLog:
    """One channel's events, oldest first; `start` is the first position it can still replay from."""

    def __init__(self, start: int, persisted: bool, release: Callable[[str], None]) -> None:
        self.events: deque[Event] = deque()
        self.bytes = 0
        self.start = start
        self.end = start
        self.persisted = persisted
        # Called with the channel's name once the log is empty: the channel may then be released.
        self.release = release
        # Told the new `start` whenever the oldest event goes, so that what refers to it goes at once too
        # (a mutable channel's message records).
        self.on_drop: Callable[[int], None] | None = None

    def after(self, position: int) -> Iterator[Event] | None:
        """Events at or after a position this log handed out, or None when it no longer reaches back."""
        if not self.start <= position <= self.end:
            return None
        return (event for event in self.events if event.position >= position)

    def _drop_oldest(self) -> int:
        """Drop the oldest event; returns the bytes it held."""
        event = self.events.popleft()
        held = held_bytes(event)
        self.bytes -= held
        self.start = event.position + 1
        if self.on_drop is not None:
            self.on_drop(self.start)
        return held


class History:
    """Every channel's log, of every app of the service, under the per-channel and service-wide bounds."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.next_position = 0
        self.bytes = 0
        # (channel name, log, event) in publish order, one queue per retention class.
        self._queues: dict[bool, deque[tuple[str, ChannelLog, Event]]] = {False: deque(), True: deque()}
        # Queue entries whose event its channel already dropped under its own bounds, skipped when reached.
        self._stale = {False: 0, True: 0}

    def new_log(self, persisted: bool, release: Callable[[str], None]) -> ChannelLog:
        return ChannelLog(self.next_position, persisted, release)

    def record(
        self,
        name: str,
        log: ChannelLog,
        message: ProtocolMessage,
        connection_id: str,
        timestamp: int,
        size: int,
    ) -> Event:
        """Append an event; its channelSerial is the position just after it."""
        event = Event(self.next_position, message, connection_id, timestamp, size)
        self.next_position += 1
        log.end = self.next_position
        message["channelSerial"] = position_text(log.end)
        held = held_bytes(event)
        log.events.append(event)
        log.bytes += held
        self.bytes += held
        self._queues[log.persisted].append((name, log, event))
        limits = self.limits
        while log.events and (
            len(log.events) > limits.history_events_per_channel
            or log.bytes > limits.history_bytes_per_channel
        ):
            self.bytes -= log._drop_oldest()
            self._stale[log.persisted] += 1
        while self.bytes > limits.history_bytes_total:
            self._evict_oldest()
        return event

    def forget(self, log: ChannelLog) -> None:
        """Drop every event of a log at once (its app is going); its queue entries are skipped later."""
        while log.events:
            self.bytes -= log._drop_oldest()
            self._stale[log.persisted] += 1

    def expire(self, now: int) -> None:
        """Drop events older than their retention; a channel left with nothing may then be released."""
        for persisted, queue in self._queues.items():
            oldest_kept = now - self.limits.history_retention(persisted)
            while queue and queue[0][2].timestamp < oldest_kept:
                self._pop(persisted)
            if self._stale[persisted] > max(1024, len(queue) // 2):
                kept = [entry for entry in queue if _kept(entry[1], entry[2])]
                queue.clear()
                queue.extend(kept)
                self._stale[persisted] = 0

    def _evict_oldest(self) -> None:
        classes = [persisted for persisted, queue in self._queues.items() if queue]
        self._pop(min(classes, key=lambda persisted: self._queues[persisted][0][2].position))

    def _pop(self, persisted: bool) -> None:
        name, log, event = self._queues[persisted].popleft()
        if not _kept(log, event):
            self._stale[persisted] -= 1
            return
        self.bytes -= log._drop_oldest()
        if not log.events:
            log.release(name)


def _kept(log: ChannelLog, event: Event) -> bool:
    return bool(log.events) and log.events[0].position <= event.position

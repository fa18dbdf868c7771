"""Channels: who is attached, the ordered log of what was published, and presence.

Every message or presence event gets the next serial on its channel and is encoded once per wire format;
subscribers receive the same frame. The log keeps recent events so a resumed connection can be sent
exactly what it missed after the last serial it saw.
"""

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ably_local.errors import invalid_channel
from ably_local.protocol import JSON, Action, PresenceAction, ProtocolMessage, encode_frame, to_json_item

_INVALID_NAME = re.compile(r"[\x00-\x1f\x7f]")


def validate_channel_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise invalid_channel("Channel name must be a non-empty string")
    if name.startswith("[") or _INVALID_NAME.search(name):
        raise invalid_channel(f"Invalid channel name {name!r}")
    return name


@dataclass
class Event:
    """One published message or presence event, encoded lazily once per format."""

    serial: int
    message: ProtocolMessage
    connection_id: str
    timestamp: int
    _frames: dict[str, str | bytes] = field(default_factory=dict)

    @property
    def action(self) -> int:
        action: int = self.message["action"]
        return action

    def frame(self, fmt: str) -> str | bytes:
        frame = self._frames.get(fmt)
        if frame is None:
            message = self.message
            if fmt == JSON:
                items = "messages" if self.action == Action.MESSAGE else "presence"
                message = {**message, items: [to_json_item(item) for item in message[items]]}
            frame = self._frames[fmt] = encode_frame(message, fmt)
        return frame


@dataclass
class Member:
    client_id: str
    connection_id: str
    item: dict[str, Any]


class Channel:
    def __init__(self, name: str, history_limit: int) -> None:
        self.name = name
        self.serial_prefix = f"{name}@"
        self.next_serial = 0
        self.log: deque[Event] = deque(maxlen=history_limit)
        self.attached: dict[str, int] = {}
        self.members: dict[tuple[str, str], Member] = {}

    @staticmethod
    def position_text(position: int) -> str:
        return f"{position:016d}"

    def record(self, message: ProtocolMessage, connection_id: str, timestamp: int) -> Event:
        """Append an event; its channelSerial is the channel position just after it."""
        event = Event(self.next_serial, message, connection_id, timestamp)
        self.next_serial += 1
        message["channelSerial"] = self.position_text(self.next_serial)
        self.log.append(event)
        return event

    @property
    def position(self) -> str:
        """The channelSerial a client attaching now resumes from, even before the first event."""
        return self.position_text(self.next_serial)

    def events_after(self, channel_serial: str) -> Iterator[Event] | None:
        """Events after a position this channel gave out, or None when the log no longer reaches back."""
        try:
            position = int(channel_serial)
        except ValueError:
            return None
        if not 0 <= position <= self.next_serial:
            return None
        if self.log and self.log[0].serial > position:
            return None
        return (event for event in self.log if event.serial >= position)

    def apply_presence(self, item: dict[str, Any]) -> None:
        key = (item["connectionId"], item["clientId"])
        if item["action"] == PresenceAction.LEAVE:
            self.members.pop(key, None)
        else:
            present = {**item, "action": PresenceAction.PRESENT}
            self.members[key] = Member(item["clientId"], item["connectionId"], present)

    def members_of(self, connection_id: str) -> list[Member]:
        return [m for m in self.members.values() if m.connection_id == connection_id]

    @property
    def idle(self) -> bool:
        return not self.attached and not self.members

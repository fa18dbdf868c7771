"""Channels: who is attached with which modes, the channel's log, and its presence set.

A channel exists while anything holds it (an attachment, a presence member or retained history) and is
released as soon as nothing does, so a client cannot grow the service by naming channels.
"""

import re
from dataclasses import dataclass, field

from ably_local.deltas import Payload
from ably_local.errors import invalid_channel
from ably_local.history import ChannelLog, position_text
from ably_local.mutations import MessageStore
from ably_local.presence import PresenceSet

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MAX_CHANNEL_NAME_BYTES = 1024


def validate_channel_name(name: object) -> str:
    """Ably refuses empty names, an empty namespace (a leading `:`) and unprintable characters."""
    if not isinstance(name, str) or not name:
        raise invalid_channel("Channel name must be a non-empty string")
    if name.startswith(":") or _CONTROL_CHARACTERS.search(name):
        raise invalid_channel(f"Invalid channel name {name!r}")
    if name.startswith("["):
        raise invalid_channel(f"Channel qualifiers such as [meta] are not supported: {name!r}")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        raise invalid_channel("Channel name is not valid Unicode") from None
    if size > MAX_CHANNEL_NAME_BYTES:
        raise invalid_channel(f"Channel name longer than {MAX_CHANNEL_NAME_BYTES} bytes")
    return name


@dataclass(eq=False)
class Channel:
    name: str
    log: ChannelLog
    presence: PresenceSet
    # connectionId -> granted mode flags
    attached: dict[str, int] = field(default_factory=dict)
    # connections whose transport dropped while attached, and which may resume here
    resumable: set[str] = field(default_factory=set)
    # delta subscribers: connectionId -> id of the last message it was sent (None: nothing yet)
    delta_subscribers: dict[str, str | None] = field(default_factory=dict)
    # the last message's data, which the next message's delta patches
    last_payload: Payload | None = None
    # messages by serial, on channels whose namespace allows updates, deletes and annotations
    messages: MessageStore | None = None

    @property
    def position(self) -> str:
        """The channelSerial a client attaching now continues from, even before the first event."""
        return position_text(self.log.end)

    @property
    def idle(self) -> bool:
        return not (self.attached or self.resumable or self.presence.members or self.log.events)

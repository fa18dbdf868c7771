"""The presence SYNC a client is sent on attach (or asks for again): the presence set in pages.

Ably sends a large presence set as several SYNC messages, each with channelSerial `<syncId>:<cursor>` and
the last with an empty cursor (`<syncId>:`, RTP18). Here a page holds at most `PAGE_MEMBERS` members and
about `page_bytes` of them, and pages go out only as the client has room for them: a joiner is never
sent more at once than its outbox allows, however large the set others entered. Each page is made from
the set as it is when the page is sent, so a member who left meanwhile is not sent, and one who entered
meanwhile arrives as a live PRESENCE event instead.
"""

import secrets
from typing import Any

from ably_local.inbound import message_size
from ably_local.presence_set import PresenceSet
from ably_local.protocol import JSON, Action, ProtocolMessage, encode_frame, to_json_item

# Members in one SYNC message, as Ably pages them.
PAGE_MEMBERS = 100
# What a member costs in a page besides its counted size (id, connectionId, timestamp, action, keys).
MEMBER_OVERHEAD_BYTES = 128


class PresenceSync:
    """One SYNC sequence for one attachment: a cursor over the members present when it began."""

    def __init__(self, channel: str, members: PresenceSet, page_bytes: int) -> None:
        self.channel = channel
        self.members = members
        self.page_bytes = page_bytes
        self.sync_id = secrets.token_hex(4)
        self._keys = list(members.members)
        self._cursor = 0

    @property
    def done(self) -> bool:
        return self._cursor > len(self._keys)

    def next_frame(self, fmt: str) -> tuple[str | bytes, int]:
        """The next SYNC message, encoded, and the cursor after it: `advance` to it once it is sent."""
        page: list[dict[str, Any]] = []
        size = 0
        cursor = self._cursor
        while cursor < len(self._keys) and len(page) < PAGE_MEMBERS:
            member = self.members.members.get(self._keys[cursor])
            if member is not None:
                cost = message_size(member) + MEMBER_OVERHEAD_BYTES
                if page and size + cost > self.page_bytes:
                    break
                page.append(to_json_item(member) if fmt == JSON else member)
                size += cost
            cursor += 1
        last = cursor >= len(self._keys)
        message: ProtocolMessage = {
            "action": Action.SYNC,
            "channel": self.channel,
            "channelSerial": f"{self.sync_id}:{'' if last else cursor}",
            "presence": page,
        }
        return encode_frame(message, fmt), len(self._keys) + 1 if last else cursor

    def advance(self, cursor: int) -> None:
        self._cursor = cursor

"""A channel's presence set: who is present, from which connection, with what data.

Members are keyed by (connectionId, clientId) as Ably keys them, indexed by connection so that a
connection's members are found without scanning, and bounded in count and bytes.
"""

from typing import Any

from ably_local.budgets import Budget
from ably_local.errors import AblyError
from ably_local.inbound import message_size
from ably_local.protocol import PresenceAction

Member = dict[str, Any]


class PresenceSet:
    def __init__(self, max_members: int, max_bytes: int, budget: Budget) -> None:
        self.members: dict[tuple[str, str], Member] = {}
        self.bytes = 0
        self._sizes: dict[tuple[str, str], int] = {}
        self._by_connection: dict[str, set[str]] = {}
        self._max_members = max_members
        self._max_bytes = max_bytes
        self._budget = budget

    def check_room(self, items: list[dict[str, Any]]) -> None:
        """Refuse, before anything changes, enters that would take the set past its bounds (91003)."""
        added_members = 0
        added_bytes = 0
        for item in items:
            if item["action"] == PresenceAction.LEAVE:
                continue
            key = (item["connectionId"], item["clientId"])
            if key not in self.members:
                added_members += 1
            added_bytes += message_size(item) - self._sizes.get(key, 0)
        if added_members and len(self.members) + added_members > self._max_members:
            raise AblyError(91003, 400, f"Too many presence members (limit {self._max_members})")
        if added_bytes > 0 and self.bytes + added_bytes > self._max_bytes:
            raise AblyError(91003, 400, f"Presence data on this channel exceeds {self._max_bytes} bytes")
        if added_bytes > 0 and self._budget.used + added_bytes > self._budget.limit:
            raise AblyError(91003, 400, f"Presence data on all channels exceeds {self._budget.limit} bytes")

    def apply(self, item: dict[str, Any]) -> None:
        connection_id, client_id = item["connectionId"], item["clientId"]
        key = (connection_id, client_id)
        previous = self._sizes.pop(key, 0)
        self.bytes -= previous
        self._budget.used -= previous
        if item["action"] == PresenceAction.LEAVE:
            if self.members.pop(key, None) is not None:
                clients = self._by_connection[connection_id]
                clients.discard(client_id)
                if not clients:
                    del self._by_connection[connection_id]
            return
        self.members[key] = {**item, "action": PresenceAction.PRESENT}
        size = self._sizes[key] = message_size(item)
        self.bytes += size
        self._budget.used += size
        self._by_connection.setdefault(connection_id, set()).add(client_id)

    def clear(self) -> None:
        """Every member goes at once, recording nothing (its app is going): their bytes are given back."""
        self._budget.used -= self.bytes
        self.bytes = 0
        self.members.clear()
        self._sizes.clear()
        self._by_connection.clear()

    def of_connection(self, connection_id: str) -> list[Member]:
        return [
            self.members[(connection_id, client_id)]
            for client_id in self._by_connection.get(connection_id, ())
        ]

"""Presence operations: what clients do with presence on an app's channels.

Entering, updating and leaving are checked like Ably checks them (capability, mode, attachment, clientId,
size, room in the set), recorded in the channel's history and delivered; a connection that closes or stays
lost past the grace period leaves with synthesized leaves, as Ably sends them.
"""

import secrets
from collections.abc import Callable
from typing import Any

from ably_local.auth import WILDCARD_CLIENT_ID, Clock
from ably_local.channels import Channel, ChannelTable
from ably_local.claims import stamped
from ably_local.connection import Connection
from ably_local.errors import AblyError, bad_request, capability_denied, invalid_client_id
from ably_local.fanout import Delivery
from ably_local.filters import is_filtered
from ably_local.inbound import checked_size, items_of, message_size, presence_from
from ably_local.limits import Limits
from ably_local.protocol import Action, Flag, PresenceAction, ProtocolMessage


class Presence:
    """What clients do with presence on an app's channels: enter, update, leave, and the leaves Ably
    synthesises for a connection that closed or was lost."""

    def __init__(
        self,
        table: ChannelTable,
        deliver: Delivery,
        limits: Limits,
        clock: Clock,
        require_mode: Callable[[Connection, str, int, str], None],
    ) -> None:
        self.table = table
        self.limits = limits
        self.clock = clock
        self._deliver = deliver
        self._require_mode = require_mode

    def update(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        """A client's PRESENCE: enter, update or leave, checked like Ably checks them."""
        credentials = connection.credentials
        if "presence" not in connection.operations_on(name):
            raise capability_denied("presence", name)
        if name not in connection.attached:
            raise AblyError(90001, 400, f"Presence needs the channel attached first: {name!r}")
        if is_filtered(name):
            raise AblyError(40010, 400, f"A filtered channel has no presence: {name!r}")
        self._require_mode(connection, name, Flag.PRESENCE, "presence")
        depth = self.limits.max_nesting_depth
        items = [presence_from(item, depth) for item in items_of(message, "presence")]
        checked_size(items, self.limits.max_message_size)
        claim = credentials.user_claims.on(name)
        for item in items:
            if item["action"] not in (PresenceAction.ENTER, PresenceAction.LEAVE, PresenceAction.UPDATE):
                raise bad_request("Presence action must be enter, leave or update")
            client_id = item.get("clientId") or connection.client_id
            if client_id is None or client_id == WILDCARD_CLIENT_ID:
                raise AblyError(91000, 400, "Unable to enter presence channel (no clientId)")
            if "clientId" in item and not credentials.may_act_as(item["clientId"]):
                raise invalid_client_id("Presence clientId does not match the connection's")
            item["clientId"] = client_id
            item["connectionId"] = connection.id
            stamped(item, claim)
        channel = self.table.channel(name)
        channel.presence.check_room(items)
        message_id = f"{connection.id}:{message['msgSerial']}"
        self._record(channel, items, connection.id, message_id)
        if channel.presence.of_connection(connection.id):
            connection.present_on.add(name)
        else:
            connection.present_on.discard(name)

    def _record(
        self, channel: Channel, items: list[dict[str, Any]], connection_id: str, message_id: str
    ) -> None:
        timestamp = self.clock()
        size = 0
        for index, item in enumerate(items):
            item.setdefault("id", f"{message_id}:{index}")
            item["connectionId"] = connection_id
            item["timestamp"] = timestamp
            channel.presence.apply(item)
            size += message_size(item)
        outgoing: ProtocolMessage = {
            "action": Action.PRESENCE,
            "channel": channel.name,
            "id": message_id,
            "connectionId": connection_id,
            "timestamp": timestamp,
            "presence": items,
        }
        event = self.table.history.record(channel.name, channel.log, outgoing, connection_id, timestamp, size)
        self._deliver(channel, event)

    def enter_fixture(self, name: str, item: dict[str, Any]) -> None:
        """A presence member that no connection owns (sandbox fixtures): present until the app goes."""
        channel = self.table.channel(name)
        member = presence_from({**item, "action": PresenceAction.ENTER}, self.limits.max_nesting_depth)
        member["connectionId"] = "fixtures"
        channel.presence.check_room([member])
        self._record(channel, [member], "fixtures", f"fixtures:{len(channel.presence.members)}")

    def leave_all(self, connection: Connection) -> None:
        """Every member a connection holds leaves: on CLOSE at once, after the grace period when lost."""
        for name in list(connection.present_on):
            channel = self.table.get(name)
            members = channel.presence.of_connection(connection.id) if channel is not None else []
            if channel is not None and members:
                leaves = [
                    {k: v for k, v in member.items() if k != "id"} | {"action": PresenceAction.LEAVE}
                    for member in members
                ]
                # A synthesized leave's id must not start with the connectionId: clients then order it
                # against the member's last event by timestamp (RTP2b1), not by msgSerial.
                self._record(channel, leaves, connection.id, f"synthesized-{secrets.token_hex(6)}:0")
                self.table.release_if_idle(name)
        connection.present_on.clear()

    def members(self, name: str) -> list[dict[str, Any]]:
        channel = self.table.get(name)
        return list(channel.presence.members.values()) if channel else []

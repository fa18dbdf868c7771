"""Publishing on an app's channels: checks, idempotency, serials, history, and mutable messages.

What a message goes through between a client (realtime or REST) and the channel's subscribers: it is
checked (shape, size, clientId), published once per client-supplied id within Ably's window, stamped with
its id, serial and timestamp, recorded in the channel's history and delivered. On namespaces that allow it,
published messages can then be updated, deleted, appended to and annotated (`mutations`).
"""

from typing import Any

from ably_local.auth import Clock, Credentials
from ably_local.budgets import Budget
from ably_local.capability import operations_on
from ably_local.channels import Channel, ChannelTable
from ably_local.claims import stamped
from ably_local.deltas import DeltaVersion
from ably_local.errors import AblyError, bad_request, capability_denied, message_too_large
from ably_local.fanout import Delivery
from ably_local.filters import filter_context, is_filtered
from ably_local.history import Event
from ably_local.idempotency import Published, RecentPublishes, idempotency_key
from ably_local.identity import checked_client_id
from ably_local.inbound import annotation_from, checked_size, message_from, message_size
from ably_local.limits import Limits
from ably_local.mutations import (
    MUTATIONS,
    NOT_ENABLED,
    MessageAction,
    MessageRecord,
    MessageStore,
    annotate,
    annotation_size,
    apply_mutation,
    check_room_for_annotations,
    message_serial,
    version_of,
)
from ably_local.protocol import Action, ProtocolMessage


class Messaging:
    def __init__(
        self,
        table: ChannelTable,
        deliver: Delivery,
        limits: Limits,
        clock: Clock,
        idempotency_budget: Budget | None = None,
    ) -> None:
        self.table = table
        self.limits = limits
        self.clock = clock
        self._deliver = deliver
        self.recent_publishes = RecentPublishes(
            limits.idempotency_window_ms,
            limits.idempotency_ids_per_app,
            limits.idempotency_bytes_per_app,
            idempotency_budget,
        )

    def checked_messages(
        self, raw: list[dict[str, Any]], credentials: Credentials, channel: str
    ) -> list[dict[str, Any]]:
        """Messages as they may be published on a channel: well-formed, within maxMessageSize, with a
        permitted clientId, and carrying the publisher's claim for the channel as their only userClaim.
        Shared by the realtime and REST paths."""
        limits = self.limits
        if len(raw) > limits.max_messages_per_publish:
            raise AblyError(
                40034, 400, f"Too many messages in one publish (limit {limits.max_messages_per_publish})"
            )
        items = [message_from(item, limits.max_nesting_depth) for item in raw]
        checked_size(items, limits.max_message_size)
        for item in items:
            checked_client_id(credentials, item.get("clientId"), "A message's")
        claim = credentials.user_claims.on(channel)
        for item in items:
            stamped(item, claim)
        return items

    def publish_once(
        self,
        name: str,
        items: list[dict[str, Any]],
        connection_id: str,
        msg_serial: int | str,
        client_id: str | None = None,
    ) -> Published:
        """Publish, unless the same client-supplied ids were published on this channel within the
        idempotency window: then acknowledge with the first publish's result and deliver nothing."""
        if is_filtered(name):  # checked by name, so that refusing it creates no channel
            raise AblyError(40010, 400, f"A filtered channel only receives; publish to its source: {name!r}")
        key = idempotency_key(items)
        now = self.clock()
        if key is not None and (earlier := self.recent_publishes.get(name, key, now)) is not None:
            return earlier
        event = self._publish(self.table.channel(name), items, connection_id, msg_serial, client_id, now)
        published = Published(event.message["id"], tuple(item["serial"] for item in event.items))
        if key is not None:
            self.recent_publishes.remember(name, key, published, now)
        return published

    def _publish(
        self,
        channel: Channel,
        items: list[dict[str, Any]],
        connection_id: str,
        msg_serial: int | str,
        client_id: str | None,
        timestamp: int,
    ) -> Event:
        """Stamp, record and fan out checked messages (from a realtime connection or the REST API)."""
        name = channel.name
        message_id = f"{connection_id}:{msg_serial}"
        size = 0
        position = self.table.history.next_position
        for index, item in enumerate(items):
            item.setdefault("id", f"{message_id}:{index}")
            item["connectionId"] = connection_id
            item["timestamp"] = timestamp
            item["serial"] = message_serial(position, index)
            item.pop("action", None)
            item.pop("version", None)
            if client_id is not None:
                item.setdefault("clientId", client_id)
            size += message_size(item)
        outgoing: ProtocolMessage = {
            "action": Action.MESSAGE,
            "channel": name,
            "id": message_id,
            "connectionId": connection_id,
            "timestamp": timestamp,
            "messages": items,
        }
        event = self.table.history.record(name, channel.log, outgoing, connection_id, timestamp, size)
        if channel.last_message is not None and channel.delta_subscribers:  # read only by this delivery
            event.delta = DeltaVersion(channel.last_message, outgoing)
        channel.last_message = items[-1]
        if channel.messages is not None:
            for item in items:
                channel.messages.add(item["serial"], event.position, item)
            channel.messages.forget_before(channel.log.start)  # in case the log could not keep the event
        self._deliver_with_followers(channel, event)
        return event

    def _deliver_with_followers(self, channel: Channel, event: Event) -> None:
        """Deliver to the channel, then to each derived channel the messages its filter accepts."""
        self._deliver(channel, event)
        followers = self.table.derived_from(channel.name)
        if not followers:
            return
        items = event.items
        contexts = [filter_context(item) for item in items]  # what every filter sees, made once
        for derived in followers:
            test = derived.filter
            if not derived.attached or test is None:
                continue
            accepted = [item for item, context in zip(items, contexts, strict=True) if test.accepts(context)]
            if accepted:
                view = {**event.message, "channel": derived.name, "messages": accepted}
                self._deliver(
                    derived,
                    Event(event.position, view, event.connection_id, event.timestamp, 0),
                    counted=False,
                )

    def message_store(self, name: str) -> MessageStore:
        """The channel's published messages by serial. Found, never made: a channel that does not exist
        has no messages (any serial asked for is a 40400), and a refusal must not leave a channel behind."""
        if not self.table.is_mutable(name):
            raise NOT_ENABLED
        channel = self.table.get(name)
        if channel is None or channel.messages is None:
            return MessageStore()
        return channel.messages

    def mutate(self, name: str, change: dict[str, Any], credentials: Credentials) -> str:
        """Apply one update, delete or append to a published message; returns the new version's serial."""
        action = change.get("action")
        if action not in MUTATIONS:
            raise bad_request("A change needs action update (1), delete (2) or append (5)")
        record = self.message_store(name).get(change.get("serial"))
        self._require_right(credentials, name, action, record.latest.get("clientId"))
        operation = change.get("version")
        named = operation.get("clientId") if isinstance(operation, dict) else None
        editor = checked_client_id(credentials, named, "A version's") or credentials.own_client_id
        channel = self.table.channel(name)
        timestamp = max(self.clock(), record.latest["timestamp"] + 1)
        version_serial = message_serial(self.table.history.next_position, 0)
        version = version_of(change, version_serial, timestamp, editor)
        delivered = apply_mutation(record, change, version, self.limits)
        connection_id = str(delivered.get("connectionId", ""))
        outgoing: ProtocolMessage = {
            "action": Action.MESSAGE,
            "channel": name,
            "id": f"{delivered['id']}:{version_serial}",
            "connectionId": connection_id,
            "timestamp": timestamp,
            "messages": [delivered],
        }
        # History carries what the change keeps: an append keeps the joined message as well as the part.
        size = message_size(delivered)
        if record.latest is not delivered:
            size += message_size(record.latest)
        event = self.table.history.record(name, channel.log, outgoing, connection_id, timestamp, size)
        channel.last_message = None  # the next message goes in full to delta subscribers
        self._deliver_with_followers(channel, event)
        return version_serial

    def _require_right(self, credentials: Credentials, name: str, action: int, author: object) -> None:
        """Updates and appends need message-update-any, or -own on one's own message; deletes alike."""
        verb = "delete" if action == MessageAction.DELETE else "update"
        operations = operations_on(credentials.capability, name)
        if f"message-{verb}-any" in operations:
            return
        if f"message-{verb}-own" in operations:
            if credentials.own_client_id is None:
                raise AblyError(40166, 401, f"An unidentified client cannot {verb} its own messages")
            if author == credentials.client_id:
                return
        raise capability_denied(f"message-{verb}", name)

    def annotate(
        self,
        name: str,
        raw: list[dict[str, Any]],
        credentials: Credentials,
        connection_id: str,
    ) -> list[str]:
        """Record annotations on published messages, fan them out, then each message's new summary."""
        if "annotation-publish" not in operations_on(credentials.capability, name):
            raise capability_denied("annotation-publish", name)
        store = self.message_store(name)
        limits = self.limits
        if len(raw) > limits.max_messages_per_publish:
            raise AblyError(
                40034, 400, f"Too many annotations in one publish (limit {limits.max_messages_per_publish})"
            )
        annotations = [annotation_from(item, limits.max_nesting_depth) for item in raw]
        sent = sum(annotation_size(item) for item in annotations)
        if sent > limits.max_message_size:
            raise message_too_large(sent, limits.max_message_size)
        records = [store.get(item.get("messageSerial")) for item in annotations]
        claim = credentials.user_claims.on(name)
        for item in annotations:
            checked_client_id(credentials, item.get("clientId"), "An annotation's")
            stamped(item, claim)
        timestamp = self.clock()
        position = self.table.history.next_position
        client_id = credentials.own_client_id
        for index, item in enumerate(annotations):
            if client_id is not None:
                item.setdefault("clientId", client_id)
            item.setdefault("id", f"{connection_id}:{position}:{index}")
            item["serial"] = message_serial(position, index)
            item["connectionId"] = connection_id
            item["timestamp"] = timestamp
        size = sum(annotation_size(item) for item in annotations)  # as kept: its claim and id count
        by_record: dict[int, tuple[MessageRecord, list[dict[str, Any]]]] = {}
        for record, item in zip(records, annotations, strict=True):
            by_record.setdefault(id(record), (record, []))[1].append(item)
        for record, added in by_record.values():
            check_room_for_annotations(record, added, limits)
        channel = self.table.channel(name)
        outgoing: ProtocolMessage = {
            "action": Action.ANNOTATION,
            "channel": name,
            "connectionId": connection_id,
            "timestamp": timestamp,
            "annotations": annotations,
        }
        event = self.table.history.record(name, channel.log, outgoing, connection_id, timestamp, size)
        self._deliver(channel, event)
        for record, item in zip(records, annotations, strict=True):
            annotate(record, item)
        for record, _ in by_record.values():
            self._send_summary(channel, record)
        return [item["serial"] for item in annotations]

    def _send_summary(self, channel: Channel, record: MessageRecord) -> None:
        timestamp = self.clock()
        summary, summary_size = record.summary.wire(self.limits.max_message_size)
        rolled = {
            "action": MessageAction.SUMMARY,
            "serial": record.latest["serial"],
            "id": record.latest["id"],
            "timestamp": timestamp,
            "annotations": {"summary": summary},
        }
        outgoing: ProtocolMessage = {"action": Action.MESSAGE, "channel": channel.name, "messages": [rolled]}
        size = message_size(rolled) + summary_size
        event = self.table.history.record(channel.name, channel.log, outgoing, "", timestamp, size)
        channel.last_message = None
        self._deliver(channel, event)

    def history_of(self, name: str, action: int = Action.MESSAGE) -> list[Event]:
        channel = self.table.get(name)
        if channel is None:
            return []
        if action == Action.MESSAGE and channel.messages is not None:
            return self._latest_versions(channel)
        return [event for event in channel.log.events if event.action == action]

    def _latest_versions(self, channel: Channel) -> list[Event]:
        """A mutable channel's history: each message once, as its latest version, in publish order."""
        assert channel.messages is not None
        return [
            Event(
                record.position,
                {"action": Action.MESSAGE, "channel": channel.name, "messages": [record.latest]},
                record.latest.get("connectionId", ""),
                record.latest["timestamp"],
                0,
            )
            for record in channel.messages.records.values()
        ]

"""The realtime service without sockets: connections in, protocol messages out.

Everything here is plain method calls on plain objects, so the protocol is tested frame by frame with no
network. `tick()` does what the real service does on timers (heartbeats, token expiry, presence grace,
history retention, dropping connections nobody resumed); the network layer calls it periodically.
"""

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ably_local.auth import WILDCARD_CLIENT_ID, Authority, Clock, Credentials, now_ms
from ably_local.capability import operations_on
from ably_local.channel_params import Rewind, parse_attach
from ably_local.channels import Channel, validate_channel_name
from ably_local.connection import Connection, noop
from ably_local.deltas import DeltaVersion, payload_of
from ably_local.errors import AblyError, bad_request, capability_denied, invalid_client_id, message_too_large
from ably_local.history import Event, History
from ably_local.inbound import (
    annotation_from,
    items_of,
    message_from,
    message_size,
    optional_int,
    optional_text,
    presence_from,
)
from ably_local.limits import Limits
from ably_local.mutations import (
    MUTATIONS,
    NOT_ENABLED,
    MessageAction,
    MessageRecord,
    MessageStore,
    apply_mutation,
    message_serial,
    summary,
    version_of,
)
from ably_local.presence import PresenceBudget, PresenceSet
from ably_local.protocol import (
    FORMATS,
    JSON,
    SUPPORTED_PROTOCOL_VERSIONS,
    Action,
    Flag,
    PresenceAction,
    ProtocolMessage,
    decode_frame,
    to_json_item,
)

log = logging.getLogger("ably_local")
ChannelHandler = Callable[[Connection, str, ProtocolMessage], None]
# A MESSAGE or ANNOTATION handler returns the serials it assigned, for the ACK's `res`.
PublishHandler = Callable[[Connection, str, ProtocolMessage], list[str] | None]
DEFAULT_MODES = (
    Flag.PRESENCE | Flag.PUBLISH | Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE | Flag.ANNOTATION_PUBLISH
)
INTERNAL_ERROR = AblyError(50000, 500, "Internal error: the service could not handle this frame")
UNRECOVERABLE = AblyError(80018, 400, "Unable to recover connection: invalid or unknown connection key")


@dataclass(frozen=True)
class ServiceConfig:
    connection_state_ttl_ms: int = 120_000
    max_idle_interval_ms: int = 15_000
    presence_grace_ms: int = 15_000
    # Ask a client to renew its token this long before expiry, when the token lives longer than that.
    token_renewal_lead_ms: int = 30_000
    server_id: str = "ably-local"
    limits: Limits = field(default_factory=Limits)
    # Channel namespaces whose history is kept for the persisted retention (sandbox apps).
    persisted_namespaces: frozenset[str] = frozenset()
    # Channel namespaces whose messages may be updated, deleted, appended to and annotated.
    mutable_namespaces: frozenset[str] = frozenset()


class RealtimeService:
    def __init__(self, authority: Authority, config: ServiceConfig | None = None, clock: Clock = now_ms):
        self.authority = authority
        self.config = config or ServiceConfig()
        self.limits = self.config.limits
        self.clock = clock
        self.connections: dict[str, Connection] = {}
        self.by_key: dict[str, Connection] = {}
        self.channels: dict[str, Channel] = {}
        self.history = History(self.limits, self._release_if_idle)
        self.presence_budget = PresenceBudget(self.limits.presence_bytes_total)
        self._renew_at: dict[str, int] = {}
        self._lost: dict[str, Connection] = {}
        self._next_heartbeat = 0

    # --- connections ---------------------------------------------------------------------------------

    def open(self, params: Mapping[str, str]) -> Connection:
        """Accept a new transport, resuming an earlier connection when asked and still possible."""
        version = params.get("v")
        if version not in SUPPORTED_PROTOCOL_VERSIONS:
            raise bad_request(f"Unsupported protocol version {version!r}")
        fmt = params.get("format", JSON)
        if fmt not in FORMATS:
            raise bad_request(f"Unsupported format {fmt!r}")
        credentials = self._credentials(params)
        requested_client_id = params.get("clientId")
        if requested_client_id is not None:
            credentials = self._with_client_id(credentials, requested_client_id)
        resume_key = params.get("resume") or params.get("recover")
        resume_error: AblyError | None = None
        if resume_key:
            previous = self.by_key.get(resume_key)
            if previous is not None and _same_identity(previous.credentials, credentials):
                return self._resume(previous, credentials, fmt, params)
            # An unknown key and another identity's key get the same answer: nothing is revealed.
            resume_error = UNRECOVERABLE
        if len(self.connections) - len(self._lost) >= self.limits.connections_per_app:
            raise AblyError(40150, 401, f"Too many connections (limit {self.limits.connections_per_app})")
        connection = Connection(
            id=secrets.token_urlsafe(9),
            credentials=credentials,
            fmt=fmt,
            max_outbox_bytes=self.limits.outbound_buffer_bytes,
            echo=params.get("echo") != "false",
        )
        self.connections[connection.id] = connection
        self.by_key[connection.key] = connection
        self._schedule_renewal(connection)
        self._send_connected(connection, resume_error)
        return connection

    def _credentials(self, params: Mapping[str, str]) -> Credentials:
        if key := params.get("key"):
            return self.authority.basic(key)
        if token := params.get("access_token") or params.get("accessToken"):
            return self.authority.token(token)
        raise AblyError(40101, 401, "No authentication information: connect with key or access_token")

    def _with_client_id(self, credentials: Credentials, client_id: str) -> Credentials:
        if credentials.client_id not in (None, WILDCARD_CLIENT_ID, client_id):
            raise AblyError(40102, 401, "clientId does not match the token's clientId")
        if client_id == WILDCARD_CLIENT_ID:
            raise invalid_client_id("clientId '*' cannot be used to connect")
        return Credentials(
            credentials.key_name, client_id, credentials.capability, credentials.expires, credentials.token
        )

    def _resume(
        self, connection: Connection, credentials: Credentials, fmt: str, params: Mapping[str, str]
    ) -> Connection:
        self._stop_delivery(connection)  # the old transport may still be open (a half-open socket)
        self._lost.pop(connection.id, None)
        connection.transport_lost_at = None
        connection.overflowed = False
        connection.generation += 1
        superseded_wake, connection.wake = connection.wake, noop  # the new transport sets its own
        superseded_wake()  # lets the old transport's writer see it is superseded and close its socket
        connection.closing = False
        connection.credentials = credentials
        connection.fmt = fmt
        connection.echo = params.get("echo") != "false"
        connection.take_outbox()
        del self.by_key[connection.key]
        connection.renew_key()
        self.by_key[connection.key] = connection
        self._schedule_renewal(connection)
        self._send_connected(connection, None)
        return connection

    def _send_connected(self, connection: Connection, error: AblyError | None) -> None:
        config, limits = self.config, self.limits
        details: dict[str, Any] = {
            "connectionKey": connection.key,
            "maxMessageSize": limits.max_message_size,
            "maxFrameSize": limits.max_frame_size,
            "maxInboundRate": 1000,
            "connectionStateTtl": config.connection_state_ttl_ms,
            "maxIdleInterval": config.max_idle_interval_ms,
            "serverId": config.server_id,
        }
        if connection.client_id is not None:
            details["clientId"] = connection.client_id
        message: ProtocolMessage = {
            "action": Action.CONNECTED,
            "connectionId": connection.id,
            "connectionKey": connection.key,
            "connectionDetails": details,
        }
        if error is not None:
            message["error"] = error.to_wire()
        connection.send(message)

    def transport_lost(self, connection: Connection) -> None:
        """The socket went away without CLOSE: keep the connection resumable for a while."""
        if connection.id in self.connections and connection.transport_lost_at is None:
            connection.transport_lost_at = self.clock()
            self._lost[connection.id] = connection
            self._stop_delivery(connection)
            if len(self._lost) > self.limits.connections_per_app:  # the longest lost can no longer resume
                self.close(next(iter(self._lost.values())))

    def _stop_delivery(self, connection: Connection) -> None:
        """Nothing is delivered until the resumed client re-attaches with its last channelSerial;
        the ATTACH then replays the gap and rejoins live delivery in one step, keeping order. After an
        overflow the service no longer knows what the client read, so only the client's serial counts."""
        connection.take_outbox()
        for name in connection.attached:
            channel = self.channels.get(name)
            if channel is None or channel.attached.pop(connection.id, None) is None:
                continue
            channel.delta_subscribers.pop(connection.id, None)
            if connection.overflowed:
                self._release_if_idle(name)
            else:
                connection.resume_from[name] = channel.position
                channel.resumable.add(connection.id)

    def close(self, connection: Connection) -> None:
        """An explicit CLOSE: presence members leave at once and the connection cannot be resumed."""
        for name in {*connection.attached, *connection.resume_from}:
            self._detach(connection, name)
        self._leave_all(connection)
        self.connections.pop(connection.id, None)
        self.by_key.pop(connection.key, None)
        self._renew_at.pop(connection.id, None)
        self._lost.pop(connection.id, None)

    # --- frames from a client ------------------------------------------------------------------------

    def receive(self, connection: Connection, frame: str | bytes) -> bool:
        """Handle one frame; False means the transport should be closed once the outbox is flushed."""
        try:
            message = decode_frame(frame, connection.fmt)
            return self._dispatch(connection, message)
        except AblyError as error:
            connection.send({"action": Action.ERROR, "error": error.to_wire()})
        except Exception:
            # A bug, not bad input (that is refused above): only this client's connection pays for it.
            log.exception("frame from connection %s could not be handled", connection.id)
            connection.send({"action": Action.ERROR, "error": INTERNAL_ERROR.to_wire()})
        return False

    def _dispatch(self, connection: Connection, message: ProtocolMessage) -> bool:
        action = message["action"]
        if action == Action.HEARTBEAT:
            reply: ProtocolMessage = {"action": Action.HEARTBEAT}
            if (heartbeat_id := optional_text(message, "id")) is not None:
                reply["id"] = heartbeat_id
            connection.send(reply)
        elif action == Action.CLOSE:
            self.close(connection)
            connection.send({"action": Action.CLOSED})
            return False
        elif action == Action.ATTACH:
            self._channel_action(connection, message, self._attach)
        elif action == Action.DETACH:
            self._channel_action(connection, message, self._detach_message)
        elif action == Action.MESSAGE:
            self._acknowledged(connection, message, self._publish)
        elif action == Action.PRESENCE:
            self._acknowledged(connection, message, self._presence)
        elif action == Action.ANNOTATION:
            self._acknowledged(connection, message, self._annotate)
        elif action == Action.AUTH:
            return self._reauthorize(connection, message)
        elif action == Action.SYNC:
            self._channel_action(connection, message, self._sync)
        else:
            raise bad_request(f"Unexpected protocol message action {action}")
        return True

    def _channel_action(
        self, connection: Connection, message: ProtocolMessage, handler: ChannelHandler
    ) -> None:
        try:
            handler(connection, validate_channel_name(message.get("channel")), message)
        except AblyError as error:
            refusal = {"action": Action.ERROR, "channel": message.get("channel"), "error": error.to_wire()}
            connection.send(refusal)

    def _acknowledged(
        self, connection: Connection, message: ProtocolMessage, handler: PublishHandler
    ) -> None:
        serial = optional_int(message, "msgSerial")
        if serial is None:
            raise bad_request("MESSAGE, PRESENCE and ANNOTATION need a numeric msgSerial")
        try:
            serials = handler(connection, validate_channel_name(message.get("channel")), message)
        except AblyError as error:
            nack = {"action": Action.NACK, "msgSerial": serial, "count": 1, "error": error.to_wire()}
            connection.send(nack)
        else:
            ack: ProtocolMessage = {"action": Action.ACK, "msgSerial": serial, "count": 1}
            if serials is not None:
                ack["res"] = [{"serials": serials}]
            connection.send(ack)

    # --- channels ------------------------------------------------------------------------------------

    def channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            namespace = name.partition(":")[0] if ":" in name else None
            persisted = namespace in self.config.persisted_namespaces
            limits = self.limits
            channel = self.channels[name] = Channel(
                name,
                self.history.new_log(persisted),
                PresenceSet(
                    limits.presence_members_per_channel,
                    limits.presence_bytes_per_channel,
                    self.presence_budget,
                ),
            )
            if namespace in self.config.mutable_namespaces:
                channel.messages = MessageStore()
        return channel

    def _release_if_idle(self, name: str) -> None:
        channel = self.channels.get(name)
        if channel is not None and channel.idle:
            del self.channels[name]

    def _attach(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        request = parse_attach(message)
        granted = _granted_modes(operations_on(connection.credentials.capability, name))
        if not granted:
            raise capability_denied("attach", name)
        if (
            name not in connection.attached
            and len(connection.attached) >= self.limits.channels_per_connection
        ):
            raise AblyError(90010, 400, f"Too many channels (limit {self.limits.channels_per_connection})")
        modes = granted & (request.modes or DEFAULT_MODES)
        channel = self.channel(name)
        channel.attached[connection.id] = modes
        connection.attached[name] = request.modes
        flags = modes
        replay: list[Event] = []
        # A resumed connection continues where its transport dropped, even if the client has no serial.
        serial = optional_text(message, "channelSerial") or connection.resume_from.pop(name, None)
        channel.resumable.discard(connection.id)
        if serial:
            events = channel.log.after(_position(serial))
            if events is not None:
                flags |= Flag.RESUMED
                replay = list(events)
        elif request.rewind is not None and not request.resume:
            replay = self._rewound(channel, request.rewind)
            if replay:
                flags |= Flag.HAS_BACKLOG
        members = channel.presence.members.values() if modes & Flag.PRESENCE_SUBSCRIBE else ()
        present = [to_json_item(member) if connection.fmt == JSON else member for member in members]
        if present:
            flags |= Flag.HAS_PRESENCE
        attached: ProtocolMessage = {
            "action": Action.ATTACHED,
            "channel": name,
            "flags": flags,
            "channelSerial": channel.position,
        }
        if request.params:
            attached["params"] = request.params
        connection.send(attached)
        last_sent: str | None = None
        for event in replay:
            if _wants(connection, modes, event):
                connection.send_frame(event.frame(connection.fmt))
                if event.action == Action.MESSAGE:
                    last_sent = event.items[-1]["id"]
        if request.delta:
            channel.delta_subscribers[connection.id] = last_sent
        else:
            channel.delta_subscribers.pop(connection.id, None)
        if present:
            sync_id = secrets.token_hex(4)
            connection.send(
                {"action": Action.SYNC, "channel": name, "channelSerial": f"{sync_id}:", "presence": present}
            )

    def _rewound(self, channel: Channel, rewind: Rewind) -> list[Event]:
        messages = self.history_of(channel.name)
        if rewind.milliseconds is not None:
            since = self.clock() - rewind.milliseconds
            messages = [event for event in messages if event.timestamp >= since]
        count = rewind.messages if rewind.messages is not None else len(messages)
        return messages[-count:] if count else []

    def _sync(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        """A client may ask for the presence set again (RTP18): answer with a fresh SYNC."""
        channel = self.channels.get(name)
        modes = channel.attached.get(connection.id) if channel is not None else None
        if channel is None or modes is None:
            raise AblyError(90001, 400, f"Channel {name!r} is not attached")
        present = [member for member in channel.presence.members.values()]
        if connection.fmt == JSON:
            present = [to_json_item(member) for member in present]
        sync_id = secrets.token_hex(4)
        connection.send(
            {"action": Action.SYNC, "channel": name, "channelSerial": f"{sync_id}:", "presence": present}
        )

    def _detach_message(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        self._detach(connection, name)
        connection.send({"action": Action.DETACHED, "channel": name})

    def _detach(self, connection: Connection, name: str) -> None:
        connection.attached.pop(name, None)
        connection.resume_from.pop(name, None)
        channel = self.channels.get(name)
        if channel is not None:
            channel.attached.pop(connection.id, None)
            channel.delta_subscribers.pop(connection.id, None)
            channel.resumable.discard(connection.id)
            self._release_if_idle(name)

    def _publish(self, connection: Connection, name: str, message: ProtocolMessage) -> list[str]:
        credentials = connection.credentials
        if "publish" not in operations_on(credentials.capability, name):
            raise capability_denied("publish", name)
        self._require_mode(connection, name, Flag.PUBLISH, "publish")
        items = self.checked_messages(items_of(message, "messages"), credentials)
        if any(item.get("action", MessageAction.CREATE) != MessageAction.CREATE for item in items):
            return [self.mutate(name, item, credentials) for item in items]
        own_client_id = connection.client_id if connection.client_id != WILDCARD_CLIENT_ID else None
        event = self.publish(name, items, connection.id, message["msgSerial"], own_client_id)
        return [item["serial"] for item in event.items]

    def _require_mode(self, connection: Connection, name: str, mode: int, what: str) -> None:
        """An attachment made without a mode may not use it, whatever the capability allows (40165)."""
        channel = self.channels.get(name)
        modes = channel.attached.get(connection.id) if channel is not None else None
        if modes is not None and not modes & mode:
            raise AblyError(40165, 401, f"Channel {name!r} was attached without the {what} mode")

    def checked_messages(self, raw: list[dict[str, Any]], credentials: Credentials) -> list[dict[str, Any]]:
        """Messages as they may be published: well-formed, within maxMessageSize, with a permitted
        clientId. Shared by the realtime and REST paths."""
        limits = self.limits
        if len(raw) > limits.max_messages_per_publish:
            raise AblyError(
                40034, 400, f"Too many messages in one publish (limit {limits.max_messages_per_publish})"
            )
        items = [message_from(item, limits.max_nesting_depth) for item in raw]
        size = sum(message_size(item) for item in items)
        if size > limits.max_message_size:
            raise message_too_large(size, limits.max_message_size)
        for item in items:
            client_id = item.get("clientId")
            if client_id is not None and not credentials.may_act_as(client_id):
                raise invalid_client_id(f"Message clientId {client_id!r} does not match the connection's")
        return items

    def publish(
        self,
        name: str,
        items: list[dict[str, Any]],
        connection_id: str,
        msg_serial: int | str,
        client_id: str | None = None,
    ) -> Event:
        """Stamp, record and fan out checked messages (from a realtime connection or the REST API)."""
        timestamp = self.clock()
        message_id = f"{connection_id}:{msg_serial}"
        size = 0
        position = self.history.next_position
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
        channel = self.channel(name)
        event = self.history.record(name, channel.log, outgoing, connection_id, timestamp, size)
        if channel.last_payload is not None:
            event.delta = DeltaVersion(channel.last_payload, outgoing)
        channel.last_payload = payload_of(items[-1])
        if channel.messages is not None:
            channel.messages.forget_before(channel.log.start)
            for item in items:
                channel.messages.add(item["serial"], event.position, item)
        self._fan_out(channel, event)
        return event

    # --- updates, deletes, appends and annotations ------------------------------------------------------

    def message_store(self, name: str) -> MessageStore:
        store = self.channel(name).messages
        if store is None:
            raise NOT_ENABLED
        return store

    def mutate(self, name: str, change: dict[str, Any], credentials: Credentials) -> str:
        """Apply one update, delete or append to a published message; returns the new version's serial."""
        action = change.get("action")
        if action not in MUTATIONS:
            raise bad_request("A change needs action update (1), delete (2) or append (5)")
        record = self.message_store(name).get(change.get("serial"))
        self._require_right(credentials, name, action, record.latest.get("clientId"))
        channel = self.channel(name)
        timestamp = max(self.clock(), record.latest["timestamp"] + 1)
        version_serial = message_serial(self.history.next_position, 0)
        delivered = apply_mutation(record, change, version_of(change, version_serial, timestamp))
        connection_id = str(delivered.get("connectionId", ""))
        outgoing: ProtocolMessage = {
            "action": Action.MESSAGE,
            "channel": name,
            "id": f"{delivered['id']}:{version_serial}",
            "connectionId": connection_id,
            "timestamp": timestamp,
            "messages": [delivered],
        }
        size = message_size(delivered)
        event = self.history.record(name, channel.log, outgoing, connection_id, timestamp, size)
        channel.last_payload = None  # the next message goes in full to delta subscribers
        self._fan_out(channel, event)
        return version_serial

    def _require_right(self, credentials: Credentials, name: str, action: int, author: object) -> None:
        """Updates and appends need message-update-any, or -own on one's own message; deletes alike."""
        verb = "delete" if action == MessageAction.DELETE else "update"
        operations = operations_on(credentials.capability, name)
        if f"message-{verb}-any" in operations:
            return
        if f"message-{verb}-own" in operations:
            if credentials.client_id in (None, WILDCARD_CLIENT_ID):
                raise AblyError(40166, 401, f"An unidentified client cannot {verb} its own messages")
            if author == credentials.client_id:
                return
        raise capability_denied(f"message-{verb}", name)

    def _annotate(self, connection: Connection, name: str, message: ProtocolMessage) -> list[str]:
        self._require_mode(connection, name, Flag.ANNOTATION_PUBLISH, "annotation_publish")
        own = connection.client_id if connection.client_id != WILDCARD_CLIENT_ID else None
        return self.annotate(
            name, items_of(message, "annotations"), connection.credentials, connection.id, own
        )

    def annotate(
        self,
        name: str,
        raw: list[dict[str, Any]],
        credentials: Credentials,
        connection_id: str,
        client_id: str | None,
    ) -> list[str]:
        """Record annotations on published messages, fan them out, then each message's new summary."""
        if "annotation-publish" not in operations_on(credentials.capability, name):
            raise capability_denied("annotation-publish", name)
        store = self.message_store(name)
        annotations = [annotation_from(item, self.limits.max_nesting_depth) for item in raw]
        size = sum(message_size(item) for item in annotations)
        if size > self.limits.max_message_size:
            raise message_too_large(size, self.limits.max_message_size)
        records = [store.get(item.get("messageSerial")) for item in annotations]
        for item in annotations:
            if item.get("clientId") is not None and not credentials.may_act_as(item["clientId"]):
                raise invalid_client_id("Annotation clientId does not match the connection's")
        channel = self.channel(name)
        timestamp = self.clock()
        position = self.history.next_position
        for index, item in enumerate(annotations):
            if client_id is not None:
                item.setdefault("clientId", client_id)
            item.setdefault("id", f"{connection_id}:{position}:{index}")
            item["serial"] = message_serial(position, index)
            item["connectionId"] = connection_id
            item["timestamp"] = timestamp
        outgoing: ProtocolMessage = {
            "action": Action.ANNOTATION,
            "channel": name,
            "connectionId": connection_id,
            "timestamp": timestamp,
            "annotations": annotations,
        }
        event = self.history.record(name, channel.log, outgoing, connection_id, timestamp, size)
        self._fan_out(channel, event)
        for record, item in zip(records, annotations, strict=True):
            record.annotations.append(item)
        for record in {id(record): record for record in records}.values():
            self._send_summary(channel, record)
        return [item["serial"] for item in annotations]

    def _send_summary(self, channel: Channel, record: MessageRecord) -> None:
        timestamp = self.clock()
        rolled = {
            "action": MessageAction.SUMMARY,
            "serial": record.latest["serial"],
            "id": record.latest["id"],
            "timestamp": timestamp,
            "annotations": {"summary": summary(record.annotations)},
        }
        outgoing: ProtocolMessage = {"action": Action.MESSAGE, "channel": channel.name, "messages": [rolled]}
        event = self.history.record(channel.name, channel.log, outgoing, "", timestamp, message_size(rolled))
        channel.last_payload = None
        self._fan_out(channel, event)

    def _fan_out(self, channel: Channel, event: Event) -> None:
        """Every subscriber gets the event; one that cannot be served never stops the others."""
        connections = self.connections
        deltas = channel.delta_subscribers if event.action == Action.MESSAGE else None
        frames: dict[str, str | bytes | None] = {}
        for connection_id, modes in channel.attached.items():
            target = connections[connection_id]
            if not _wants(target, modes, event):
                continue
            fmt = target.fmt
            if deltas and connection_id in deltas:
                frame = _delta_or_full(deltas, connection_id, event, fmt)
            else:
                if fmt not in frames:
                    frames[fmt] = _encoded(event, fmt)
                frame = frames[fmt]
            if frame is not None:
                target.send_frame(frame)

    # --- presence ------------------------------------------------------------------------------------

    def _presence(self, connection: Connection, name: str, message: ProtocolMessage) -> list[str] | None:
        credentials = connection.credentials
        if "presence" not in operations_on(credentials.capability, name):
            raise capability_denied("presence", name)
        if name not in connection.attached:
            raise AblyError(90001, 400, f"Presence needs the channel attached first: {name!r}")
        self._require_mode(connection, name, Flag.PRESENCE, "presence")
        depth = self.limits.max_nesting_depth
        items = [presence_from(item, depth) for item in items_of(message, "presence")]
        size = sum(message_size(item) for item in items)
        if size > self.limits.max_message_size:
            raise message_too_large(size, self.limits.max_message_size)
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
        channel = self.channel(name)
        channel.presence.check_room(items)
        message_id = f"{connection.id}:{message['msgSerial']}"
        self._record_presence(channel, items, connection.id, message_id)
        if channel.presence.of_connection(connection.id):
            connection.present_on.add(name)
        else:
            connection.present_on.discard(name)
        return None

    def _record_presence(
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
        event = self.history.record(channel.name, channel.log, outgoing, connection_id, timestamp, size)
        self._fan_out(channel, event)

    def enter_fixture(self, name: str, item: dict[str, Any]) -> None:
        """A presence member that no connection owns (sandbox fixtures): present until the app goes."""
        channel = self.channel(name)
        member = presence_from({**item, "action": PresenceAction.ENTER}, self.limits.max_nesting_depth)
        member["connectionId"] = "fixtures"
        channel.presence.check_room([member])
        self._record_presence(channel, [member], "fixtures", f"fixtures:{len(channel.presence.members)}")

    def _leave_all(self, connection: Connection) -> None:
        for name in list(connection.present_on):
            channel = self.channels.get(name)
            members = channel.presence.of_connection(connection.id) if channel is not None else []
            if channel is not None and members:
                leaves = [
                    {k: v for k, v in member.items() if k != "id"} | {"action": PresenceAction.LEAVE}
                    for member in members
                ]
                # A synthesized leave's id must not start with the connectionId: clients then order it
                # against the member's last event by timestamp (RTP2b1), not by msgSerial.
                self._record_presence(channel, leaves, connection.id, f"synthesized-{secrets.token_hex(6)}:0")
                self._release_if_idle(name)
        connection.present_on.clear()

    # --- auth on a live connection -------------------------------------------------------------------

    def _reauthorize(self, connection: Connection, message: ProtocolMessage) -> bool:
        auth = message.get("auth")
        token = auth.get("accessToken") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise bad_request("AUTH needs auth.accessToken")
        credentials = self.authority.token(token)
        if connection.client_id not in (None, credentials.client_id):
            raise invalid_client_id("A renewed token may not change the connection's clientId")
        if credentials.key_name != connection.credentials.key_name:
            raise AblyError(40102, 401, "A renewed token must come from the same key")
        connection.credentials = credentials
        self._schedule_renewal(connection)
        self._send_connected(connection, None)
        self._recheck_attachments(connection)
        return True

    def _recheck_attachments(self, connection: Connection) -> None:
        """After a credential change, each attachment holds only what the new capability grants: a
        channel no longer permitted fails with 40160, one with changed modes is told its new modes."""
        for name, requested in list(connection.attached.items()):
            channel = self.channels.get(name)
            if channel is None or connection.id not in channel.attached:
                continue
            granted = _granted_modes(operations_on(connection.credentials.capability, name))
            modes = granted & (requested or DEFAULT_MODES)
            if not modes:
                self._detach(connection, name)
                error = capability_denied("attach", name)
                connection.send({"action": Action.ERROR, "channel": name, "error": error.to_wire()})
            elif modes != channel.attached[connection.id]:
                channel.attached[connection.id] = modes
                connection.send(
                    {
                        "action": Action.ATTACHED,
                        "channel": name,
                        "flags": modes | Flag.RESUMED,
                        "channelSerial": channel.position,
                    }
                )

    def _schedule_renewal(self, connection: Connection) -> None:
        """Ask for renewal ahead of expiry only when the token outlives the lead time; a shorter token is
        left to expire (DISCONNECTED 40142), which a client with a way to renew answers by reconnecting."""
        expires = connection.credentials.expires
        lead = self.config.token_renewal_lead_ms
        if expires is None or expires - self.clock() <= lead:
            self._renew_at.pop(connection.id, None)
        else:
            self._renew_at[connection.id] = expires - lead

    # --- timers ----------------------------------------------------------------------------------------

    def tick(self) -> list[Connection]:
        """Run due timers; returns live connections whose transport must now be closed."""
        now = self.clock()
        config = self.config
        for connection in list(self._lost.values()):
            lost_for = now - (connection.transport_lost_at or now)
            if lost_for >= config.connection_state_ttl_ms:
                self.close(connection)
            elif lost_for >= config.presence_grace_ms and connection.present_on:
                self._leave_all(connection)
        to_close: list[Connection] = []
        for connection in self.connections.values():
            if not connection.live:
                continue
            expires = connection.credentials.expires
            if expires is not None and expires <= now:
                error = AblyError(40142, 401, "Token expired")
                connection.send({"action": Action.DISCONNECTED, "error": error.to_wire()})
                connection.closing = True
                to_close.append(connection)
            elif self._renew_at.get(connection.id, now + 1) <= now:
                del self._renew_at[connection.id]
                connection.send({"action": Action.AUTH})
        self.history.expire(now)
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + config.max_idle_interval_ms // 2
            self.authority.forget_expired()
            for connection in self.connections.values():
                connection.send({"action": Action.HEARTBEAT})
        return to_close

    # --- REST views --------------------------------------------------------------------------------------

    def history_of(self, name: str, action: int = Action.MESSAGE) -> list[Event]:
        channel = self.channels.get(name)
        if channel is None:
            return []
        if action == Action.MESSAGE and channel.messages is not None:
            return self._latest_versions(channel)
        return [event for event in channel.log.events if event.action == action]

    def _latest_versions(self, channel: Channel) -> list[Event]:
        """A mutable channel's history: each message once, as its latest version, in publish order."""
        assert channel.messages is not None
        channel.messages.forget_before(channel.log.start)
        return [
            Event(
                record.position,
                {"action": Action.MESSAGE, "channel": channel.name, "messages": [record.latest]},
                record.latest.get("connectionId", ""),
                record.latest["timestamp"],
                0,
                "messages",
            )
            for record in channel.messages.records.values()
        ]

    def present_members(self, name: str) -> list[dict[str, Any]]:
        channel = self.channels.get(name)
        return list(channel.presence.members.values()) if channel else []


def _granted_modes(operations: frozenset[str]) -> int:
    modes = 0
    if "publish" in operations:
        modes |= Flag.PUBLISH
    if "subscribe" in operations:
        modes |= Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE
    if "presence" in operations:
        modes |= Flag.PRESENCE
    if "annotation-publish" in operations:
        modes |= Flag.ANNOTATION_PUBLISH
    if "annotation-subscribe" in operations:
        modes |= Flag.ANNOTATION_SUBSCRIBE
    if "object-subscribe" in operations:
        modes |= Flag.OBJECT_SUBSCRIBE
    if "object-publish" in operations:
        modes |= Flag.OBJECT_PUBLISH
    return modes


def _wants(connection: Connection, modes: int, event: Event) -> bool:
    if event.action == Action.MESSAGE:
        return bool(modes & Flag.SUBSCRIBE) and (connection.echo or event.connection_id != connection.id)
    if event.action == Action.ANNOTATION:
        return bool(modes & Flag.ANNOTATION_SUBSCRIBE)
    return bool(modes & Flag.PRESENCE_SUBSCRIBE)


def _delta_or_full(
    deltas: dict[str, str | None], connection_id: str, event: Event, fmt: str
) -> str | bytes | None:
    """A delta when the subscriber holds the message it patches; otherwise the full messages."""
    holds = deltas[connection_id]
    deltas[connection_id] = event.items[-1]["id"]
    if event.delta is not None and holds == event.delta.patches:
        try:
            return event.delta.frame(fmt)
        except (TypeError, ValueError, OverflowError):
            log.exception("delta for event %s could not be encoded; sending it in full", event.position)
    return _encoded(event, fmt)


def _encoded(event: Event, fmt: str) -> str | bytes | None:
    """An event's frame, or None if it cannot be encoded (input checks should make that impossible)."""
    try:
        return event.frame(fmt)
    except (TypeError, ValueError, OverflowError):
        log.exception(
            "event %s could not be encoded as %s; its %s subscribers skip it", event.position, fmt, fmt
        )
        return None


def _position(serial: str) -> int:
    try:
        return int(serial)
    except ValueError:
        return -1


def _same_identity(previous: Credentials, presented: Credentials) -> bool:
    """A resume must come from the key and clientId the connection was made with."""
    return previous.key_name == presented.key_name and previous.client_id == presented.client_id

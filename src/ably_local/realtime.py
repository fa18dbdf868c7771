"""The realtime service without sockets: connections in, protocol messages out.

Everything here is plain method calls on plain objects, so the protocol is tested frame by frame with no
network. `tick()` does what the real service does on timers (heartbeats, token expiry, presence grace,
dropping connections nobody resumed); the network layer calls it periodically.
"""

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ably_local.auth import WILDCARD_CLIENT_ID, Authority, Clock, Credentials, now_ms
from ably_local.capability import operations_on
from ably_local.channels import Channel, Event, validate_channel_name
from ably_local.connection import Connection, noop
from ably_local.errors import AblyError, bad_request, capability_denied, invalid_client_id, message_too_large
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

ChannelHandler = Callable[[Connection, str, ProtocolMessage], None]


@dataclass(frozen=True)
class ServiceConfig:
    max_message_size: int = 65536
    max_frame_size: int = 524288
    connection_state_ttl_ms: int = 120_000
    max_idle_interval_ms: int = 15_000
    presence_grace_ms: int = 15_000
    token_renewal_lead_ms: int = 30_000
    history_limit: int = 10_000
    server_id: str = "ably-local"


class RealtimeService:
    def __init__(self, authority: Authority, config: ServiceConfig | None = None, clock: Clock = now_ms):
        self.authority = authority
        self.config = config or ServiceConfig()
        self.clock = clock
        self.connections: dict[str, Connection] = {}
        self.by_key: dict[str, Connection] = {}
        self.channels: dict[str, Channel] = {}
        self._renew_at: dict[str, int] = {}
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
            if previous is not None and previous.credentials.key_name == credentials.key_name:
                return self._resume(previous, credentials, fmt, params)
            resume_error = AblyError(80008, 400, "Unable to recover connection: not found or expired")
        connection = Connection(
            id=secrets.token_urlsafe(9), credentials=credentials, fmt=fmt, echo=params.get("echo") != "false"
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
        connection.transport_lost_at = None
        connection.generation += 1
        superseded_wake, connection.wake = connection.wake, noop  # the new transport sets its own
        superseded_wake()  # lets the old transport's writer see it is superseded and close its socket
        connection.closing = False
        connection.credentials = credentials
        connection.fmt = fmt
        connection.echo = params.get("echo") != "false"
        connection.outbox = []
        self._schedule_renewal(connection)
        self._send_connected(connection, None)
        return connection

    def _send_connected(self, connection: Connection, error: AblyError | None) -> None:
        config = self.config
        details: dict[str, Any] = {
            "connectionKey": connection.key,
            "maxMessageSize": config.max_message_size,
            "maxFrameSize": config.max_frame_size,
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
        if connection.id in self.connections and connection.live:
            connection.transport_lost_at = self.clock()
            self._stop_delivery(connection)

    def _stop_delivery(self, connection: Connection) -> None:
        """Nothing is delivered until the resumed client re-attaches with its last channelSerial;
        the ATTACH then replays the gap and rejoins live delivery in one step, keeping order."""
        connection.outbox = []
        for name in connection.attached:
            channel = self.channels.get(name)
            if channel is not None and channel.attached.pop(connection.id, None) is not None:
                connection.resume_from[name] = channel.position

    def close(self, connection: Connection) -> None:
        """An explicit CLOSE: presence members leave at once and the connection cannot be resumed."""
        for name in list(connection.attached):
            self._detach(connection, name)
        self._leave_all(connection)
        self.connections.pop(connection.id, None)
        self.by_key.pop(connection.key, None)
        self._renew_at.pop(connection.id, None)

    # --- frames from a client ------------------------------------------------------------------------

    def receive(self, connection: Connection, frame: str | bytes) -> bool:
        """Handle one frame; False means the transport should be closed once the outbox is flushed."""
        try:
            message = decode_frame(frame, connection.fmt)
            return self._dispatch(connection, message)
        except AblyError as error:
            connection.send({"action": Action.ERROR, "error": error.to_wire()})
            return False

    def _dispatch(self, connection: Connection, message: ProtocolMessage) -> bool:
        action = message["action"]
        if action == Action.HEARTBEAT:
            reply: ProtocolMessage = {"action": Action.HEARTBEAT}
            if "id" in message:
                reply["id"] = message["id"]
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
        elif action == Action.AUTH:
            return self._reauthorize(connection, message)
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
        self, connection: Connection, message: ProtocolMessage, handler: ChannelHandler
    ) -> None:
        serial = message.get("msgSerial")
        if not isinstance(serial, int):
            raise bad_request("MESSAGE and PRESENCE need a numeric msgSerial")
        try:
            handler(connection, validate_channel_name(message.get("channel")), message)
        except AblyError as error:
            nack = {"action": Action.NACK, "msgSerial": serial, "count": 1, "error": error.to_wire()}
            connection.send(nack)
        else:
            connection.send({"action": Action.ACK, "msgSerial": serial, "count": 1})

    # --- channels ------------------------------------------------------------------------------------

    def channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = Channel(name, self.config.history_limit)
        return channel

    def _attach(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        operations = operations_on(connection.credentials.capability, name)
        if not operations:
            raise capability_denied("attach", name)
        modes = _granted_modes(operations)
        requested = int(message.get("flags") or 0) & Flag.MODES
        if requested:
            modes &= requested
        channel = self.channel(name)
        channel.attached[connection.id] = modes
        connection.attached[name] = modes
        flags = modes
        missed: list[Event] = []
        # A resumed connection continues where its transport dropped, even if the client has no serial.
        serial = message.get("channelSerial") or connection.resume_from.get(name)
        connection.resume_from.pop(name, None)
        if isinstance(serial, str) and serial:
            events = channel.events_after(serial)
            if events is not None:
                flags |= Flag.RESUMED
                missed = list(events)
        members = [m.item for m in channel.members.values()] if modes & Flag.PRESENCE_SUBSCRIBE else []
        if connection.fmt == JSON:
            members = [to_json_item(member) for member in members]
        if members:
            flags |= Flag.HAS_PRESENCE
        connection.send(
            {"action": Action.ATTACHED, "channel": name, "flags": flags, "channelSerial": channel.position}
        )
        for event in missed:
            if self._wants(connection, modes, event):
                connection.send_frame(event.frame(connection.fmt))
        if members:
            sync_id = secrets.token_hex(4)
            connection.send(
                {"action": Action.SYNC, "channel": name, "channelSerial": f"{sync_id}:", "presence": members}
            )

    def _detach_message(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        self._detach(connection, name)
        connection.send({"action": Action.DETACHED, "channel": name})

    def _detach(self, connection: Connection, name: str) -> None:
        connection.attached.pop(name, None)
        channel = self.channels.get(name)
        if channel is not None:
            channel.attached.pop(connection.id, None)
            if channel.idle and channel.next_serial == 0:
                del self.channels[name]

    def _publish(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        items = _items(message, "messages")
        credentials = connection.credentials
        if "publish" not in operations_on(credentials.capability, name):
            raise capability_denied("publish", name)
        size = sum(_message_size(item) for item in items)
        if size > self.config.max_message_size:
            raise message_too_large(size, self.config.max_message_size)
        own_client_id = connection.client_id if connection.client_id != WILDCARD_CLIENT_ID else None
        for item in items:
            client_id = item.get("clientId")
            if client_id is not None and not credentials.may_act_as(client_id):
                raise invalid_client_id(f"Message clientId {client_id!r} does not match the connection's")
        self.publish(name, items, connection.id, message["msgSerial"], own_client_id)

    def publish(
        self,
        name: str,
        items: list[dict[str, Any]],
        connection_id: str,
        msg_serial: int | str,
        client_id: str | None = None,
    ) -> Event:
        """Stamp, record and fan out messages (from a realtime connection or the REST API)."""
        timestamp = self.clock()
        message_id = f"{connection_id}:{msg_serial}"
        for index, item in enumerate(items):
            item.setdefault("id", f"{message_id}:{index}")
            item["connectionId"] = connection_id
            item["timestamp"] = timestamp
            if client_id is not None:
                item.setdefault("clientId", client_id)
        outgoing: ProtocolMessage = {
            "action": Action.MESSAGE,
            "channel": name,
            "id": message_id,
            "connectionId": connection_id,
            "timestamp": timestamp,
            "messages": items,
        }
        channel = self.channel(name)
        event = channel.record(outgoing, connection_id, timestamp)
        self._fan_out(channel, event)
        return event

    def _fan_out(self, channel: Channel, event: Event) -> None:
        connections = self.connections
        for connection_id, modes in channel.attached.items():
            target = connections[connection_id]
            if self._wants(target, modes, event):
                target.send_frame(event.frame(target.fmt))

    @staticmethod
    def _wants(connection: Connection, modes: int, event: Event) -> bool:
        if event.action == Action.MESSAGE:
            return bool(modes & Flag.SUBSCRIBE) and (connection.echo or event.connection_id != connection.id)
        return bool(modes & Flag.PRESENCE_SUBSCRIBE)

    # --- presence ------------------------------------------------------------------------------------

    def _presence(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        items = _items(message, "presence")
        credentials = connection.credentials
        if "presence" not in operations_on(credentials.capability, name):
            raise capability_denied("presence", name)
        for item in items:
            if item.get("action") not in (PresenceAction.ENTER, PresenceAction.LEAVE, PresenceAction.UPDATE):
                raise bad_request("Presence action must be enter, leave or update")
            client_id = item.get("clientId") or connection.client_id
            if client_id is None or client_id == WILDCARD_CLIENT_ID:
                raise AblyError(91000, 400, "Unable to enter presence channel (no clientId)")
            if "clientId" in item and not credentials.may_act_as(item["clientId"]):
                raise invalid_client_id("Presence clientId does not match the connection's")
            item["clientId"] = client_id
        message_id = f"{connection.id}:{message['msgSerial']}"
        self._record_presence(self.channel(name), items, connection.id, message_id)

    def _record_presence(
        self, channel: Channel, items: list[dict[str, Any]], connection_id: str, message_id: str
    ) -> None:
        timestamp = self.clock()
        for index, item in enumerate(items):
            item.setdefault("id", f"{message_id}:{index}")
            item["connectionId"] = connection_id
            item["timestamp"] = timestamp
            channel.apply_presence(item)
        outgoing: ProtocolMessage = {
            "action": Action.PRESENCE,
            "channel": channel.name,
            "id": message_id,
            "connectionId": connection_id,
            "timestamp": timestamp,
            "presence": items,
        }
        self._fan_out(channel, channel.record(outgoing, connection_id, timestamp))

    def _leave_all(self, connection: Connection) -> None:
        for channel in list(self.channels.values()):
            members = channel.members_of(connection.id)
            if members:
                leaves = [
                    {k: v for k, v in member.item.items() if k != "id"} | {"action": PresenceAction.LEAVE}
                    for member in members
                ]
                # A synthesized leave's id must not start with the connectionId: clients then order it
                # against the member's last event by timestamp (RTP2b1), not by msgSerial.
                self._record_presence(channel, leaves, connection.id, f"synthesized-{secrets.token_hex(6)}:0")
            if channel.idle and channel.next_serial == 0:
                del self.channels[channel.name]

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
        return True

    def _schedule_renewal(self, connection: Connection) -> None:
        expires = connection.credentials.expires
        if expires is None:
            self._renew_at.pop(connection.id, None)
            return
        lifetime = max(expires - self.clock(), 0)
        lead = min(self.config.token_renewal_lead_ms, lifetime * 9 // 10)
        self._renew_at[connection.id] = expires - lead

    # --- timers ----------------------------------------------------------------------------------------

    def tick(self) -> list[Connection]:
        """Run due timers; returns live connections whose transport must now be closed."""
        now = self.clock()
        to_close: list[Connection] = []
        for connection in list(self.connections.values()):
            lost_at = connection.transport_lost_at
            if lost_at is not None:
                if now - lost_at >= self.config.connection_state_ttl_ms:
                    self.close(connection)
                elif now - lost_at >= self.config.presence_grace_ms:
                    self._leave_all(connection)
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
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.config.max_idle_interval_ms // 2
            self.authority.forget_expired()
            for connection in self.connections.values():
                connection.send({"action": Action.HEARTBEAT})
        return to_close

    # --- REST views --------------------------------------------------------------------------------------

    def history(self, name: str) -> list[Event]:
        channel = self.channels.get(name)
        if channel is None:
            return []
        return [event for event in channel.log if event.action == Action.MESSAGE]

    def present_members(self, name: str) -> list[dict[str, Any]]:
        channel = self.channels.get(name)
        return [member.item for member in channel.members.values()] if channel else []


def _granted_modes(operations: frozenset[str]) -> int:
    modes = 0
    if "publish" in operations:
        modes |= Flag.PUBLISH
    if "subscribe" in operations:
        modes |= Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE
    if "presence" in operations:
        modes |= Flag.PRESENCE
    return modes


def _items(message: ProtocolMessage, field: str) -> list[dict[str, Any]]:
    items = message.get(field)
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise bad_request(f"Protocol message needs a non-empty list of {field}")
    return items


def _message_size(item: Mapping[str, Any]) -> int:
    """Ably counts data, name, clientId and extras toward maxMessageSize."""
    size = 0
    for field in ("data", "name", "clientId"):
        value = item.get(field)
        if isinstance(value, str):
            size += len(value.encode())
        elif isinstance(value, bytes | bytearray):
            size += len(value)
    extras = item.get("extras")
    if extras is not None:
        size += len(str(extras))
    return size

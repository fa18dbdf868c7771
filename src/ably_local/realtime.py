"""The realtime service without sockets: connections in, protocol messages out.

Everything here is plain method calls on plain objects, so the protocol is tested frame by frame with no
network. `tick()` does what the real service does on timers (heartbeats, token expiry, presence grace,
history retention, dropping connections nobody resumed); the network layer calls it periodically.
"""

import dataclasses
import logging
import secrets
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ably_local import replay
from ably_local.auth import WILDCARD_CLIENT_ID, Authority, Clock, Credentials, now_ms
from ably_local.budgets import ServiceBudgets
from ably_local.channel_params import parse_attach
from ably_local.channels import Channel, ChannelTable, validate_channel_name
from ably_local.config import ServiceConfig
from ably_local.connection import Connection, OutboxShare, noop
from ably_local.errors import AblyError, bad_request, capability_denied, invalid_client_id
from ably_local.fanout import Delivery, wants
from ably_local.filters import is_filtered
from ably_local.history import Event
from ably_local.inbound import items_of, optional_int, optional_text
from ably_local.messaging import Messaging
from ably_local.mutations import MessageAction
from ably_local.presence import Presence
from ably_local.presence_sync import PresenceSync
from ably_local.protocol import (
    FORMATS,
    JSON,
    SUPPORTED_PROTOCOL_VERSIONS,
    Action,
    Flag,
    ProtocolMessage,
    decode_frame,
)
from ably_local.rate_limits import InboundRates, RateLimitError
from ably_local.stats import AppStats

log = logging.getLogger("ably_local")
ChannelHandler = Callable[[Connection, str, ProtocolMessage], None]
# A MESSAGE or ANNOTATION handler returns the serials it assigned, for the ACK's `res`.
PublishHandler = Callable[[Connection, str, ProtocolMessage], list[str] | None]
DEFAULT_MODES = (
    Flag.PRESENCE | Flag.PUBLISH | Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE | Flag.ANNOTATION_PUBLISH
)
INTERNAL_ERROR = AblyError(50000, 500, "Internal error: the service could not handle this frame")
UNRECOVERABLE = AblyError(80018, 400, "Unable to recover connection: invalid or unknown connection key")


class RealtimeService:
    def __init__(
        self,
        authority: Authority,
        config: ServiceConfig | None = None,
        clock: Clock = now_ms,
        budgets: ServiceBudgets | None = None,
    ):
        """`budgets` are the totals this app shares with the service's other apps (None: its own)."""
        self.authority = authority
        self.config = config or ServiceConfig()
        self.limits = self.config.limits
        self.clock = clock
        self.connections: dict[str, Connection] = {}
        self.by_key: dict[str, Connection] = {}
        budgets = budgets or ServiceBudgets.within(self.limits)
        self.outbound, self.live_connections = budgets.outbound, budgets.connections
        self.waiting_to_resume = budgets.waiting_to_resume
        self.table = ChannelTable(self.config, budgets.history, budgets.presence, budgets.channels)
        self.stats = AppStats(self.limits, budgets.stats)
        deliver = Delivery(self.connections, self.stats)
        self.messaging = Messaging(self.table, deliver, self.limits, clock, budgets.idempotency)
        self.presence = Presence(self.table, deliver, self.limits, clock, self._require_mode)
        self._renew_at: dict[str, int] = {}
        self._lost: dict[str, Connection] = {}
        self._outbox_shares: dict[str, OutboxShare] = {}
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
        if not self.live_connections.fits(1):
            raise AblyError(
                40111, 401, f"Too many connections to the service (limit {self.live_connections.limit})"
            )
        connection = Connection(
            id=secrets.token_urlsafe(9),
            credentials=credentials,
            fmt=fmt,
            max_outbox_bytes=self.limits.outbound_buffer_bytes,
            max_burst_bytes=self.limits.attach_burst_bytes,
            rates=InboundRates(self.limits, self.clock()),
            echo=params.get("echo") != "false",
            outbound=self.outbound,
        )
        self.connections[connection.id] = connection
        self.live_connections.used += 1
        self._outbox_shares[connection.id] = share = OutboxShare(connection)
        self.outbound.join(share)
        self.by_key[connection.key] = connection
        self._schedule_renewal(connection)
        self._send_connected(connection, resume_error)
        return connection

    def _credentials(self, params: Mapping[str, str]) -> Credentials:
        key, token = presented_credentials(params)
        if key:
            return self.authority.basic(key)
        if token:
            return self.authority.token(token)
        raise AblyError(40101, 401, "No authentication information: connect with key or access_token")

    def _with_client_id(self, credentials: Credentials, client_id: str) -> Credentials:
        if credentials.client_id not in (None, WILDCARD_CLIENT_ID, client_id):
            raise AblyError(40102, 401, "clientId does not match the token's clientId")
        if client_id == WILDCARD_CLIENT_ID:
            raise invalid_client_id("clientId '*' cannot be used to connect")
        return dataclasses.replace(credentials, client_id=client_id)

    def _resume(
        self, connection: Connection, credentials: Credentials, fmt: str, params: Mapping[str, str]
    ) -> Connection:
        self._stop_delivery(connection)  # the old transport may still be open (a half-open socket)
        if self._lost.pop(connection.id, None) is not None:
            self.live_connections.used += 1
            self.waiting_to_resume.discard(id(connection))
        connection.transport_lost_at = None
        connection.overflowed = False
        connection.generation += 1
        superseded_wake, connection.wake = connection.wake, noop  # the new transport sets its own
        superseded_wake()  # lets the old transport's writer see it is superseded and close its socket
        connection.closing = False
        connection.authorize(credentials)
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
            "maxInboundRate": int(limits.inbound_protocol_message_rate),
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
            self.live_connections.used -= 1
            self._stop_delivery(connection)
            if len(self._lost) > self.limits.connections_per_app:  # the longest lost can no longer resume
                self.close(next(iter(self._lost.values())))
            self.waiting_to_resume.add(id(connection), partial(self.close, connection))

    def _stop_delivery(self, connection: Connection) -> None:
        """Nothing is delivered until the resumed client re-attaches with its last channelSerial;
        the ATTACH then replays the gap and rejoins live delivery in one step, keeping order. After an
        overflow the service no longer knows what the client read, so only the client's serial counts."""
        connection.take_outbox()
        connection.syncs.clear()
        for name in connection.attached:
            channel = self.table.get(name)
            if channel is None or channel.attached.pop(connection.id, None) is None:
                continue
            channel.delta_subscribers.pop(connection.id, None)
            if connection.overflowed:
                self.table.release_if_idle(name)
            else:
                connection.resume_from[name] = channel.position
                channel.resumable.add(connection.id)

    def close(self, connection: Connection) -> None:
        """An explicit CLOSE: presence members leave at once and the connection cannot be resumed."""
        for name in {*connection.attached, *connection.resume_from}:
            self._detach(connection, name)
        self.presence.leave_all(connection)
        was_live = connection.id in self.connections and connection.id not in self._lost
        self.live_connections.used -= was_live
        self.connections.pop(connection.id, None)
        self._lost.pop(connection.id, None)
        self.waiting_to_resume.discard(id(connection))
        self.by_key.pop(connection.key, None)
        self._renew_at.pop(connection.id, None)
        share = self._outbox_shares.pop(connection.id, None)
        if share is not None:
            self.outbound.leave(share)

    # --- frames from a client ------------------------------------------------------------------------

    def receive(self, connection: Connection, frame: str | bytes) -> bool:
        """Handle one frame; False means the transport should be closed once the outbox is flushed.
        Nothing is handled once the connection is closing (frames a client sent after its CLOSE, or after a
        fatal error, in the same read)."""
        if connection.closing:
            return False
        try:
            connection.rates.admit_protocol_message(self.clock())
            message = decode_frame(frame, connection.fmt)
            return self._dispatch(connection, message)
        except AblyError as error:
            if isinstance(error, RateLimitError) and error.fatal:
                self._terminate(connection, error)
            else:
                connection.send({"action": Action.ERROR, "error": error.to_wire()})
        except Exception:
            # A bug, not bad input (that is refused above): only this client's connection pays for it.
            log.exception("frame from connection %s could not be handled", connection.id)
            connection.send({"action": Action.ERROR, "error": INTERNAL_ERROR.to_wire()})
        return False

    def _terminate(self, connection: Connection, error: AblyError) -> None:
        """A fatal error: the client is told (a connection ERROR, which fails an SDK's connection) and the
        connection ends at once, as after a CLOSE: its presence members leave and it cannot be resumed."""
        self.close(connection)
        connection.send({"action": Action.ERROR, "error": error.to_wire()})
        connection.closing = True

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
            handler(connection, validate_channel_name(message.get("channel"), self.limits), message)
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
            name = message.get("channel")
            if not (isinstance(name, str) and name in self.table.channels):  # a known channel is valid
                name = validate_channel_name(name, self.limits)
            serials = handler(connection, name, message)
        except AblyError as error:
            if isinstance(error, RateLimitError) and error.fatal:
                raise
            nack = {"action": Action.NACK, "msgSerial": serial, "count": 1, "error": error.to_wire()}
            connection.send(nack)
        else:
            connection.acknowledge(serial, None if serials is None else {"serials": serials})

    # --- channels ------------------------------------------------------------------------------------

    def _attach(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        request = parse_attach(message)
        granted = _granted_modes(connection.operations_on(name))
        if not granted:
            raise capability_denied("attach", name)
        if (
            name not in connection.attached
            and len(connection.attached) >= self.limits.channels_per_connection
        ):
            raise AblyError(90010, 400, f"Too many channels (limit {self.limits.channels_per_connection})")
        modes = _attachment_modes(name, granted, request.modes)
        if not modes and is_filtered(name):
            raise capability_denied("subscribe", name)
        channel = self.table.channel(name)
        channel.attached[connection.id] = modes
        connection.attached[name] = request.modes
        connection.syncs.pop(name, None)  # a SYNC still going for an earlier attachment is superseded
        flags = modes
        # A resumed connection continues where its transport dropped, even if the client has no serial.
        serial = optional_text(message, "channelSerial") or connection.resume_from.pop(name, None)
        channel.resumable.discard(connection.id)
        room = connection.burst_room()
        fmt = connection.fmt
        replayed = replay.Replay([], None, True)
        if serial:
            events = channel.log.after(_position(serial))
            if events is not None:
                replayed = replay.resume(events, self._wanted_by(connection, modes), fmt, room)
                if replayed.complete:
                    flags |= Flag.RESUMED
        elif request.rewind is not None and not request.resume:
            history = self.messaging.history_of(name)
            wanted = self._wanted_by(connection, modes)
            replayed = replay.rewind(history, request.rewind, self.clock(), wanted, fmt, room)
            if replayed.frames:
                flags |= Flag.HAS_BACKLOG
        present = bool(channel.presence.members) and bool(modes & Flag.PRESENCE_SUBSCRIBE)
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
        if not replayed.complete:
            attached["error"] = replay.TRUNCATED.to_wire()
        connection.send(attached)
        for frame in replayed.frames:
            connection.send_frame(frame)
        if request.delta:
            channel.delta_subscribers[connection.id] = replayed.last_message_id
        else:
            channel.delta_subscribers.pop(connection.id, None)
        if present:
            self._start_sync(connection, channel)

    def _wanted_by(self, connection: Connection, modes: int) -> Callable[[Event], bool]:
        return lambda event: wants(connection, modes, event)

    def _start_sync(self, connection: Connection, channel: Channel) -> None:
        """The presence set in SYNC pages: what fits now, the rest as the client reads (`continue_syncs`)."""
        connection.syncs[channel.name] = PresenceSync(
            channel.name, channel.presence, self.limits.max_message_size
        )
        connection.continue_syncs()

    def _sync(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        """A client may ask for the presence set again (RTP18): answer with a fresh SYNC."""
        channel = self.table.get(name)
        modes = channel.attached.get(connection.id) if channel is not None else None
        if channel is None or modes is None:
            raise AblyError(90001, 400, f"Channel {name!r} is not attached")
        self._start_sync(connection, channel)

    def _detach_message(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        self._detach(connection, name)
        connection.send({"action": Action.DETACHED, "channel": name})

    def _detach(self, connection: Connection, name: str) -> None:
        connection.attached.pop(name, None)
        connection.rates.forget(name)
        connection.resume_from.pop(name, None)
        connection.syncs.pop(name, None)
        channel = self.table.get(name)
        if channel is not None:
            channel.attached.pop(connection.id, None)
            channel.delta_subscribers.pop(connection.id, None)
            channel.resumable.discard(connection.id)
            self.table.release_if_idle(name)

    def _publish(self, connection: Connection, name: str, message: ProtocolMessage) -> list[str]:
        credentials = connection.credentials
        if "publish" not in connection.operations_on(name):
            raise capability_denied("publish", name)
        self._require_mode(connection, name, Flag.PUBLISH, "publish")
        connection.rates.admit_publish(name, credentials.publish_rates, self.clock())
        items = self.messaging.checked_messages(items_of(message, "messages"), credentials, name)
        if any(item.get("action", MessageAction.CREATE) != MessageAction.CREATE for item in items):
            return [self.messaging.mutate(name, item, credentials) for item in items]
        published = self.messaging.publish_once(
            name, items, connection.id, message["msgSerial"], credentials.own_client_id
        )
        return list(published.serials)

    def _require_mode(self, connection: Connection, name: str, mode: int, what: str) -> None:
        """An attachment made without a mode may not use it, whatever the capability allows (40165)."""
        channel = self.table.get(name)
        modes = channel.attached.get(connection.id) if channel is not None else None
        if modes is not None and not modes & mode:
            raise AblyError(40165, 401, f"Channel {name!r} was attached without the {what} mode")

    def _annotate(self, connection: Connection, name: str, message: ProtocolMessage) -> list[str]:
        self._require_mode(connection, name, Flag.ANNOTATION_PUBLISH, "annotation_publish")
        return self.messaging.annotate(
            name, items_of(message, "annotations"), connection.credentials, connection.id
        )

    # --- presence ------------------------------------------------------------------------------------

    def _presence(self, connection: Connection, name: str, message: ProtocolMessage) -> None:
        self.presence.update(connection, name, message)

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
        connection.authorize(credentials)
        self._schedule_renewal(connection)
        self._send_connected(connection, None)
        self._recheck_attachments(connection)
        return True

    def _recheck_attachments(self, connection: Connection) -> None:
        """After a credential change, each attachment holds only what the new capability grants: a
        channel no longer permitted fails with 40160, one with changed modes is told its new modes."""
        for name, requested in list(connection.attached.items()):
            channel = self.table.get(name)
            if channel is None or connection.id not in channel.attached:
                continue
            modes = _attachment_modes(name, _granted_modes(connection.operations_on(name)), requested)
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

    def drop_revoked(self) -> list[Connection]:
        """Disconnect live connections whose token is now revoked (DISCONNECTED 40141), as Ably does when a
        revocation takes effect; returns them so that their transports are woken and closed."""
        error = AblyError(40141, 401, "Token revoked")
        dropped = []
        for connection in self.connections.values():
            if (
                connection.live
                and not connection.closing
                and self.authority.is_revoked(connection.credentials)
            ):
                connection.send({"action": Action.DISCONNECTED, "error": error.to_wire()})
                connection.closing = True
                dropped.append(connection)
        return dropped

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
                self.presence.leave_all(connection)
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
        if self.authority.revocations.newly_applied(now):
            to_close += self.drop_revoked()
        self.table.history.expire(now)
        self.messaging.recent_publishes.expire(now)
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + config.max_idle_interval_ms // 2
            self.authority.forget_expired()
            for connection in self.connections.values():
                connection.send({"action": Action.HEARTBEAT})
        return to_close

    def release(self) -> None:
        """The app is going (its connections closed first): what it held leaves the service's totals."""
        for channel in list(self.table.channels.values()):
            self.table.history.forget(channel.log)
            channel.presence.clear()
        self.table.active.used -= len(self.table.channels)
        self.table.channels.clear()
        self.table.followers.clear()
        self.table.follower_terms.clear()
        self.stats.clear()
        self.messaging.recent_publishes.clear()
        self.authority.clear()

    # --- views for the REST API ----------------------------------------------------------------------

    def channel(self, name: str) -> Channel:
        """The channel, made if it is new (test harnesses reach channels through the service)."""
        return self.table.channel(name)

    def channel_metrics(self, name: str) -> dict[str, int] | None:
        """A channel's occupancy (GET /channels/{name}), or None when nothing holds the channel."""
        channel = self.table.get(name)
        if channel is None:
            return None
        return channel.metrics({cid: self.connections[cid].attached.get(name, 0) for cid in channel.attached})


def presented_credentials(params: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The key and the token a connection's query presents; a key is used first when both are there."""
    return params.get("key") or None, params.get("access_token") or params.get("accessToken") or None


def _attachment_modes(name: str, granted: int, requested: int) -> int:
    """What an attachment may do: what was asked for (the default modes if nothing was) within what the
    capability grants; a filtered channel only receives messages."""
    modes = granted & (requested or DEFAULT_MODES)
    return modes & Flag.SUBSCRIBE if is_filtered(name) else modes


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


def _position(serial: str) -> int:
    try:
        return int(serial)
    except ValueError:
        return -1


def _same_identity(previous: Credentials, presented: Credentials) -> bool:
    """A resume must come from the key and clientId the connection was made with."""
    return previous.key_name == presented.key_name and previous.client_id == presented.client_id

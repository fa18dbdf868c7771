"""Fan-out: an event to every connection attached to its channel that wants it, in the connection's format.

Each format's frame is encoded once and shared by every subscriber; delta subscribers get the shared delta
frame when they hold the message it patches. A frame that cannot be encoded (input checks make that
impossible; this is the last line) costs only the subscribers of that format, never the others.
"""

import logging

from ably_local.channels import Channel
from ably_local.connection import Connection
from ably_local.history import Event
from ably_local.protocol import Action, Flag
from ably_local.stats import AppStats

log = logging.getLogger("ably_local")


class Delivery:
    """Delivers events to an app's connections, and counts what it carried for the app's stats."""

    def __init__(self, connections: dict[str, Connection], stats: AppStats) -> None:
        self.connections = connections
        self.stats = stats

    def __call__(self, channel: Channel, event: Event, counted: bool = True) -> None:
        connections = self.connections
        deltas = channel.delta_subscribers if event.action == Action.MESSAGE else None
        frames: dict[str, str | bytes | None] = {}
        delivered = 0
        for connection_id, modes in channel.attached.items():
            target = connections[connection_id]
            if not wants(target, modes, event):
                continue
            fmt = target.fmt
            if deltas and connection_id in deltas:
                frame = _delta_or_full(deltas, connection_id, event, fmt)
            else:
                if fmt not in frames:
                    frames[fmt] = encoded(event, fmt)
                frame = frames[fmt]
            if frame is not None:
                target.send_frame(frame)
                delivered += 1
        if not counted:
            return
        kind = "presence" if event.action == Action.PRESENCE else "messages"
        rest = event.connection_id not in connections
        self.stats.count(event.timestamp, kind, len(event.items), event.size, delivered, rest)


def wants(connection: Connection, modes: int, event: Event) -> bool:
    """Whether an attachment with these modes receives the event."""
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
            delta = event.delta.frame(fmt)
        except (TypeError, ValueError, OverflowError):
            log.exception("delta for event %s could not be encoded; sending it in full", event.position)
        else:
            if delta is not None:
                return delta
    return encoded(event, fmt)


def encoded(event: Event, fmt: str) -> str | bytes | None:
    """An event's frame, or None if it cannot be encoded."""
    try:
        return event.frame(fmt)
    except (TypeError, ValueError, OverflowError):
        log.exception(
            "event %s could not be encoded as %s; its %s subscribers skip it", event.position, fmt, fmt
        )
        return None

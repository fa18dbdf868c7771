"""What an attach replays before live delivery, within what the joiner's outbox allows.

Two kinds: a rewind (`rewind=N` messages, or the messages of the last `30s`), which counts messages, not the
protocol messages that carried them, and replays at most 100 of them either way, as Ably does; and the gap
a resumed attachment missed. Either is cut to the room the connection has (`Connection.burst_room`), the
newest kept: a joiner is never dropped with 80020 for what others published legitimately. When less is
replayed than was asked for, the ATTACHED carries 90004 (Ably's "message limit exceeded"), and a resume
that could not replay its whole gap is no resume (no RESUMED flag: the client knows continuity was lost).
"""

from collections.abc import Callable, Iterable
from typing import NamedTuple

from ably_local.channel_params import Rewind
from ably_local.errors import AblyError
from ably_local.history import Event
from ably_local.protocol import Action

# Ably replays at most this many messages for a rewind, however it is given.
MAX_REWIND_MESSAGES = 100
TRUNCATED = AblyError(
    90004, 404, "Unable to recover channel (message limit exceeded): the oldest were not replayed"
)

Wanted = Callable[[Event], bool]


class Replay(NamedTuple):
    frames: list[str | bytes]
    # The id of the last message replayed (the message a delta subscriber's next delta patches).
    last_message_id: str | None
    # False when less was replayed than was asked for.
    complete: bool


def rewind(messages: list[Event], asked: Rewind, now: int, wanted: Wanted, fmt: str, room: int) -> Replay:
    """The last messages a rewind asks for (events of history, oldest first), at most 100 of them."""
    if asked.milliseconds is not None:
        since = now - asked.milliseconds
        messages = [event for event in messages if event.timestamp >= since]
    cap = MAX_REWIND_MESSAGES if asked.messages is None else min(asked.messages, MAX_REWIND_MESSAGES)
    parts: list[Event] = []
    taken = 0
    available = 0
    for event in reversed(messages):
        if not wanted(event):
            continue
        available += len(event.items)
        if taken < cap:
            keep = min(len(event.items), cap - taken)
            parts.append(event if keep == len(event.items) else _last_items(event, keep))
            taken += keep
    asked_for = available if asked.messages is None else min(asked.messages, available)
    return _within(parts, fmt, room, complete=asked_for <= taken)


def resume(events: Iterable[Event], wanted: Wanted, fmt: str, room: int) -> Replay:
    """The gap a resumed attachment missed (every event after its channelSerial)."""
    return _within([event for event in reversed(list(events)) if wanted(event)], fmt, room, complete=True)


def _last_items(event: Event, count: int) -> Event:
    """The same protocol message with only its last `count` messages (their ids are their own)."""
    view = {**event.message, "messages": event.items[-count:]}
    return Event(event.position, view, event.connection_id, event.timestamp, 0)


def _within(newest_first: list[Event], fmt: str, room: int, complete: bool) -> Replay:
    """The events that fit in `room`, newest first until one does not, sent oldest first."""
    frames: list[str | bytes] = []
    last_message_id: str | None = None
    for event in newest_first:
        frame = event.frame(fmt)
        if len(frame) > room:
            complete = False
            break
        room -= len(frame)
        frames.append(frame)
        if last_message_id is None and event.action == Action.MESSAGE:
            last_message_id = event.items[-1]["id"]
    frames.reverse()
    return Replay(frames, last_message_id, complete)

"""Channels: who is attached with which modes, the channel's log, and its presence set.

A channel exists while anything holds it (an attachment, a presence member or retained history) and is
released as soon as nothing does, so a client cannot grow the service by naming channels.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ably_local.budgets import Budget
from ably_local.config import ServiceConfig
from ably_local.errors import AblyError, invalid_channel
from ably_local.filters import Filter, compile_filter, split_qualified
from ably_local.history import ChannelLog, History, position_text
from ably_local.limits import Limits
from ably_local.mutations import MessageStore
from ably_local.presence_set import PresenceSet
from ably_local.protocol import Flag

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def validate_channel_name(name: object, limits: Limits) -> str:
    """Ably refuses empty names, an empty namespace (a leading `:`) and unprintable characters. A derived
    channel's filter must compile within its limits, and its source must be a plain channel. The length
    is checked first: nothing else is worked out for a name that long."""
    if not isinstance(name, str) or not name:
        raise invalid_channel("Channel name must be a non-empty string")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        raise invalid_channel("Channel name is not valid Unicode") from None
    if size > limits.channel_name_bytes:
        raise invalid_channel(f"Channel name longer than {limits.channel_name_bytes} bytes")
    if name.startswith(":") or _CONTROL_CHARACTERS.search(name):
        raise invalid_channel(f"Invalid channel name {name[:80]!r}")
    if name.startswith("["):
        derived = split_qualified(name)
        if derived is None:
            raise invalid_channel(f"Of the qualifiers, only [filter=...] is supported: {name[:80]!r}")
        expression, source = derived
        if source.startswith("["):
            raise invalid_channel("A filtered channel's source must be a plain channel, not qualified again")
        compile_filter(expression, limits)
        validate_channel_name(source, limits)
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
    # the last message, which the next message's delta patches (None: send the next one in full)
    last_message: dict[str, Any] | None = None
    # messages by serial, on channels whose namespace allows updates, deletes and annotations
    messages: MessageStore | None = None
    # a derived channel ([filter=...]name): the channel it follows and the filter it applies
    source: str | None = None
    filter: Filter | None = None

    @property
    def position(self) -> str:
        """The channelSerial a client attaching now continues from, even before the first event."""
        return position_text(self.log.end)

    def apply_presence(self, item: dict[str, Any]) -> None:
        """Set a member directly, recording no event: presence fixtures a test harness provisions."""
        self.presence.apply(item)

    @property
    def idle(self) -> bool:
        return not (self.attached or self.resumable or self.presence.members or self.log.events)

    def metrics(self, requested: Mapping[str, int]) -> dict[str, int]:
        """Occupancy as Ably's ChannelMetrics counts it (CHM2): attachments by the modes they were granted;
        object publishers and subscribers only where the client asked for those modes (`requested`, by
        connectionId), since they are not among the default modes."""
        modes = list(self.attached.values())

        def having(flag: int) -> int:
            return sum(1 for granted in modes if granted & flag)

        def asked(flag: int) -> int:
            return sum(1 for cid, granted in self.attached.items() if granted & requested.get(cid, 0) & flag)

        return {
            "connections": len(modes),
            "presenceConnections": having(Flag.PRESENCE),
            "presenceMembers": len(self.presence.members),
            "presenceSubscribers": having(Flag.PRESENCE_SUBSCRIBE),
            "publishers": having(Flag.PUBLISH),
            "subscribers": having(Flag.SUBSCRIBE),
            "objectPublishers": asked(Flag.OBJECT_PUBLISH),
            "objectSubscribers": asked(Flag.OBJECT_SUBSCRIBE),
        }


class ChannelTable:
    """An app's channels: made on first use, with a log in the app's history, released when idle."""

    def __init__(
        self, config: ServiceConfig, history: History, presence_budget: Budget, active: Budget
    ) -> None:
        self.config = config
        self.channels: dict[str, Channel] = {}
        # Shared by every app of the service: their totals are the service's.
        self.history = history
        self.presence_budget = presence_budget
        self.active = active  # channels of every app, counted one each
        # channel name -> the derived channels ([filter=...]name) that follow it, and their filters' terms
        self.followers: dict[str, set[str]] = {}
        self.follower_terms: dict[str, int] = {}

    def get(self, name: str) -> Channel | None:
        return self.channels.get(name)

    def is_mutable(self, name: str) -> bool:
        """Whether the channel's messages may be updated, deleted, appended to and annotated."""
        derived = split_qualified(name)
        return _namespace(derived[1] if derived is not None else name) in self.config.mutable_namespaces

    def channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            if not self.active.fits(1):
                raise AblyError(
                    90021, 429, f"Too many active channels in the service (limit {self.active.limit})"
                )
            derived = split_qualified(name)
            base = derived[1] if derived is not None else name
            namespace = _namespace(base)
            limits = self.config.limits
            accepts = self._filter_with_room(derived[0], base) if derived is not None else None
            channel = self.channels[name] = Channel(
                name,
                self.history.new_log(namespace in self.config.persisted_namespaces, self.release_if_idle),
                PresenceSet(
                    limits.presence_members_per_channel,
                    limits.presence_bytes_per_channel,
                    self.presence_budget,
                ),
            )
            if namespace in self.config.mutable_namespaces:
                channel.messages = MessageStore()
                channel.log.on_drop = channel.messages.forget_before
            if accepts is not None:
                channel.source, channel.filter = base, accepts
                self.followers.setdefault(base, set()).add(name)
                self.follower_terms[base] = self.follower_terms.get(base, 0) + accepts.terms
            self.active.used += 1
        return channel

    def _filter_with_room(self, expression: str, source: str) -> Filter:
        """A new filter on `source`, if the terms of every filter following it stay within their bound:
        each message published there is evaluated by all of them."""
        limits = self.config.limits
        accepts = compile_filter(expression, limits)
        if self.follower_terms.get(source, 0) + accepts.terms > limits.filter_terms_per_channel:
            raise AblyError(
                42910,
                429,
                f"The filters following {source[:80]!r} would evaluate more than "
                f"{limits.filter_terms_per_channel} terms per message",
            )
        return accepts

    def derived_from(self, name: str) -> list[Channel]:
        """The filtered channels following a channel, each getting the messages its filter accepts."""
        return [self.channels[derived] for derived in self.followers.get(name, ())]

    def release_if_idle(self, name: str) -> None:
        channel = self.channels.get(name)
        if channel is not None and channel.idle:
            del self.channels[name]
            self.active.used -= 1
            if channel.source is not None and channel.filter is not None:
                following = self.followers[channel.source]
                following.discard(name)
                self.follower_terms[channel.source] -= channel.filter.terms
                if not following:
                    del self.followers[channel.source]
                    del self.follower_terms[channel.source]


def _namespace(name: str) -> str | None:
    return name.partition(":")[0] if ":" in name else None

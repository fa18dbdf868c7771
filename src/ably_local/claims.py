"""Channel-scoped JWT claims: trusted metadata that Ably copies into what a client sends on a channel.

A JWT claim `ably.channel.<channel or namespace>` holds a string. On every message, presence message and
annotation the client sends on a channel, the service puts the most specific claim that matches the
channel in `extras.userClaim`, so that the other clients can trust it: a client cannot write that field
itself. Ably's docs say clients "are unable to directly publish messages with user claim metadata" without
saying whether such a publish is refused or the field is dropped; the service drops it and publishes the
rest (a client that re-publishes a message it received must not be refused for the claim on it).

Resources match channels as capability resources do (`*` stands for whole `:` segments, a trailing `*` for
any number of them). "Most specific", which Ably's docs do not define further, is taken to mean: an exact
channel name first, then the resource with more literal segments, then the one whose literal segments run
longer before its first `*` (`chat:*` before `*:lobby`), then the first in text order.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

from ably_local.capability import resource_matches
from ably_local.errors import AblyError

CHANNEL_CLAIM_PREFIX = "ably.channel."
USER_CLAIM = "userClaim"
INVALID_JWT = 40144
# Channels whose resolved value a Scoped remembers; past this the memory starts over.
MAX_RESOLVED = 1024

T = TypeVar("T")


class Scoped(Generic[T]):
    """Values a JWT scopes to channels or namespaces, each looked up by the most specific resource."""

    def __init__(self, values: Mapping[str, T]) -> None:
        self.values = dict(values)
        self._resolved: dict[str, T | None] = {}

    def __bool__(self) -> bool:
        return bool(self.values)

    def on(self, channel: str) -> T | None:
        """The value for a channel, or None when no resource matches it."""
        values = self.values
        if not values:
            return None
        if channel in self._resolved:
            return self._resolved[channel]
        if len(self._resolved) >= MAX_RESOLVED:
            self._resolved.clear()
        resource = most_specific(values, channel)
        value = None if resource is None else values[resource]
        self._resolved[channel] = value
        return value


def most_specific(resources: Iterable[str], channel: str) -> str | None:
    """The resource that matches the channel most specifically (see the module's docstring)."""
    best: str | None = None
    best_rank = (-1, -1)
    for resource in resources:
        if not resource_matches(resource, channel):
            continue
        rank = _specificity(resource)
        if rank > best_rank or (rank == best_rank and best is not None and resource < best):
            best, best_rank = resource, rank
    return best


def _specificity(resource: str) -> tuple[int, int]:
    """Literal segments, then where the first `*` stands. An exact name always ranks first: any resource
    with a `*` that matches the same channel has fewer literal segments."""
    segments = resource.split(":")
    wildcards = [index for index, segment in enumerate(segments) if segment == "*"]
    return len(segments) - len(wildcards), wildcards[0] if wildcards else len(segments)


def channel_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The `ably.channel.*` claims of a JWT's payload, by resource; a claim that is not a string is an
    invalid JWT (40144), since a userClaim is always a string (Ably's docs)."""
    scoped: dict[str, str] = {}
    for name, value in claims.items():
        if not name.startswith(CHANNEL_CLAIM_PREFIX):
            continue
        resource = name[len(CHANNEL_CLAIM_PREFIX) :]
        if not resource:
            raise AblyError(INVALID_JWT, 401, f"Invalid JWT: {name} names no channel or namespace")
        if not isinstance(value, str):
            raise AblyError(INVALID_JWT, 401, f"Invalid JWT: {name} must be a string (a userClaim is text)")
        scoped[resource] = value
    return scoped


def stamped(item: dict[str, Any], claim: str | None) -> dict[str, Any]:
    """The item with `extras.userClaim` set to the sender's claim, and whatever the sender put there
    itself removed. The extras object is replaced, never changed in place: a batch publish shares it
    between channels, and each channel may have its own claim."""
    extras = item.get("extras")
    if claim is not None:
        item["extras"] = {**extras, USER_CLAIM: claim} if extras else {USER_CLAIM: claim}
    elif extras is not None and USER_CLAIM in extras:
        kept = {name: value for name, value in extras.items() if name != USER_CLAIM}
        if kept:
            item["extras"] = kept
        else:
            del item["extras"]
    return item

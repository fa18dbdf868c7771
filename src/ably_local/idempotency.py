"""Idempotent publishing: a publish whose messages carry client-supplied ids is delivered once per channel.

Ably remembers a publish's id for 2 minutes, so a client that retries (ably-js and ably-python add ids
to REST publishes for that reason, `idempotentRestPublishing`) or simply publishes the same id again does
not deliver it twice; the retry is acknowledged with the first publish's result. Messages published
together share one idempotency key, so their ids must be `<base>:0`, `<base>:1`, ... (Ably's rule).
"""

from collections import OrderedDict
from typing import Any, NamedTuple

from ably_local.budgets import Budget
from ably_local.errors import bad_request

# Bookkeeping counted per remembered publish on top of its channel name and id.
ENTRY_OVERHEAD_BYTES = 256


class Published(NamedTuple):
    """What a publisher is told: the publish's message id prefix and each message's serial."""

    message_id: str
    serials: tuple[str, ...]


def idempotency_key(items: list[dict[str, Any]]) -> str | None:
    """The key a publish is deduplicated by, or None when no message carries a client-supplied id."""
    ids = [item.get("id") for item in items]
    if all(message_id is None for message_id in ids):
        return None
    first = ids[0]
    base = first.rpartition(":")[0] if isinstance(first, str) else ""
    if not isinstance(first, str) or (
        len(ids) > 1 and (not base or ids != [f"{base}:{index}" for index in range(len(ids))])
    ):
        raise bad_request(
            "Messages published together with ids must share one base id: <base>:0, <base>:1, ..."
        )
    return first


class RecentPublishes:
    """Publishes with ids seen within the window, per channel; bounded in count and bytes, and by the
    service's total for every app's ids (`shared`, None: this app's bounds alone)."""

    def __init__(
        self, window_ms: int, max_entries: int, max_bytes: int, shared: Budget | None = None
    ) -> None:
        self.window_ms = window_ms
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.shared = shared
        if shared is not None:
            shared.join(self)
        # (channel, key) -> (when, result, size), oldest first.
        self._seen: OrderedDict[tuple[str, str], tuple[int, Published, int]] = OrderedDict()

    def get(self, channel: str, key: str, now: int) -> Published | None:
        entry = self._seen.get((channel, key))
        if entry is None or entry[0] <= now - self.window_ms:
            return None
        return entry[1]

    def remember(self, channel: str, key: str, result: Published, now: int) -> None:
        text = (channel, key, result.message_id, *result.serials)
        size = sum(len(part.encode()) for part in text) + ENTRY_OVERHEAD_BYTES
        previous = self._seen.pop((channel, key), None)
        if previous is not None:
            self._account(-previous[2])
        self._seen[(channel, key)] = (now, result, size)
        self._account(size)
        while self._seen and (len(self._seen) > self.max_entries or self.bytes > self.max_bytes):
            self.forget_oldest()
        if self.shared is not None:
            self.shared.make_room()

    def expire(self, now: int) -> None:
        while self._seen and next(iter(self._seen.values()))[0] <= now - self.window_ms:
            self.forget_oldest()

    def forget_oldest(self) -> None:
        _, (_, _, size) = self._seen.popitem(last=False)
        self._account(-size)

    def _account(self, size: int) -> None:
        self.bytes += size
        if self.shared is not None:
            self.shared.used += size

    def clear(self) -> None:
        """Forget every id (the app is going), giving their bytes back to the service's total."""
        self._account(-self.bytes)
        self._seen.clear()
        if self.shared is not None:
            self.shared.leave(self)

    def __len__(self) -> int:
        return len(self._seen)

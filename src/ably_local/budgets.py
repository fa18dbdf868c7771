"""What every app of one service draws on together: a total is a total, however many sandbox apps there are.

Each app keeps its own history, presence sets, stats, idempotency ids, revocations and tokens within its
own limits; the service's totals bound all of them at once. History is one store with one eviction order
for every app (the oldest event of the whole service goes first); the others are counters each app's store
checks as well as its own bound.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ably_local.history import History
from ably_local.limits import Limits


class Forgetful(Protocol):
    """A store that can give bytes back by forgetting its oldest entry (stats minutes, idempotency ids; a
    connection's outbox, which goes whole)."""

    @property
    def bytes(self) -> int: ...

    def forget_oldest(self) -> None: ...


class Budget:
    """Bytes held together by several stores, against one limit. Stores that refuse past it check `fits`;
    stores that forget instead join it, and the one holding most forgets first, so that one app filling
    the total cannot keep the others from remembering anything."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._forgetful: dict[int, Forgetful] = {}  # by id: thousands of connections join and leave

    def fits(self, size: int) -> bool:
        return self.used + size <= self.limit

    def join(self, store: Forgetful) -> None:
        self._forgetful[id(store)] = store

    def leave(self, store: Forgetful) -> None:
        self._forgetful.pop(id(store), None)

    def make_room(self) -> None:
        """Past the limit, the store holding most forgets its oldest, until the total fits again."""
        while self.used > self.limit and self._forgetful:
            largest = max(self._forgetful.values(), key=lambda store: store.bytes)
            if largest.bytes <= 0:
                return
            largest.forget_oldest()


class FrameBudget(Budget):
    """The frames waiting in every connection's outbox, each counted once however many outboxes hold it:
    a message fanned out to a thousand subscribers is one frame in memory, and costs that once."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self._holders: dict[int, int] = {}  # id(frame) -> outboxes holding it (each keeps the frame alive)

    def hold(self, frame: str | bytes) -> None:
        key = id(frame)
        holders = self._holders.get(key, 0)
        if not holders:
            self.used += len(frame)
        self._holders[key] = holders + 1

    def release(self, frames: list[str | bytes]) -> None:
        for frame in frames:
            key = id(frame)
            holders = self._holders[key] - 1
            if holders:
                self._holders[key] = holders
            else:
                del self._holders[key]
                self.used -= len(frame)


class WaitingToResume:
    """Connections whose transport dropped, of every app together, longest-lost first: past the limit the
    longest-lost can no longer resume, whichever app's it is (each app applies the same rule to its own)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._waiting: dict[int, Callable[[], None]] = {}  # id(connection) -> what lets it go

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, key: int, let_go: Callable[[], None]) -> None:
        self._waiting[key] = let_go
        while len(self._waiting) > self.limit:
            self._waiting.pop(next(iter(self._waiting)))()

    def discard(self, key: int) -> None:
        self._waiting.pop(key, None)


@dataclass(frozen=True)
class ServiceBudgets:
    history: History
    presence: Budget
    stats: Budget
    idempotency: Budget
    revocations: Budget
    tokens: Budget
    sandbox: Budget
    outbound: FrameBudget
    connections: Budget  # live connections, counted one each
    waiting_to_resume: WaitingToResume
    channels: Budget  # active channels, counted one each

    @classmethod
    def within(cls, limits: Limits) -> "ServiceBudgets":
        return cls(
            History(limits),
            Budget(limits.presence_bytes_total),
            Budget(limits.stats_bytes_total),
            Budget(limits.idempotency_bytes_total),
            Budget(limits.revocation_bytes_total),
            Budget(limits.token_bytes_total),
            Budget(limits.sandbox_bytes_total),
            FrameBudget(limits.outbound_bytes_total),
            Budget(limits.connections_total),
            WaitingToResume(limits.connections_total),
            Budget(limits.channels_total),
        )

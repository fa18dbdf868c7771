"""Token revocation (`POST /keys/{keyName}/revokeTokens`): which tokens stop working, and from when.

A revocation names a target (`clientId:<id>`, or `revocationKey:<key>` for JWTs carrying the
`x-ably-revocation-key` claim) of one key, which must have revocable tokens. From `appliesAt` on, a token
of that key matching the target and issued before `issuedBefore` is refused with 40141, and connections
using it are disconnected with 40141; tokens issued later are untouched, so a client can get a new one.
`allowReauthMargin` postpones `appliesAt` by 30 s so that clients can renew first.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from ably_local.budgets import Budget
from ably_local.errors import AblyError, bad_request
from ably_local.limits import Limits

TARGET_TYPES = ("clientId", "revocationKey")
REAUTH_MARGIN_MS = 30_000
# issuedBefore may reach back at most this far (Ably refuses older ones, and any in the future).
MAX_ISSUED_BEFORE_AGE_MS = 60 * 60 * 1000
ENTRY_OVERHEAD_BYTES = 128


@dataclass(frozen=True)
class Revocation:
    key_name: str
    target: str
    issued_before: int
    applies_at: int

    def to_wire(self) -> dict[str, object]:
        return {"target": self.target, "issuedBefore": self.issued_before, "appliesAt": self.applies_at}


def checked_target(target: str) -> str:
    """A target the service can revoke by; anything else is that target's own 40000 in the batch."""
    kind, sep, value = target.partition(":")
    if kind not in TARGET_TYPES or not sep or not value:
        raise bad_request(f"Invalid target {target[:80]!r}: expected clientId:<id> or revocationKey:<key>")
    return target


def targets_of(client_id: str | None, revocation_key: str | None) -> Iterator[str]:
    if client_id is not None:
        yield f"clientId:{client_id}"
    if revocation_key is not None:
        yield f"revocationKey:{revocation_key}"


class Revocations:
    """Every revocation of one app, indexed by (key name, target); bounded in count and bytes."""

    def __init__(self, max_count: int, max_bytes: int, keep_ms: int, shared: Budget | None = None) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        # The service's total for every app's revocations (None: this app's bounds alone).
        self.shared = shared
        # A revocation is forgotten once every token it can match has expired (tokens live at most this).
        self.keep_ms = keep_ms
        self.bytes = 0
        self._by_target: dict[tuple[str, str], list[Revocation]] = {}
        self._count = 0
        self._pending: list[int] = []

    @classmethod
    def within(cls, limits: Limits, keep_ms: int, shared: Budget | None = None) -> "Revocations":
        return cls(limits.revocations_per_app, limits.revocation_bytes_per_app, keep_ms, shared)

    def revoke(self, key_name: str, target: str, issued_before: int, applies_at: int, now: int) -> Revocation:
        revocation = Revocation(key_name, checked_target(target), issued_before, applies_at)
        if not self._has_room(revocation):
            self.forget_expired(now)
            if not self._has_room(revocation):
                raise AblyError(42910, 429, f"Too many token revocations in force (limit {self.max_count})")
        self._by_target.setdefault((key_name, target), []).append(revocation)
        self._count += 1
        self._account(_size(revocation))
        if applies_at > now:
            self._pending.append(applies_at)
        return revocation

    def _has_room(self, revocation: Revocation) -> bool:
        size = _size(revocation)
        fits_shared = self.shared is None or self.shared.fits(size)
        return self._count < self.max_count and self.bytes + size <= self.max_bytes and fits_shared

    def _account(self, size: int) -> None:
        self.bytes += size
        if self.shared is not None:
            self.shared.used += size

    def clear(self) -> None:
        """Forget every revocation (the app is going), giving their bytes back to the service's total."""
        self._account(-self.bytes)
        self._by_target.clear()
        self._count = 0
        self._pending = []

    def revoked(
        self, key_name: str, client_id: str | None, revocation_key: str | None, issued: int | None, now: int
    ) -> bool:
        """Whether a token with these claims is revoked now; a token of unknown issue time (a JWT
        without `iat`) counts as issued before any revocation."""
        for target in targets_of(client_id, revocation_key):
            for revocation in self._by_target.get((key_name, target), ()):
                if revocation.applies_at <= now and (issued is None or issued < revocation.issued_before):
                    return True
        return False

    def newly_applied(self, now: int) -> bool:
        """True once for each moment a postponed revocation took effect (live connections to recheck)."""
        due = [at for at in self._pending if at <= now]
        if due:
            self._pending = [at for at in self._pending if at > now]
        return bool(due)

    def forget_expired(self, now: int) -> None:
        for index, revocations in list(self._by_target.items()):
            kept = []
            for revocation in revocations:
                if revocation.issued_before + self.keep_ms > now:
                    kept.append(revocation)
                else:
                    self._count -= 1
                    self._account(-_size(revocation))
            if kept:
                self._by_target[index] = kept
            else:
                del self._by_target[index]


def _size(revocation: Revocation) -> int:
    return len(revocation.key_name.encode()) + len(revocation.target.encode()) + ENTRY_OVERHEAD_BYTES

"""The tokens an app issued, bounded in count and bytes: a token's capability can be as large as the
TokenRequest that asked for it, so counting tokens alone does not bound what they hold. The bytes also count
toward the service's total for every app's tokens (42910 beyond either)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ably_local.budgets import Budget
from ably_local.capability import Capability, capability_bytes, to_json
from ably_local.errors import AblyError

# Bookkeeping counted per token on top of its text, key name, clientId and capability.
TOKEN_OVERHEAD_BYTES = 256
# A token's text: the app's id, a dot and 32 random characters.
TOKEN_TEXT_BYTES = 64


@dataclass(frozen=True)
class TokenDetails:
    token: str
    key_name: str
    client_id: str | None
    capability: Capability
    issued: int
    expires: int

    def to_wire(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "token": self.token,
            "keyName": self.key_name,
            "issued": self.issued,
            "expires": self.expires,
            "capability": to_json(self.capability),
        }
        if self.client_id is not None:
            details["clientId"] = self.client_id
        return details


@dataclass
class IssuedTokens:
    max_count: int
    max_bytes: int
    shared: Budget | None = None
    by_token: dict[str, TokenDetails] = field(default_factory=dict)
    bytes: int = 0

    def __contains__(self, token: str) -> bool:
        return token in self.by_token

    def get(self, token: str) -> TokenDetails | None:
        return self.by_token.get(token)

    def check_room(self, size: int, forget: Callable[[], None]) -> None:
        """Refuse a token of `size` bytes past the bounds, once expired tokens were forgotten (`forget`)."""
        if self._has_room(size):
            return
        forget()
        if len(self.by_token) >= self.max_count:
            raise AblyError(42910, 429, f"Too many live tokens for this app (limit {self.max_count})")
        if not self._has_room(size):
            raise AblyError(42910, 429, "The live tokens' capabilities and clientIds take too many bytes")

    def _has_room(self, size: int) -> bool:
        shared = self.shared
        return (
            len(self.by_token) < self.max_count
            and self.bytes + size <= self.max_bytes
            and (shared is None or shared.fits(size))
        )

    def add(self, details: TokenDetails) -> None:
        size = token_size(details)
        self.by_token[details.token] = details
        self.bytes += size
        if self.shared is not None:
            self.shared.used += size

    def clear(self) -> None:
        """Forget every token (the app is going), giving their bytes back to the service's total."""
        self.forget_where(lambda details: True)

    def forget_where(self, expired: Callable[[TokenDetails], bool]) -> None:
        for token, details in list(self.by_token.items()):
            if expired(details):
                del self.by_token[token]
                size = token_size(details)
                self.bytes -= size
                if self.shared is not None:
                    self.shared.used -= size


def token_size(details: TokenDetails) -> int:
    return _size(details.key_name, details.client_id, details.capability) + len(details.token)


def token_size_of(key_name: str, client_id: str | None, capability: Capability) -> int:
    """What a token about to be issued will hold (its text is of a known length)."""
    return _size(key_name, client_id, capability) + TOKEN_TEXT_BYTES


def _size(key_name: str, client_id: str | None, capability: Capability) -> int:
    named = len(key_name.encode()) + len((client_id or "").encode())
    return named + capability_bytes(capability) + TOKEN_OVERHEAD_BYTES

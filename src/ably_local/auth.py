"""Keys and tokens: who may connect, as whom, and with what capability.

TokenRequests are verified the way Ably does (mac over the exact signed text, a timestamp window, nonces
used once, ttl bounds, capability within the key's) and exchanged for opaque tokens held in memory.
"""

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ably_local.budgets import ServiceBudgets
from ably_local.capability import ALL, Capability, intersect, parse_capability
from ably_local.claims import Scoped
from ably_local.errors import AblyError, bad_request, invalid_client_id, unauthorized
from ably_local.jwt import key_name_of_jwt, verify_jwt
from ably_local.limits import Limits
from ably_local.revocation import Revocations
from ably_local.tokens import IssuedTokens, TokenDetails, token_size_of

TIMESTAMP_WINDOW_MS = 2 * 60 * 1000
DEFAULT_TTL_MS = 60 * 60 * 1000
MAX_TTL_MS = 24 * 60 * 60 * 1000
WILDCARD_CLIENT_ID = "*"
EXPIRED_TOKEN_MEMORY_MS = 10 * 60 * 1000
# The TokenRequest fields the mac covers, in signing order.
SIGNED_FIELDS = ("keyName", "ttl", "capability", "clientId", "timestamp", "nonce")

Clock = Callable[[], int]
NO_CLAIMS: Scoped[str] = Scoped({})
NO_RATES: Scoped[float] = Scoped({})


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: str = field(repr=False)
    capability: Capability = field(default_factory=lambda: ALL)
    # Tokens of this key can be revoked (POST /keys/{keyName}/revokeTokens).
    revocable_tokens: bool = False

    @property
    def value(self) -> str:
        return f"{self.name}:{self.secret}"

    @property
    def app_id(self) -> str:
        return self.name.split(".", 1)[0]

    @classmethod
    def parse(cls, value: str) -> "ApiKey":
        name, sep, secret = value.partition(":")
        if not sep or "." not in name or not secret:
            raise ValueError("An Ably API key has the form appId.keyId:secret")
        return cls(name, secret)

    @classmethod
    def generate(cls) -> "ApiKey":
        return cls(f"local.{secrets.token_hex(3)}", secrets.token_urlsafe(24))


@dataclass(frozen=True)
class Credentials:
    """What a connection or REST request acts with: its key, identity, rights and expiry."""

    key_name: str
    client_id: str | None
    capability: Capability
    expires: int | None = None
    token: str | None = None
    # When the token was issued, and the JWT's revocation key: what token revocation matches on.
    issued: int | None = None
    revocation_key: str | None = None
    # A JWT's channel-scoped claims (`claims`) and per-attachment publish rates (`rate_limits`).
    user_claims: Scoped[str] = field(default=NO_CLAIMS, compare=False)
    publish_rates: Scoped[float] = field(default=NO_RATES, compare=False)

    @property
    def own_client_id(self) -> str | None:
        """The clientId messages published with these credentials default to: none for a wildcard."""
        return None if self.client_id == WILDCARD_CLIENT_ID else self.client_id

    def may_act_as(self, client_id: str) -> bool:
        """Basic (key) auth and wildcard tokens may act for any clientId; others only for their own."""
        if self.token is None or self.client_id == WILDCARD_CLIENT_ID:
            return True
        return self.client_id == client_id


class Authority:
    def __init__(
        self,
        keys: Iterable[ApiKey],
        clock: Clock = now_ms,
        limits: Limits | None = None,
        budgets: ServiceBudgets | None = None,
    ) -> None:
        """`budgets` are the service's totals, shared by its apps (None: this authority's alone)."""
        limits = limits or Limits()
        self.keys = {key.name: key for key in keys}
        self.clock = clock
        shared_tokens = budgets.tokens if budgets is not None else None
        shared_revocations = budgets.revocations if budgets is not None else None
        self.revocations = Revocations.within(limits, MAX_TTL_MS, shared_revocations)
        self._tokens = IssuedTokens(limits.tokens_per_app, limits.token_bytes_per_app, shared_tokens)
        self._nonces: dict[tuple[str, str], int] = {}

    def basic(self, value: str) -> Credentials:
        name, _, secret = value.partition(":")
        key = self.keys.get(name)
        if key is None:
            raise unauthorized(40130, "Invalid key: key not recognised")
        if not hmac.compare_digest(key.secret.encode(), secret.encode()):
            raise unauthorized(40101, "Invalid credentials")
        return Credentials(key.name, None, key.capability)

    def issued(self, token: str) -> bool:
        """Whether this authority issued the token (expired or not, while it still remembers it)."""
        return token in self._tokens

    def token(self, token: str) -> Credentials:
        """Credentials for a token this authority issued, or for an Ably JWT signed by one of its keys;
        a revoked one is refused with 40141."""
        credentials = self._token(token)
        if self.is_revoked(credentials):
            raise unauthorized(40141, "Token revoked")
        return credentials

    def is_revoked(self, credentials: Credentials) -> bool:
        if credentials.token is None:
            return False
        return self.revocations.revoked(
            credentials.key_name,
            credentials.client_id,
            credentials.revocation_key,
            credentials.issued,
            self.clock(),
        )

    def _token(self, token: str) -> Credentials:
        if (key_name := key_name_of_jwt(token)) is not None:
            return self._jwt(token, key_name)
        details = self._tokens.get(token)
        if details is None:
            raise unauthorized(40140, "Token not recognised")
        if details.expires <= self.clock():
            raise unauthorized(40142, "Token expired")
        return Credentials(
            details.key_name, details.client_id, details.capability, details.expires, token, details.issued
        )

    def _jwt(self, token: str, key_name: str) -> Credentials:
        key = self.keys.get(key_name)
        if key is None:
            raise AblyError(40400, 404, "No app or key for this JWT")
        claims = verify_jwt(token, key.secret, self.clock())
        if claims.inner_token is not None:
            return self._token(claims.inner_token)
        capability = key.capability
        if claims.capability_text is not None:
            capability = intersect(parse_capability(claims.capability_text), key.capability)
        return Credentials(
            key.name,
            claims.client_id,
            capability,
            claims.expires_ms,
            token,
            claims.issued_ms,
            claims.revocation_key,
            Scoped(claims.channel_claims),
            Scoped(claims.publish_rates),
        )

    def request_token(self, key_name: str, token_request: Mapping[str, Any]) -> TokenDetails:
        """Exchange a signed TokenRequest for a token (POST /keys/{keyName}/requestToken)."""
        for name in (*SIGNED_FIELDS, "mac"):
            value = token_request.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
                raise bad_request(f"TokenRequest {name} must be a string or a number")
        key = self.keys.get(str(token_request.get("keyName", key_name)))
        if key is None or key.name != key_name:
            raise unauthorized(40130, "Invalid key: key not recognised")
        mac = token_request.get("mac")
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(token_request, key.secret)):
            raise unauthorized(40101, "Invalid mac in token request")
        timestamp = _integer(token_request, "timestamp")
        if timestamp is None or abs(self.clock() - timestamp) > TIMESTAMP_WINDOW_MS:
            raise unauthorized(40104, "Timestamp not current")
        nonce = str(token_request.get("nonce", ""))
        if len(nonce) < 16:
            raise bad_request("Nonce must be at least 16 characters")
        if (key.name, nonce) in self._nonces:
            raise unauthorized(40105, "Nonce value replayed")
        ttl = _integer(token_request, "ttl") or DEFAULT_TTL_MS
        if not 0 < ttl <= MAX_TTL_MS:
            raise bad_request(f"Token ttl must be between 1 and {MAX_TTL_MS} ms")
        capability_text = token_request.get("capability")
        capability = key.capability
        if capability_text is not None and capability_text != "":
            if not isinstance(capability_text, str):
                raise bad_request("TokenRequest capability must be a JSON string")
            capability = intersect(parse_capability(capability_text), key.capability)
        client_id = token_request.get("clientId")
        if client_id is not None and (not isinstance(client_id, str) or client_id == ""):
            raise invalid_client_id("clientId must be a non-empty string")
        self._tokens.check_room(token_size_of(key.name, client_id, capability), self.forget_expired)
        self._nonces[(key.name, nonce)] = timestamp
        return self.issue(key, client_id, capability, ttl)

    def issue(
        self, key: ApiKey, client_id: str | None, capability: Capability, ttl: int = DEFAULT_TTL_MS
    ) -> TokenDetails:
        issued = self.clock()
        details = TokenDetails(
            token=f"{key.app_id}.{secrets.token_urlsafe(24)}",
            key_name=key.name,
            client_id=client_id,
            capability=capability,
            issued=issued,
            expires=issued + ttl,
        )
        self._tokens.add(details)
        return details

    def clear(self) -> None:
        """The app is going: its tokens and revocations no longer count toward the service's totals."""
        self._tokens.clear()
        self._nonces.clear()
        self.revocations.clear()

    def forget_expired(self) -> None:
        """Bound memory: drop nonces too old to replay (their timestamps are refused anyway) and tokens
        long expired (kept a while first, so a late client still hears 40142 rather than 40140)."""
        now = self.clock()
        oldest = now - 2 * TIMESTAMP_WINDOW_MS
        self._nonces = {nonce: ts for nonce, ts in self._nonces.items() if ts >= oldest}
        self._tokens.forget_where(lambda details: details.expires <= now - EXPIRED_TOKEN_MEMORY_MS)
        self.revocations.forget_expired(now)


def _integer(source: Mapping[str, Any], name: str) -> int | None:
    value = source.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"TokenRequest {name} must be a number") from None


def _mac(token_request: Mapping[str, Any], secret: str) -> str:
    """Ably's signing text: each field then a newline, absent ones empty, signed over the exact text."""
    text = "".join(f"{_text(token_request.get(name))}\n" for name in SIGNED_FIELDS)
    digest = hmac.new(secret.encode(), text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _text(value: object) -> str:
    return "" if value is None else str(value)

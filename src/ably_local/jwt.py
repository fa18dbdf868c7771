"""Ably JWTs: HS256 tokens signed with an API key's secret, the key named by the header's `kid`.

Claims Ably reads: `exp` and `iat` (seconds), `x-ably-capability` (capability JSON), `x-ably-clientId`,
`x-ably-revocation-key` (what token revocation can target), `x-ably-token` (an Ably token carried
inside the JWT, which is then the credential that counts), and the JWT-only channel-scoped ones:
`ably.channel.<resource>` (`claims`) and `ably.limits.publish.perAttachment.maxRate.<resource>`
(`rate_limits`).
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from ably_local.claims import channel_claims
from ably_local.errors import AblyError, unauthorized
from ably_local.rate_limits import publish_rates

INVALID_JWT = 40144


@dataclass(frozen=True)
class JwtClaims:
    key_name: str
    expires_ms: int
    capability_text: str | None
    client_id: str | None
    inner_token: str | None
    issued_ms: int | None = None
    revocation_key: str | None = None
    channel_claims: dict[str, str] = field(default_factory=dict)
    publish_rates: dict[str, float] = field(default_factory=dict)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _part(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(_b64url(text))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def key_name_of_jwt(token: str) -> str | None:
    """The key named by a JWT's header, or None when the token is not a JWT at all."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header = _part(parts[0])
    if header is None:
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def verify_jwt(token: str, secret: str, now_ms: int) -> JwtClaims:
    header_text, payload_text, signature_text = token.split(".")
    header, claims = _part(header_text), _part(payload_text)
    if header is None or claims is None or header.get("alg") != "HS256":
        raise unauthorized(INVALID_JWT, "Invalid JWT: unreadable, or not signed with HS256")
    expected = hmac.new(secret.encode(), f"{header_text}.{payload_text}".encode(), hashlib.sha256).digest()
    try:
        signature = _b64url(signature_text)
    except (binascii.Error, ValueError):
        signature = b""
    if not hmac.compare_digest(signature, expected):
        raise unauthorized(INVALID_JWT, "Invalid JWT: signature does not match the key")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise unauthorized(INVALID_JWT, "Invalid JWT: no exp claim")
    if expires * 1000 <= now_ms:
        raise unauthorized(40142, "Token expired")
    issued = claims.get("iat")
    if issued is not None and (not isinstance(issued, int | float) or isinstance(issued, bool)):
        raise unauthorized(INVALID_JWT, "Invalid JWT: iat must be a number")
    return JwtClaims(
        key_name=str(header["kid"]),
        expires_ms=int(expires * 1000),
        capability_text=_text_claim(claims, "x-ably-capability"),
        client_id=_text_claim(claims, "x-ably-clientId"),
        inner_token=_text_claim(claims, "x-ably-token"),
        issued_ms=None if issued is None else int(issued * 1000),
        revocation_key=_text_claim(claims, "x-ably-revocation-key"),
        channel_claims=channel_claims(claims),
        publish_rates=publish_rates(claims),
    )


def _text_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AblyError(INVALID_JWT, 401, f"Invalid JWT: {name} must be a string")
    return value

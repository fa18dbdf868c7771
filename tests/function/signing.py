"""Ably's token signatures recomputed from their documented forms, independent of the function's code."""

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class BadJwt(AssertionError):
    pass


def expected_mac(token_request: Mapping[str, object], key_secret: str) -> str:
    fields = ("keyName", "ttl", "capability", "clientId", "timestamp", "nonce")
    text = "".join(f"{token_request.get(name, '')}\n" for name in fields)
    digest = hmac.new(key_secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verified_jwt(token: str, key_secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWS compact serialization (RFC 7515 7.1) checked by hand: three unpadded base64url parts, JSON
    objects in UTF-8, and an HMAC-SHA256 of `header.payload` with the secret. Returns (header, claims)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(_BASE64URL.fullmatch(part) for part in parts):
        raise BadJwt("not three unpadded base64url parts")
    header_text, payload_text, signature_text = parts
    expected = hmac.new(
        key_secret.encode(), f"{header_text}.{payload_text}".encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(_decoded(signature_text), expected):
        raise BadJwt("the signature is not HMAC-SHA256 of header.payload with the key secret")
    header, claims = (json.loads(_decoded(part).decode("utf-8")) for part in (header_text, payload_text))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise BadJwt("header and payload must be JSON objects")
    return header, claims


def _decoded(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except binascii.Error as error:
        raise BadJwt(str(error)) from None

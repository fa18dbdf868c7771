"""Ably's TokenRequest signature, recomputed from the documented signing text (independent of ably)."""

import base64
import hashlib
import hmac
from collections.abc import Mapping


def expected_mac(token_request: Mapping[str, object], key_secret: str) -> str:
    fields = ("keyName", "ttl", "capability", "clientId", "timestamp", "nonce")
    text = "".join(f"{token_request.get(name, '')}\n" for name in fields)
    digest = hmac.new(key_secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()

"""Sign Ably JWTs (ABLY_TOKEN_FORMAT=jwt): HS256 with the key secret, the key named by the header's `kid`.

Claims, as Ably documents them: `iat` and `exp` (seconds), `x-ably-capability` (the configured capability as
a JSON string, the same text a TokenRequest carries), `x-ably-clientId`, and two JWT-only ones on each
resource of the capability: `ably.limits.publish.perAttachment.maxRate.<resource>` (ABLY_PUBLISH_MAX_RATE,
a number) and, for a Netlify Identity user with roles, `ably.channel.<resource>`, a JSON string such as
{"roles":["moderator"]} that Ably copies into `extras.userClaim` of that client's messages and presence.

A JWT travels in a URL and a header, so the largest token a configuration can produce is measured when the
function starts: one that could exceed MAX_JWT_BYTES is the documented configuration 500.

Encoded with the standard library, not PyJWT (which Ably's docs name): an HS256 JWT is two base64url JSON
texts and an HMAC, and `import jwt` loads urllib.request, http.client, email and ssl for its JWKS client,
which put 27 ms of CPU (a third) on the native start-up and made JWT mode slower to cold-start than
TokenRequest mode (bench/token_function.py; the docs give the figures). tests/function/test_jwt.py checks
every token against RFC 7515/7519 with its own decoder and HMAC.
"""

import base64
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Literal

from ably_token_request.api_key import ApiKey
from ably_token_request.errors import ConfigurationError, KeyUnavailable
from ably_token_request.identity import InvalidIdentityRoles
from ably_token_request.limits import (
    MAX_CLIENT_ID_LENGTH,
    MAX_JWT_BYTES,
    MAX_JWT_KEY_NAME_LENGTH,
    MAX_ROLES_CLAIM_BYTES,
)

CAPABILITY_CLAIM = "x-ably-capability"
CLIENT_ID_CLAIM = "x-ably-clientId"
CHANNEL_CLAIM_PREFIX = "ably.channel."
PUBLISH_RATE_CLAIM_PREFIX = "ably.limits.publish.perAttachment.maxRate."
# What the start-up check signs in place of the longest clientId: four UTF-8 bytes each, more than any other
# character a clientId may hold (control characters, which JSON would escape to six, are refused).
_WIDEST_CHARACTER = "\U0001f600"

Claims = dict[str, object]


class JwtSigner:
    format: Literal["jwt"] = "jwt"

    def __init__(
        self,
        *,
        capability: str,
        ttl_ms: int,
        publish_max_rate: int | float | None = None,
        key_name: str | None = None,
    ) -> None:
        """Raises ConfigurationError when the largest token this configuration issues could exceed
        MAX_JWT_BYTES; `key_name` is the key's when it is known at start-up (in the environment), else a
        name of up to MAX_JWT_KEY_NAME_LENGTH characters, as JSON writes them, is allowed for."""
        self._capability = capability
        self._key_name = key_name  # the size check below measured this one exactly
        self._ttl_s = ttl_ms // 1000
        self._resources: tuple[str, ...] = tuple(json.loads(capability))
        self._rate_claims: Claims = (
            {}
            if publish_max_rate is None
            else {PUBLISH_RATE_CLAIM_PREFIX + resource: publish_max_rate for resource in self._resources}
        )
        largest = self._largest_token_bytes(key_name or "k" * MAX_JWT_KEY_NAME_LENGTH)
        if largest > MAX_JWT_BYTES:
            rate = " the publish-rate claim (ABLY_PUBLISH_MAX_RATE)," if self._rate_claims else ""
            raise ConfigurationError(
                f"ABLY_TOKEN_CAPABILITY is too large for a JWT: with its {len(self._resources)} resources, "
                f"each carrying{rate} the Identity role claim, and the longest clientId, a token could "
                f"take {largest} bytes, more than the {MAX_JWT_BYTES} a JWT may take in an HTTP header. "
                "Use fewer resources (a wildcard such as chat:*), or ABLY_TOKEN_FORMAT=token-request, "
                "whose tokens do not carry the capability."
            )

    def sign(self, key: ApiKey, client_id: str, roles: Sequence[str] = ()) -> str:
        """The JWT for this client; `roles` (an Identity user's) travel as channel claims.

        Raises KeyUnavailable for a key (read from a key store after start-up) whose name takes more of the
        token's header than the start-up size check allowed for."""
        if key.name != self._key_name and len(json.dumps(key.name)) - 2 > MAX_JWT_KEY_NAME_LENGTH:
            raise KeyUnavailable(
                "The key read from its key store (ABLY_API_KEY_SSM_PARAMETER or ABLY_API_KEY_SECRET_ID) has "
                f"a name longer than the {MAX_JWT_KEY_NAME_LENGTH} characters a JWT's header gives it; "
                "Ably key names (appId.keyId) are far shorter: check the stored key."
            )
        roles_claim = _roles_claim(roles) if roles else None
        return _encode(self._claims(int(time.time()), client_id, roles_claim), key.name, key.secret)

    def _claims(self, issued: int, client_id: str, roles_claim: str | None) -> Claims:
        claims: Claims = {
            "iat": issued,
            "exp": issued + self._ttl_s,
            CAPABILITY_CLAIM: self._capability,
            CLIENT_ID_CLAIM: client_id,
            **self._rate_claims,
        }
        if roles_claim is not None:
            claims.update(dict.fromkeys((CHANNEL_CLAIM_PREFIX + r for r in self._resources), roles_claim))
        return claims

    def _largest_token_bytes(self, key_name: str) -> int:
        """The length of the largest token: the longest clientId, and the largest role claim everywhere."""
        # Its JSON text is MAX_ROLES_CLAIM_BYTES long. Not mutated: any one-byte character measures the same.
        widest_roles_claim = "r" * (MAX_ROLES_CLAIM_BYTES - 2)  # pragma: no mutate
        claims = self._claims(int(time.time()), _WIDEST_CHARACTER * MAX_CLIENT_ID_LENGTH, widest_roles_claim)
        return len(_encode(claims, key_name, "start-up-size-check"))


def _roles_claim(roles: Sequence[str]) -> str:
    """{"roles":[...]} as a JSON string, the form Ably's docs give a channel claim; bounded in bytes."""
    claim = json.dumps({"roles": list(roles)}, separators=(",", ":"), ensure_ascii=False)
    if len(_json_bytes(claim)) > MAX_ROLES_CLAIM_BYTES:
        raise InvalidIdentityRoles(
            f"The Identity user's roles take more than the {MAX_ROLES_CLAIM_BYTES} bytes a token carries "
            "for them. Fix the user's roles in the site's Identity settings."
        )
    return claim


def _json_bytes(value: object) -> bytes:
    """A value as the token's payload holds it: compact JSON in UTF-8 (RFC 7519 section 7.1)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _encode(claims: Mapping[str, object], key_name: str, secret: str) -> str:
    """JWS compact serialization (RFC 7515 section 7.1) with HS256; the header is ASCII JSON."""
    header = json.dumps({"alg": "HS256", "kid": key_name, "typ": "JWT"}, separators=(",", ":")).encode()
    signing_input = f"{_base64url(header)}.{_base64url(_json_bytes(claims))}"
    # Not mutated: hashlib's algorithm names are case-insensitive ("sha256" or "SHA256").
    signature = hmac.digest(secret.encode(), signing_input.encode(), "sha256")  # pragma: no mutate
    return f"{signing_input}.{_base64url(signature)}"


def _base64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).replace(b"=", b"").decode()  # "=" is only ever padding

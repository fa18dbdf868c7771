"""Configuration, read and validated once per execution environment, when handler.py is imported.

A bad value becomes a ConfigurationError whose message names the variable and how to fix it; the value
itself is never echoed, since a misplaced key could sit in any variable.
"""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from ably_token_request.api_key import ApiKey, looks_like_api_key, parse_api_key
from ably_token_request.client_id import validate_client_id
from ably_token_request.errors import ConfigurationError, InvalidClientId
from ably_token_request.json_input import TooDeep, parse_json
from ably_token_request.limits import MAX_CAPABILITY_BYTES, MAX_JSON_DEPTH

# Least privilege for the demo page: it publishes, subscribes and uses presence on channels of the
# `chat:` namespace, and may do nothing else (no history, no stats, no other channels).
DEFAULT_CAPABILITY = {"chat:*": ["presence", "publish", "subscribe"]}
# One hour, Ably's own default; ably-js and ably-python renew tokens before they expire.
DEFAULT_TTL_MS = 60 * 60 * 1000
MIN_TTL_MS = 10 * 1000
MAX_TTL_MS = 24 * 60 * 60 * 1000
DEFAULT_CLIENT_ID = "NO_CLIENT_ID"

TokenFormat = Literal["token-request", "jwt"]
TOKEN_REQUEST: Final = "token-request"  # noqa: S105 (a format's name)
JWT: Final = "jwt"
# TokenRequests are the default: the design asks for them, and they keep the capability out of the client's
# sight. JWTs (Ably's recommended format) connect a round trip sooner and carry trusted claims.
TOKEN_FORMATS: tuple[TokenFormat, ...] = (TOKEN_REQUEST, JWT)
DEFAULT_TOKEN_FORMAT: TokenFormat = TOKEN_REQUEST

OPERATIONS = frozenset(
    {
        "*",
        "publish",
        "subscribe",
        "presence",
        "history",
        "stats",
        "channel-metadata",
        "push-subscribe",
        "push-admin",
        "object-subscribe",
        "object-publish",
        "annotation-publish",
        "annotation-subscribe",
        "privileged-headers",
    }
)
_ORIGIN_PATTERN = re.compile(r"https?://[^/\s]+")
# What SSM GetParameter and Secrets Manager GetSecretValue take: a name or an ARN. A key (appId.keyId:secret)
# matches neither, so a key pasted into the variable is refused at start-up without being echoed.
_SSM_PARAMETER = re.compile(
    r"/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*|arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9_.\-/]+"
)
_SECRET_ID = re.compile(
    r"[A-Za-z0-9/_+=.@\-]+|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@\-]+"
)
# Messages per second, as a plain decimal number (10, 0.5).
_RATE_PATTERN = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "INFO"


@dataclass(frozen=True)
class KeySource:
    """Where the API key comes from; exactly one of the fields is set."""

    env_key: ApiKey | None = None
    ssm_parameter: str | None = None
    secret_id: str | None = None


@dataclass(frozen=True)
class Settings:
    key_source: KeySource
    capability: str
    ttl_ms: int
    default_client_id: str
    allowed_origins: frozenset[str]
    token_format: TokenFormat = DEFAULT_TOKEN_FORMAT
    # Messages per second each attachment may publish (a JWT claim per resource); None sets no limit.
    publish_max_rate: int | float | None = None


def load_settings(environ: Mapping[str, str]) -> Settings:
    token_format = _token_format(environ.get("ABLY_TOKEN_FORMAT"))
    return Settings(
        key_source=_key_source(environ),
        capability=_capability(environ.get("ABLY_TOKEN_CAPABILITY")),
        ttl_ms=_ttl_ms(environ.get("ABLY_TOKEN_TTL_MS")),
        default_client_id=_default_client_id(environ.get("DEFAULT_CLIENT_ID")),
        allowed_origins=_allowed_origins(environ.get("ABLY_ALLOWED_ORIGINS")),
        token_format=token_format,
        publish_max_rate=_publish_max_rate(environ.get("ABLY_PUBLISH_MAX_RATE"), token_format),
    )


def canonical_capability(capability: Mapping[str, list[str]]) -> str:
    """The capability text ably-python signs: resources and their distinct operations sorted, in
    json.dumps' default form (tests/function/test_signer_parity.py holds it to ably-python's own)."""
    return json.dumps({resource: sorted(set(ops)) for resource, ops in capability.items()}, sort_keys=True)


def log_level(environ: Mapping[str, str]) -> str:
    """POWERTOOLS_LOG_LEVEL, checked here so a typo is the documented 500 rather than a crash at import."""
    level = environ.get("POWERTOOLS_LOG_LEVEL", "").strip().upper() or DEFAULT_LOG_LEVEL
    if level not in LOG_LEVELS:
        raise ConfigurationError(f"POWERTOOLS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}.")
    return level


def _key_source(environ: Mapping[str, str]) -> KeySource:
    if value := environ.get("ABLY_API_KEY", "").strip():
        return KeySource(env_key=parse_api_key(value, source="ABLY_API_KEY"))
    if parameter := environ.get("ABLY_API_KEY_SSM_PARAMETER", "").strip():
        return KeySource(ssm_parameter=_store_name(parameter, "ABLY_API_KEY_SSM_PARAMETER", _SSM_PARAMETER))
    if secret_id := environ.get("ABLY_API_KEY_SECRET_ID", "").strip():
        return KeySource(secret_id=_store_name(secret_id, "ABLY_API_KEY_SECRET_ID", _SECRET_ID))
    raise ConfigurationError(
        "Missing ABLY_API_KEY environment variable. Running locally: create a .env file at the "
        "project root with ABLY_API_KEY=your-key (see .env.example). On Netlify: set ABLY_API_KEY "
        "in the site's environment variables (Site configuration > Environment variables). On AWS "
        "Lambda: set ABLY_API_KEY_SSM_PARAMETER or ABLY_API_KEY_SECRET_ID."
    )


def _store_name(value: str, variable: str, pattern: re.Pattern[str]) -> str:
    store = "an SSM parameter" if variable.endswith("SSM_PARAMETER") else "a Secrets Manager secret"
    if looks_like_api_key(value) or not pattern.fullmatch(value):
        raise ConfigurationError(
            f"{variable} must hold the name or ARN of {store} (for example /ably-token-request/api-key), "
            "not the key itself: store the key there and put only its name in the variable."
        )
    return value


def _capability(raw: str | None) -> str:
    """Return the capability text exactly as ably-python signs it (sorted channels and operations)."""
    if raw is None or not raw.strip():
        return canonical_capability(DEFAULT_CAPABILITY)
    fix = (
        "Set ABLY_TOKEN_CAPABILITY to a JSON object mapping channel names to lists of operations, "
        'for example {"chat:*":["publish","subscribe","presence"]}.'
    )
    if len(raw.encode(errors="replace")) > MAX_CAPABILITY_BYTES:
        raise ConfigurationError(f"ABLY_TOKEN_CAPABILITY is longer than {MAX_CAPABILITY_BYTES} bytes. {fix}")
    try:
        parsed = parse_json(raw)
    except TooDeep:
        raise ConfigurationError(
            f"ABLY_TOKEN_CAPABILITY is nested deeper than {MAX_JSON_DEPTH} levels. {fix}"
        ) from None
    except ValueError:
        raise ConfigurationError(f"ABLY_TOKEN_CAPABILITY is not valid JSON. {fix}") from None
    if not isinstance(parsed, dict) or not parsed:
        raise ConfigurationError(f"ABLY_TOKEN_CAPABILITY must be a non-empty JSON object. {fix}")
    for resource, operations in parsed.items():
        if not resource or not isinstance(operations, list) or not operations:
            raise ConfigurationError(
                f"ABLY_TOKEN_CAPABILITY needs a non-empty list of operations for every channel. {fix}"
            )
        if not _is_unicode(resource):
            raise ConfigurationError(
                "ABLY_TOKEN_CAPABILITY names a channel with a lone surrogate escape (such as \\ud800), "
                f"which is not Unicode and cannot travel to Ably as UTF-8. {fix}"
            )
        if not all(isinstance(op, str) for op in operations):
            raise ConfigurationError(f"ABLY_TOKEN_CAPABILITY operations must be strings. {fix}")
        if not all(op in OPERATIONS for op in operations):
            raise ConfigurationError(
                "ABLY_TOKEN_CAPABILITY names an unknown operation; "
                f"known operations are {', '.join(sorted(OPERATIONS))}."
            )
    return canonical_capability(parsed)


def _is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate, which JSON's \\u escapes can write but UTF-8 cannot."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _token_format(raw: str | None) -> TokenFormat:
    if raw is None or not raw.strip():
        return DEFAULT_TOKEN_FORMAT
    for token_format in TOKEN_FORMATS:
        if raw.strip().lower() == token_format:
            return token_format
    raise ConfigurationError(
        "ABLY_TOKEN_FORMAT must be token-request (the default: signed TokenRequests) or jwt (Ably JWTs)."
    )


def _publish_max_rate(raw: str | None, token_format: TokenFormat) -> int | float | None:
    """A positive number of messages per second; only a JWT can carry it to Ably."""
    if raw is None or not raw.strip():
        return None
    if token_format != JWT:
        raise ConfigurationError(
            "ABLY_PUBLISH_MAX_RATE is carried by JWTs only: set ABLY_TOKEN_FORMAT=jwt, or unset "
            "ABLY_PUBLISH_MAX_RATE (a TokenRequest cannot carry a publish limit)."
        )
    text = raw.strip()
    rate = float(text) if _RATE_PATTERN.fullmatch(text) else math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise ConfigurationError(
            "ABLY_PUBLISH_MAX_RATE must be a positive number of messages per second, such as 10 or 0.5."
        )
    return int(rate) if rate.is_integer() else rate


def _ttl_ms(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_TTL_MS
    bounds = f"between {MIN_TTL_MS} (10 seconds) and {MAX_TTL_MS} (24 hours)"
    try:
        ttl = int(raw.strip())
    except ValueError:
        raise ConfigurationError(
            f"ABLY_TOKEN_TTL_MS must be a whole number of milliseconds {bounds}."
        ) from None
    if not MIN_TTL_MS <= ttl <= MAX_TTL_MS:
        raise ConfigurationError(f"ABLY_TOKEN_TTL_MS must be {bounds}.")
    return ttl


def _default_client_id(raw: str | None) -> str:
    if raw is None or not raw.strip():
        return DEFAULT_CLIENT_ID
    try:
        return validate_client_id(raw.strip())
    except InvalidClientId as error:
        raise ConfigurationError(f"DEFAULT_CLIENT_ID is not usable: {error.message}") from None


def _allowed_origins(raw: str | None) -> frozenset[str]:
    """Origins allowed to call the function from another site; same-origin pages need none."""
    if raw is None or not raw.strip():
        return frozenset()
    # Scheme and host are case-insensitive, and browsers send them in lower case, without a trailing slash.
    origins = frozenset(
        origin.strip().lower().removesuffix("/") for origin in raw.split(",") if origin.strip()
    )
    bad = [origin for origin in origins if origin != "*" and not _ORIGIN_PATTERN.fullmatch(origin)]
    if bad:
        raise ConfigurationError(
            "ABLY_ALLOWED_ORIGINS must be a comma-separated list of origins such as "
            "https://example.com,http://localhost:8888 (or * for any origin)."
        )
    return origins

"""The Ably API key: parsed once, and never printable in full."""

import re
from dataclasses import dataclass, field

from ably_token_request.errors import ConfigurationError, KeyUnavailable

# appId.keyId:secret, as shown in the Ably dashboard.
_KEY_PATTERN = re.compile(r"(?P<name>[^.:\s]+\.[^.:\s]+):(?P<secret>[^\s]+)")

KEY_FORM = "appId.keyId:secret (copy the whole key from the Ably dashboard, API Keys tab)"


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: str = field(repr=False)

    @property
    def value(self) -> str:
        return f"{self.name}:{self.secret}"


def parse_api_key(value: str, *, source: str) -> ApiKey:
    """Split a key, naming where it came from (not what it holds) when it is malformed."""
    match = _KEY_PATTERN.fullmatch(value.strip())
    if match is None:
        raise ConfigurationError(f"{source} does not hold an Ably API key of the form {KEY_FORM}.")
    return ApiKey(name=match["name"], secret=match["secret"])


def parse_stored_api_key(value: object, *, source: str) -> ApiKey:
    """Parse a key read from a key store, where a bad value is a 500 about the store, not the env."""
    if not isinstance(value, str):
        raise KeyUnavailable(f"{source} does not hold a string.")
    try:
        return parse_api_key(value, source=source)
    except ConfigurationError as error:
        raise KeyUnavailable(error.message) from None

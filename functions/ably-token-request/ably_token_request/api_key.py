"""The Ably API key: parsed once, exactly as the signer accepts it, and never printable in full."""

import re
from dataclasses import dataclass, field

from ably_token_request.errors import ConfigurationError, KeyUnavailable
from ably_token_request.limits import MAX_STORED_KEY_BYTES

# appId.keyId:secret, as shown in the Ably dashboard. The secret holds no `:` (ably-python splits the key on
# it and refuses any other count of parts, listing them in its error) and no whitespace.
_KEY_PATTERN = re.compile(r"(?P<name>[^.:\s]+\.[^.:\s]+):(?P<secret>[^:\s]+)")

KEY_FORM = "appId.keyId:secret (copy the whole key from the Ably dashboard, API Keys tab)"
REDACTED = "[redacted]"


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: str = field(repr=False)

    def scrub(self, text: str) -> str:
        """Text with the key's name and secret replaced, for anything that may reach a log line."""
        return text.replace(self.secret, REDACTED).replace(self.name, REDACTED)


def looks_like_api_key(value: str) -> bool:
    return _KEY_PATTERN.search(value) is not None


def parse_api_key(value: str, *, source: str) -> ApiKey:
    """Split a key, naming where it came from (never what it holds) when it is malformed."""
    match = _KEY_PATTERN.fullmatch(value.strip())
    if match is None or not value.isascii():  # Ably's keys are ASCII; other bytes would fail at signing
        raise ConfigurationError(f"{source} does not hold an Ably API key of the form {KEY_FORM}.")
    return ApiKey(name=match["name"], secret=match["secret"])


def parse_stored_api_key(value: object, *, source: str) -> ApiKey:
    """Parse a key read from a key store, where a bad value is a 500 about the store, not the env."""
    if not isinstance(value, str):
        raise KeyUnavailable(f"{source} does not hold a string.")
    if len(value.encode(errors="replace")) > MAX_STORED_KEY_BYTES:
        raise KeyUnavailable(f"{source} holds more than {MAX_STORED_KEY_BYTES} bytes; store only the key.")
    try:
        return parse_api_key(value, source=source)
    except ConfigurationError as error:
        raise KeyUnavailable(error.message) from None

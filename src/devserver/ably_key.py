"""ABLY_API_KEY as the dev server sees it: its form checked at start, then tried against Ably.

The form check refuses what ably-python's signer cannot use (`appId.keyId:secret`, one colon, no spaces)
before the banner claims real Ably. The check against Ably runs in the background once the server is up:
it exchanges a signed TokenRequest with Ably's REST host, as the page's ably-js will, and says in the
terminal what the page is about to meet: the key refused (with Ably's code), or Ably out of reach.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

KEY_PATTERN = re.compile(r"[^.:\s]+\.[^.:\s]+:[^:\s]+")
OFFLINE_HINT = "`make dev ARGS=--local` runs offline with the local realtime service"
DEFAULT_ABLY_HOST = "main.realtime.ably.net"  # where ably-js 2.x and ably-python 3.x send REST calls


class MalformedKey(ValueError):
    pass


def check_key_form(value: str, source: str) -> None:
    """Raise MalformedKey naming where the key came from and the fix; never the value itself."""
    if KEY_PATTERN.fullmatch(value) is None:
        raise MalformedKey(
            f"ABLY_API_KEY ({source}) is not an Ably API key of the form appId.keyId:secret. "
            "Copy the whole key from the Ably dashboard (your app > API Keys), or empty ABLY_API_KEY to "
            "run offline with the local realtime service."
        )


@dataclass(frozen=True)
class AblyRestHost:
    """Where the key check goes: Ably itself unless a test points it at a local service."""

    endpoint: str = DEFAULT_ABLY_HOST
    port: int | None = None
    tls: bool = True

    @classmethod
    def from_url(cls, url: str) -> "AblyRestHost":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        return cls(parts.hostname, parts.port, parts.scheme == "https")

    def sdk_options(self) -> dict[str, object]:
        options: dict[str, object] = {"endpoint": self.endpoint, "tls": self.tls}
        if self.port is not None:
            options["port" if not self.tls else "tls_port"] = self.port
        return options


async def check_key_with_ably(api_key: str, rest: AblyRestHost) -> tuple[bool, str]:
    """(accepted, one line for the terminal). The secret is scrubbed from anything Ably or httpx said."""
    from ably import AblyException, AblyRest  # only in real-Ably mode; the function loads it anyway

    key_name, _, secret = api_key.partition(":")
    client = AblyRest(key=api_key, http_max_retry_count=1, **rest.sdk_options())
    try:
        await client.auth.request_token()
    except AblyException as error:
        detail = _scrub(f"code {error.code}: {error.message}", secret)
        if error.status_code is not None and 400 <= error.status_code < 500:
            return False, (
                f"Ably refused the key {key_name} ({detail}): the page cannot connect. Copy the key again "
                f"from the Ably dashboard (your app > API Keys) into ABLY_API_KEY, or {OFFLINE_HINT}."
            )
        return False, f"Ably answered the key check with an error ({detail}); the page may not connect."
    except httpx.HTTPError as error:
        detail = _scrub(str(error) or type(error).__name__, secret)
        return False, (
            f"Could not reach Ably at {rest.endpoint} ({detail}): the page cannot connect from this "
            f"machine until it can reach Ably; {OFFLINE_HINT}."
        )
    finally:
        await client.close()
    return True, f"Ably accepted the key {key_name}."


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "[secret]") if secret else text

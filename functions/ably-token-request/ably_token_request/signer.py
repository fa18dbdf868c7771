"""Sign TokenRequests with ably-python, keeping its client across warm invocations."""

from collections.abc import Coroutine
from typing import Any

from ably import AblyRest

from ably_token_request.api_key import ApiKey

TokenRequest = dict[str, str | int]


class TokenRequestSigner:
    def __init__(self, *, capability: str, ttl_ms: int) -> None:
        self._params = {"capability": capability, "ttl": ttl_ms}
        self._key: ApiKey | None = None
        self._client: AblyRest | None = None

    def sign(self, key: ApiKey, client_id: str) -> TokenRequest:
        """A TokenRequest as ably-js and ably-python expect it: camelCase, absent fields omitted."""
        if self._client is None or key != self._key:
            self._client = AblyRest(key=key.value)
            self._key = key
        params = {**self._params, "client_id": client_id}
        token_request = _result_of(self._client.auth.create_token_request(params))
        fields: dict[str, Any] = token_request.to_dict()
        return {name: value for name, value in fields.items() if value is not None}


def _result_of(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends, without an event loop.

    create_token_request is async only because it may ask Ably for the server time; with query_time
    off (the default) it never awaits. Driving it directly is thread-safe, costs no loop per call, and
    also works inside Pyodide, where a loop is already running.
    """
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    coroutine.close()
    raise RuntimeError("create_token_request suspended; the signer must not query Ably's time.")

"""Sign TokenRequests with ably-python's own TokenRequest code, without `import ably`.

`import ably` runs the package's __init__, which loads the realtime client, httpx, h2, anyio and websockets
(130-300 ms, about 270 modules) for code the function never calls. The module that does the work,
ably/types/tokenrequest.py, imports only the standard library, so it is loaded straight from the installed
package, and only when the function issues TokenRequests (app.py imports this module in that mode alone).
What AblyRest.auth.create_token_request adds around it (timestamp, nonce, ttl as int, the capability
canonicalised as settings.canonical_capability does) is here, and tests/function/test_signer_parity.py holds
the result byte-identical to it over generated cases: an ably upgrade (it is pinned) that moves or changes
the module, or its capability text, fails there.
"""

import importlib.util
import os
import time
from types import ModuleType
from typing import Any, Literal

from ably_token_request.api_key import ApiKey

TokenRequest = dict[str, str | int]


def _ably_types_module(name: str) -> ModuleType:
    """Load ably/types/<name>.py from the installed ably package, under a private name."""
    package = importlib.util.find_spec("ably")  # a top-level spec: finding it runs no ably code
    if package is None or not package.submodule_search_locations:
        raise ImportError("ably-python is not installed (see requirements.txt)")
    path = os.path.join(package.submodule_search_locations[0], "types", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"ably_token_request._ably_{name}", path)
    # Not mutated: unreachable, a .py path always gets a spec with a loader (the check is for mypy).
    if spec is None or spec.loader is None:  # pragma: no mutate
        raise ImportError(f"ably-python has no types/{name}.py")  # pragma: no mutate
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_tokenrequest = _ably_types_module("tokenrequest")


def new_nonce() -> str:
    """16 hex characters, like ably-python's; from os.urandom, so unique after a SnapStart restore too."""
    return os.urandom(8).hex()


class TokenRequestSigner:
    format: Literal["token-request"] = "token-request"

    def __init__(self, *, capability: str, ttl_ms: int) -> None:
        self._capability = capability
        self._ttl_ms = ttl_ms

    def sign(
        self, key: ApiKey, client_id: str, *, timestamp: int | None = None, nonce: str | None = None
    ) -> TokenRequest:
        """A TokenRequest as ably-js and ably-python expect it: camelCase, absent fields omitted."""
        request = _tokenrequest.TokenRequest(
            key_name=key.name,
            client_id=client_id,
            nonce=nonce or new_nonce(),
            capability=self._capability,
            ttl=self._ttl_ms,
            timestamp=timestamp or int(time.time() * 1000),
        )
        request.sign_request(key.secret.encode())
        fields: dict[str, Any] = request.to_dict()
        return {name: value for name, value in fields.items() if value is not None}

"""`POST /keys/{keyName}/revokeTokens`: revoke a key's tokens by clientId or revocation key.

Basic auth with that same key only (a token is refused with 40162, another key with 40133), and only for
a key created with revocable tokens (40163). Each target succeeds or fails on its own; the answer is a
`BatchResult` (legacy form for clients before X-Ably-Version 3, as in `batch`). Connections using a
revoked token are disconnected with 40141 as soon as the revocation applies.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.errors import AblyError, bad_request
from ably_local.rest.batch import batch_answer
from ably_local.rest.wire import authenticate, endpoint, read_objects
from ably_local.revocation import MAX_ISSUED_BEFORE_AGE_MS, REAUTH_MARGIN_MS


def revocation_routes(apps: Apps) -> list[Route]:
    async def revoke_tokens(request: Request) -> Response:
        key_name = request.path_params["key_name"]
        service, credentials = authenticate(apps, request)
        if credentials.token is not None:
            raise AblyError(40162, 401, "Revoking tokens needs basic auth with the key that issued them")
        if credentials.key_name != key_name:
            raise AblyError(40133, 401, "Tokens can only be revoked with the key that issued them")
        if not service.authority.keys[key_name].revocable_tokens:
            raise AblyError(40163, 401, "Token revocation is not enabled for this key")
        refusal = "The body must be an object with targets"
        [body] = await read_objects(request, service.limits.max_frame_size, refusal, one=True)
        targets = body.get("targets")
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
            raise bad_request("targets must be a non-empty list of strings such as clientId:alice")
        if len(targets) > service.limits.batch_items_per_request:
            raise bad_request(f"At most {service.limits.batch_items_per_request} targets per request")
        now = apps.clock()
        issued_before = _issued_before(body, now)
        margin = body.get("allowReauthMargin", False)
        if not isinstance(margin, bool):
            raise bad_request("allowReauthMargin must be true or false")
        applies_at = now + REAUTH_MARGIN_MS if margin else now
        results: list[dict[str, Any]] = []
        for target in targets:
            try:
                revocation = service.authority.revocations.revoke(
                    key_name, target, issued_before, applies_at, now
                )
                results.append(revocation.to_wire())
            except AblyError as error:
                results.append({"target": target, "error": error.to_wire()})
        for connection in service.drop_revoked():
            connection.wake()
        return batch_answer(request, results, 201)

    return [Route("/keys/{key_name}/revokeTokens", endpoint(revoke_tokens), methods=["POST", "OPTIONS"])]


def _issued_before(body: dict[str, Any], now: int) -> int:
    """Tokens issued before this moment are revoked: now by default, never later, at most an hour back."""
    value = body.get("issuedBefore", now)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("issuedBefore must be a time in milliseconds since the epoch")
    if not now - MAX_ISSUED_BEFORE_AGE_MS <= value <= now:
        raise bad_request("issuedBefore must not be in the future nor more than an hour in the past")
    return value

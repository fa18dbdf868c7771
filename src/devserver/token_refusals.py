"""Say in the terminal when the local realtime service refuses a token request, not only on the page.

In local mode the page's TokenRequest (signed by the token function) is exchanged at
`POST /keys/{keyName}/requestToken`; a refusal there means the function signs with a key or in a way the
service does not accept, which the developer fixes in the terminal's world, not the browser's.
"""

import json
import logging
import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("devserver")

TOKEN_REQUEST_PATH = re.compile(r"/keys/[^/]+/requestToken")
MAX_ERROR_BODY_BYTES = 4096


def report_token_refusals(app: ASGIApp) -> ASGIApp:
    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not TOKEN_REQUEST_PATH.fullmatch(scope["path"]):
            await app(scope, receive, send)
            return
        refusal: dict[str, object] = {}
        body = bytearray()

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
                refusal["code"] = Headers(raw=message.get("headers", [])).get("x-ably-errorcode")
            elif message["type"] == "http.response.body" and refusal and len(body) < MAX_ERROR_BODY_BYTES:
                body.extend(message.get("body", b"")[:MAX_ERROR_BODY_BYTES])
            await send(message)

        await app(scope, receive, watching_send)
        if refusal:
            reason = _error_message(bytes(body))
            log.warning(
                "the local realtime service refused the token function's TokenRequest (code %s%s): "
                "the page cannot connect. Is the function signing with the ABLY_API_KEY the dev server set?",
                refusal["code"],
                f": {reason}" if reason else "",
            )

    return observed


def _error_message(body: bytes) -> str:
    """The service's own error message from a JSON body (msgpack answers are reported by code only)."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return message if isinstance(message, str) else ""

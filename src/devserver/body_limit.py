"""Refuse request bodies over a limit before they are buffered (413), whether declared or streamed.

A declared `Content-Length` over the limit is refused before a byte of the body is read. A streamed
(chunked) body is counted as it arrives: at the limit the 413 goes out, the application is told the client
left, and whatever it still tries to send is dropped.
"""

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devserver.errors import error_response


class BodyTooLarge(Exception):
    """Raised into the application's `receive` once a streamed body passes the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> ASGIApp:
        response = error_response(
            413,
            f"Request body over {self.max_bytes} bytes: the dev server refuses it, as Netlify and AWS "
            "Lambda refuse function payloads over 6 MB.",
        )
        response.headers["connection"] = "close"  # so the rest of the body is not even read and discarded
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refusal()(scope, receive, send)
            return

        received = 0
        response_started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if not response_started:
                        await self._refusal()(scope, receive, send)
                    refused = True
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 has been sent; the application's late answer is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not refused:  # an application failing because its body was cut off (BodyTooLarge) is fine
                raise

"""Answer only requests addressed to this machine by a loopback name, against DNS rebinding.

A web page on another site can point its own host name at 127.0.0.1 and then call the dev server from the
browser as same-origin, minting tokens with the key in `.env`. Such requests carry the attacker's name in
`Host`, so anything but a loopback name (or the `--host` the server was started with) is refused with 421.
WebSocket handshakes never reach this app as such: uvicorn hands them to the realtime service's own
protocol (`server_config`), which refuses them (403) by this same rule, `allows`, given to it in
`create_app`; without the local service an upgrade request is plain HTTP here.
"""

import ipaddress
import logging

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("devserver")

MAX_REPORTED_HOSTS = 32  # refused names logged once each, up to this many, so a hostile page cannot flood


def host_name(host_header: str) -> str:
    """The name part of a Host header: no port, no IPv6 brackets, lower case, no trailing dot."""
    value = host_header.strip()
    if value.startswith("["):
        name = value[1 : value.find("]")] if "]" in value else value[1:]
    else:
        name = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return name.rstrip(".").lower()


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always resolves to loopback
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LoopbackHostOnly:
    def __init__(self, app: ASGIApp, configured_host: str) -> None:
        self.app = app
        self.configured_host = host_name(configured_host)
        self._reported: set[str] = set()

    def allows(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        name = host_name(host_header)
        return name == self.configured_host or is_loopback_name(name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan; WebSockets go to the realtime service's protocol instead
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        self._report(host)
        response = PlainTextResponse(
            "This dev server answers only requests for localhost, 127.0.0.1 or the --host it was started "
            "with (a guard against DNS rebinding). Open it by that address.",
            status_code=421,
        )
        await response(scope, receive, send)

    def _report(self, host: str | None) -> None:
        name = (host or "")[:100]
        if name in self._reported or len(self._reported) >= MAX_REPORTED_HOSTS:
            return
        self._reported.add(name)
        log.warning("refused a request for host %r: the dev server answers only loopback names", name)

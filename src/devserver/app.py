"""The dev server's single origin: static page, Python functions, and (offline) the local realtime service."""

import asyncio
import contextlib
import html
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ably_local import REST_PATH_PREFIXES, LocalAbly
from devserver.body_limit import BodyLimit
from devserver.functions import FunctionRegistry
from devserver.host_check import LoopbackHostOnly
from devserver.limits import MAX_REQUEST_BODY_BYTES
from devserver.rate_limit import FunctionRateLimits, RateLimit
from devserver.token_refusals import report_token_refusals

FUNCTIONS_PREFIX = "/.netlify/functions"
ABLY_DOMAINS = ("ably.net", "ably-realtime.com", "ably.io")  # where ably-js 2.28 connects in production
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PAGE_PATHS = ("/", "/index.html")


@dataclass(frozen=True)
class DevConfig:
    site_dir: Path
    functions_dir: Path
    realtime: LocalAbly | None
    host: str = "127.0.0.1"  # the --host it listens on: answered besides loopback names
    # Each function's declared config.rateLimit (function_config.declared_rate_limits), applied per address.
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)


def create_app(config: DevConfig) -> ASGIApp:
    registry = FunctionRegistry(config.functions_dir)
    realtime = config.realtime
    rate_limits = FunctionRateLimits(config.rate_limits)

    async def function(request: Request) -> Response:
        refusal = rate_limits.refusal(request.path_params["name"], request)
        return refusal if refusal is not None else await registry.respond(request)

    async def index(request: Request) -> Response:
        page = config.site_dir / "index.html"
        if not page.is_file():
            return HTMLResponse("<h1>No built page</h1><p>Run <code>npm run build</code>.</p>", 404)
        text = page.read_text()
        if realtime is not None:
            text = text.replace("</head>", f"{_client_options_tag(request, realtime)}\n  </head>", 1)
        headers = {"Cache-Control": "no-store", "Content-Security-Policy": _content_security_policy(request)}
        return HTMLResponse(text, headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        timers = asyncio.create_task(realtime.run_timers()) if realtime is not None else None
        yield
        if timers is not None:
            timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timers

    site = Starlette(
        routes=[
            Route(FUNCTIONS_PREFIX + "/{name}", function, methods=ALL_METHODS),
            Route(FUNCTIONS_PREFIX + "/{name}/{rest:path}", function, methods=ALL_METHODS),
            *(Route(path, index) for path in PAGE_PATHS),
        ],
        lifespan=lifespan,
    )
    site.mount("/", StaticFiles(directory=config.site_dir, check_dir=False), name="site")
    local_ably = report_token_refusals(realtime.asgi_app) if realtime is not None else None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # WebSocket upgrades never reach here: uvicorn hands them to the realtime service's own protocol.
        if local_ably is not None and scope.get("path", "").startswith(REST_PATH_PREFIXES):
            await local_ably(scope, receive, send)
        else:
            await site(scope, receive, send)

    guarded = LoopbackHostOnly(BodyLimit(app, MAX_REQUEST_BODY_BYTES), config.host)
    if realtime is not None:  # its WebSocket handshakes bypass this app; the same rule applies there
        realtime.accepts_host = guarded.allows
    return guarded


def _content_security_policy(request: Request) -> str:
    """As strict as the published site's: the page must run with no inline code and no CDN."""
    origin = f"{request.url.hostname}:{request.url.port or 80}"
    connect = f"'self' ws://{origin} " + " ".join(
        f"{scheme}://*.{domain}" for domain in ABLY_DOMAINS for scheme in ("https", "wss")
    )
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def _client_options_tag(request: Request, realtime: LocalAbly) -> str:
    """Development-only ably-js options pointing at this origin; the published page never has them."""
    host = request.url.hostname or "127.0.0.1"
    port = request.url.port or 80
    options = {
        "endpoint": host,
        "port": port,
        "tls": False,
        "transports": ["web_socket"],
        "disableConnectivityCheck": True,
    }
    return f'<meta name="ably-client-options" content="{html.escape(json.dumps(options))}">'

"""The REST API the SDKs call, one module per group of endpoints, all sharing `wire`'s plumbing."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.errors import AblyError
from ably_local.rest.batch import batch_routes
from ably_local.rest.channels import channel_routes
from ably_local.rest.keys import key_routes
from ably_local.rest.messages import message_routes
from ably_local.rest.revocation import revocation_routes
from ably_local.rest.stats import stats_routes
from ably_local.rest.status import status_routes
from ably_local.rest.wire import authenticate, endpoint

# Paths the REST API owns; the dev server sends these to the service and everything else to the page.
REST_PATH_PREFIXES = ("/time", "/keys/", "/channels/", "/stats", "/messages", "/presence", "/apps")


def rest_routes(apps: Apps) -> list[Route]:
    async def not_found(request: Request) -> Response:
        authenticate(apps, request)  # as everywhere: a stranger learns nothing, not even what exists
        raise AblyError(40400, 404, f"No such resource: {request.method} {request.url.path[:200]}")

    return [
        *key_routes(apps),
        *message_routes(apps),
        *revocation_routes(apps),
        *channel_routes(apps),
        *status_routes(apps),  # after the other /channels/ routes: it matches any name
        *batch_routes(apps),
        *stats_routes(apps),
        Route("/{path:path}", endpoint(not_found), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]


__all__ = ["REST_PATH_PREFIXES", "rest_routes"]

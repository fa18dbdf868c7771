"""REST endpoints for one message by its serial: read it, change it, list its versions and annotations."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.channels import validate_channel_name
from ably_local.realtime import RealtimeService
from ably_local.rest.wire import answer, authenticate, endpoint, int_param, page_limit, read_items, require


def message_routes(apps: Apps) -> list[Route]:
    async def message(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        name, serial = _names(request, service)
        if request.method == "GET":
            require(credentials, "history", name)
            return answer(request, service.messaging.message_store(name).get(serial).latest)
        [change] = await read_items(
            request, service.limits.max_frame_size, "Send the changed message as an object", one=True
        )
        change["serial"] = serial
        [checked] = service.messaging.checked_messages([change], credentials, name)
        version_serial = service.messaging.mutate(name, checked, credentials)
        return answer(request, {"versionSerial": version_serial})

    async def versions(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        name, serial = _names(request, service)
        require(credentials, "history", name)
        return _page(request, service.messaging.message_store(name).get(serial).versions, "versions")

    async def annotations(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        name, serial = _names(request, service)
        if request.method == "GET":
            require(credentials, "history", name)
            return _page(
                request, service.messaging.message_store(name).get(serial).annotations, "annotations"
            )
        limit = service.limits.max_frame_size
        raw = await read_items(request, limit, "Send an annotation object or a list of them")
        for item in raw:
            item["messageSerial"] = serial
        serials = service.messaging.annotate(name, raw, credentials, "rest")
        return answer(request, {"serials": serials}, 201)

    return [
        Route(
            "/channels/{channel:path}/messages/{serial}",
            endpoint(message),
            methods=["GET", "PATCH", "OPTIONS"],
        ),
        Route(
            "/channels/{channel:path}/messages/{serial}/versions",
            endpoint(versions),
            methods=["GET", "OPTIONS"],
        ),
        Route(
            "/channels/{channel:path}/messages/{serial}/annotations",
            endpoint(annotations),
            methods=["GET", "POST", "OPTIONS"],
        ),
    ]


def _names(request: Request, service: RealtimeService) -> tuple[str, str]:
    name = validate_channel_name(request.path_params["channel"], service.limits)
    return name, request.path_params["serial"]


def _page(request: Request, items: list[dict[str, Any]], resource: str) -> Response:
    """Oldest first, `limit` at a time; the Link names the index the next page starts at."""
    limit = page_limit(request)
    start = int_param(request, "start_at", 0, 0, len(items))
    headers = {}
    if start + limit < len(items):
        headers["Link"] = f'<./{resource}?limit={limit}&start_at={start + limit}>; rel="next"'
    return answer(request, items[start : start + limit], headers=headers)

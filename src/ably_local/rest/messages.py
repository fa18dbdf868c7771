"""REST endpoints for one message by its serial: read it, change it, list its versions and annotations."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.channels import validate_channel_name
from ably_local.errors import bad_request
from ably_local.protocol import decode_base64_data
from ably_local.realtime import RealtimeService
from ably_local.rest.wire import (
    answer,
    authenticate,
    endpoint,
    int_param,
    read_body,
    request_is_json,
    require,
)

MAX_PAGE = 1000


def message_routes(apps: Apps) -> list[Route]:
    async def message(request: Request) -> Response:
        name, serial = _names(request)
        service, credentials = authenticate(apps, request)
        if request.method == "GET":
            require(credentials, "history", name)
            return answer(request, service.messaging.message_store(name).get(serial).latest)
        change = await _body(request, service)
        if not isinstance(change, dict):
            raise bad_request("Send the changed message as an object")
        change["serial"] = serial
        [checked] = service.messaging.checked_messages([change], credentials)
        version_serial = service.messaging.mutate(name, checked, credentials)
        return answer(request, {"versionSerial": version_serial})

    async def versions(request: Request) -> Response:
        name, serial = _names(request)
        service, credentials = authenticate(apps, request)
        require(credentials, "history", name)
        return _page(request, service.messaging.message_store(name).get(serial).versions, "versions")

    async def annotations(request: Request) -> Response:
        name, serial = _names(request)
        service, credentials = authenticate(apps, request)
        if request.method == "GET":
            require(credentials, "history", name)
            return _page(
                request, service.messaging.message_store(name).get(serial).annotations, "annotations"
            )
        body = await _body(request, service)
        raw = body if isinstance(body, list) else [body]
        if not raw or not all(isinstance(item, dict) for item in raw):
            raise bad_request("Send an annotation object or a list of them")
        for item in raw:
            item["messageSerial"] = serial
        serials = service.messaging.annotate(name, raw, credentials, "rest", credentials.own_client_id)
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


def _names(request: Request) -> tuple[str, str]:
    return validate_channel_name(request.path_params["channel"]), request.path_params["serial"]


async def _body(request: Request, service: RealtimeService) -> Any:
    body = await read_body(request, service.limits.max_frame_size)
    if request_is_json(request):
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict):
                decode_base64_data(item)
    return body


def _page(request: Request, items: list[dict[str, Any]], resource: str) -> Response:
    """Oldest first, `limit` at a time; the Link names the index the next page starts at."""
    limit = int_param(request, "limit", 100, 1, MAX_PAGE)
    start = int_param(request, "start_at", 0, 0, len(items))
    headers = {}
    if start + limit < len(items):
        headers["Link"] = f'<./{resource}?limit={limit}&start_at={start + limit}>; rel="next"'
    return answer(request, items[start : start + limit], headers=headers)

"""REST channel endpoints: publish, message and presence history, and the current presence set."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.auth import Credentials
from ably_local.channels import validate_channel_name
from ably_local.errors import AblyError, bad_request
from ably_local.history import Event
from ably_local.protocol import Action
from ably_local.realtime import RealtimeService
from ably_local.rest.publishing import publish_over_rest
from ably_local.rest.wire import (
    answer,
    authenticate,
    direction_param,
    endpoint,
    int_param,
    page_limit,
    read_items,
    require,
)


def channel_routes(apps: Apps) -> list[Route]:
    async def messages(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        name = validate_channel_name(request.path_params["channel"], service.limits)
        if request.method == "POST":
            return await publish(request, service, name, credentials)
        require(credentials, "history", name)
        return history(request, service.messaging.history_of(name, Action.MESSAGE), "messages")

    async def publish(
        request: Request, service: RealtimeService, name: str, credentials: Credentials
    ) -> Response:
        limit = service.limits.max_frame_size
        raw = await read_items(request, limit, "Publish a message object or a list of them")
        return answer(request, publish_over_rest(service, name, raw, credentials), 201)

    async def presence(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        name = validate_channel_name(request.path_params["channel"], service.limits)
        require(credentials, "subscribe", name)
        return answer(request, service.presence.members(name))

    async def presence_history(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        name = validate_channel_name(request.path_params["channel"], service.limits)
        require(credentials, "history", name)
        return history(request, service.messaging.history_of(name, Action.PRESENCE), "presence/history")

    return [
        Route("/channels/{channel:path}/messages", endpoint(messages), methods=["GET", "POST", "OPTIONS"]),
        Route(
            "/channels/{channel:path}/presence/history",
            endpoint(presence_history),
            methods=["GET", "OPTIONS"],
        ),
        Route("/channels/{channel:path}/presence", endpoint(presence), methods=["GET", "OPTIONS"]),
    ]


def history(request: Request, events: list[Event], resource: str) -> Response:
    """Newest first by default. The cursor names the next page's first item by (position, index), so
    items recorded between page fetches neither repeat nor hide older ones."""
    limit = page_limit(request)
    direction = direction_param(request)
    start = int_param(request, "start", 0, 0, 2**63)
    end = int_param(request, "end", 2**63, 0, 2**63)
    # untilAttach: ably-js sends the attach's channelSerial; only what was published before it counts.
    until = _position_param(request, "from_serial")
    cursor = _cursor_param(request)
    keyed: list[tuple[tuple[int, int], dict[str, Any]]] = [
        ((event.position, index), item)
        for event in events
        if start <= event.timestamp <= end and (until is None or event.position < until)
        for index, item in enumerate(event.items)
    ]
    if direction == "backwards":
        keyed.reverse()
        selected = [entry for entry in keyed if cursor is None or entry[0] <= cursor]
    else:
        selected = [entry for entry in keyed if cursor is None or entry[0] >= cursor]
    page = resource.rsplit("/", 1)[-1]
    query = f"limit={limit}&direction={direction}&start={start}&end={end}"
    if until is not None:
        query += f"&from_serial={until}"
    current = request.url.query or query
    # ably-js follows these for first(), current() and next().
    links = [f'<./{page}?{query}>; rel="first"', f'<./{page}?{current}>; rel="current"']
    if len(selected) > limit:
        position, index = selected[limit][0]
        links.append(f'<./{page}?{query}&cursor={position}:{index}>; rel="next"')
    return answer(request, [item for _, item in selected[:limit]], headers={"Link": ", ".join(links)})


def _cursor_param(request: Request) -> tuple[int, int] | None:
    raw = request.query_params.get("cursor")
    if raw is None:
        return None
    position, _, index = raw.partition(":")
    if not (position.isdigit() and index.isdigit() and len(raw) < 40):
        raise AblyError(40000, 400, "cursor must be position:index from a Link header")
    return int(position), int(index)


def _position_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 20:
        raise bad_request(f"{name} must be a channelSerial this service gave out")
    return int(raw)

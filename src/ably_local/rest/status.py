"""`GET /channels/{name}`: a channel's details and occupancy (ChannelDetails), as Ably's channel status.

Occupancy counts the realtime attachments by the modes they were granted (CHM2). Asking for a channel's
status does not create it here; it is reported active, as Ably reports every channel whose metrics are read
(CHS2a).
"""

from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.channels import validate_channel_name
from ably_local.errors import AblyError, invalid_channel
from ably_local.rest.wire import answer, authenticate, endpoint, require

PREFIX = b"/channels/"
NO_METRICS = {
    "connections": 0,
    "presenceConnections": 0,
    "presenceMembers": 0,
    "presenceSubscribers": 0,
    "publishers": 0,
    "subscribers": 0,
    "objectPublishers": 0,
    "objectSubscribers": 0,
}


def status_routes(apps: Apps) -> list[Route]:
    async def status(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        # The name is one path segment as sent (SDKs percent-encode `/`); more segments are another resource.
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        segment = raw_path.partition(b"?")[0][len(PREFIX) :]
        if not raw_path.startswith(PREFIX) or b"/" in segment:
            raise AblyError(40400, 404, f"No such resource: {request.method} {request.url.path[:200]}")
        try:
            name = validate_channel_name(unquote_to_bytes(segment).decode(), service.limits)
        except UnicodeDecodeError:
            raise invalid_channel("Channel name is not valid UTF-8") from None
        require(credentials, "channel-metadata", name)
        metrics = service.channel_metrics(name) or NO_METRICS
        details = {
            "channelId": name,
            "name": name,
            "status": {"isActive": True, "occupancy": {"metrics": metrics}},
        }
        return answer(request, details)

    return [Route("/channels/{channel:path}", endpoint(status), methods=["GET", "OPTIONS"])]

"""REST endpoints about credentials and the clock: token requests and server time."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.rest.wire import answer, endpoint, read_objects


def key_routes(apps: Apps) -> list[Route]:
    async def time(request: Request) -> Response:
        return answer(request, [apps.clock()])

    async def request_token(request: Request) -> Response:
        key_name = request.path_params["key_name"]
        service = apps.for_key_name(key_name)
        refusal = "Token request body must be an object"
        [body] = await read_objects(request, service.limits.max_frame_size, refusal, one=True)
        details = service.authority.request_token(key_name, body)
        return answer(request, details.to_wire())

    return [
        Route("/time", endpoint(time), methods=["GET", "OPTIONS"]),
        Route("/keys/{key_name}/requestToken", endpoint(request_token), methods=["POST", "OPTIONS"]),
    ]

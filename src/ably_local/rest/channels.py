"""The REST endpoints the SDKs call: time, token requests, publish, history and presence.

Bodies and answers are JSON or msgpack as the client asks (ably-python defaults to msgpack). Errors are
Ably's error object with an `x-ably-errorcode` header, which browser ably-js needs to recognise them.
"""

import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.auth import Credentials
from ably_local.capability import operations_on
from ably_local.channels import validate_channel_name
from ably_local.errors import AblyError, bad_request, capability_denied, invalid_client_id, unauthorized
from ably_local.protocol import decode_base64_data, to_json_item
from ably_local.realtime import RealtimeService

REST_PATH_PREFIXES = ("/time", "/keys/", "/channels/")
MSGPACK_TYPE = "application/x-msgpack"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "x-ably-errorcode, x-ably-errormessage, link",
}
MAX_HISTORY_LIMIT = 1000

Endpoint = Callable[[Request], Awaitable[Response]]


def rest_routes(service: RealtimeService) -> list[Route]:
    def endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Endpoint:
        async def guarded(request: Request) -> Response:
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=CORS_HEADERS)
            try:
                return await handler(request)
            except AblyError as error:
                return error_response(request, error)

        return guarded

    async def time(request: Request) -> Response:
        return answer(request, [service.clock()])

    async def request_token(request: Request) -> Response:
        body = await read_body(request)
        if not isinstance(body, dict):
            raise bad_request("Token request body must be an object")
        details = service.authority.request_token(request.path_params["key_name"], body)
        return answer(request, details.to_wire())

    async def messages(request: Request) -> Response:
        name = validate_channel_name(request.path_params["channel"])
        credentials = authenticate(service, request)
        if request.method == "POST":
            return await publish(request, name, credentials)
        require(credentials, "history", name)
        return history(request, name)

    async def publish(request: Request, name: str, credentials: Credentials) -> Response:
        require(credentials, "publish", name)
        body = await read_body(request)
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(item, dict) for item in items):
            raise bad_request("Publish a message object or a list of them")
        for item in items:
            if request_is_json(request):
                decode_base64_data(item)
            client_id = item.get("clientId")
            if client_id is not None and not credentials.may_act_as(client_id):
                raise invalid_client_id(f"Message clientId {client_id!r} does not match the token's")
        connection_id = f"rest-{secrets.token_hex(4)}"
        event = service.publish(name, items, connection_id, 0, credentials.client_id)
        serials = [event.message["channelSerial"]] * len(items)
        return answer(request, {"channel": name, "messageId": event.message["id"], "serials": serials}, 201)

    def history(request: Request, name: str) -> Response:
        """Newest first by default. The cursor names the next page's first message by (serial, index), so
        messages published between page fetches neither repeat nor hide older ones."""
        limit = _int_param(request, "limit", 100, 1, MAX_HISTORY_LIMIT)
        direction = request.query_params.get("direction", "backwards")
        if direction not in ("backwards", "forwards"):
            raise bad_request("direction must be backwards or forwards")
        cursor = _cursor_param(request)
        keyed = [
            ((event.serial, index), {**item, "timestamp": event.timestamp})
            for event in service.history(name)
            for index, item in enumerate(event.message["messages"])
        ]
        if direction == "backwards":
            keyed.reverse()
            selected = [entry for entry in keyed if cursor is None or entry[0] <= cursor]
        else:
            selected = [entry for entry in keyed if cursor is None or entry[0] >= cursor]
        headers = {}
        if len(selected) > limit:
            serial, index = selected[limit][0]
            query = f"limit={limit}&direction={direction}&cursor={serial}:{index}"
            headers["Link"] = f'<./messages?{query}>; rel="next"'
        return answer(request, [item for _, item in selected[:limit]], headers=headers)

    async def presence(request: Request) -> Response:
        name = validate_channel_name(request.path_params["channel"])
        credentials = authenticate(service, request)
        require(credentials, "subscribe", name)
        return answer(request, service.present_members(name))

    async def not_found(request: Request) -> Response:
        raise AblyError(40400, 404, f"No such resource: {request.method} {request.url.path}")

    methods = ["GET", "POST", "OPTIONS"]
    return [
        Route("/time", endpoint(time), methods=["GET", "OPTIONS"]),
        Route("/keys/{key_name}/requestToken", endpoint(request_token), methods=["POST", "OPTIONS"]),
        Route("/channels/{channel:path}/messages", endpoint(messages), methods=methods),
        Route("/channels/{channel:path}/presence", endpoint(presence), methods=["GET", "OPTIONS"]),
        Route("/{path:path}", endpoint(not_found), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]


def _cursor_param(request: Request) -> tuple[int, int] | None:
    raw = request.query_params.get("cursor")
    if raw is None:
        return None
    serial, _, index = raw.partition(":")
    if not (serial.isdigit() and index.isdigit()):
        raise bad_request("cursor must be serial:index from a Link header")
    return int(serial), int(index)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}")
    return value


def authenticate(service: RealtimeService, request: Request) -> Credentials:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            return service.authority.basic(base64.b64decode(value).decode())
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized(40101, "Malformed Basic credentials") from None
    if scheme.lower() == "bearer":
        try:
            token = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            token = value
        return service.authority.token(token)
    if query_token := request.query_params.get("access_token"):
        return service.authority.token(query_token)
    raise unauthorized(40101, "No authentication information")


def require(credentials: Credentials, operation: str, name: str) -> None:
    if operation not in operations_on(credentials.capability, name):
        raise capability_denied(operation, name)


def request_is_json(request: Request) -> bool:
    return MSGPACK_TYPE not in request.headers.get("content-type", "")


async def read_body(request: Request) -> Any:
    raw = await request.body()
    try:
        if request_is_json(request):
            return json.loads(raw)
        return msgpack.unpackb(raw, raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise bad_request("Unable to decode the request body") from None


def wants_msgpack(request: Request) -> bool:
    return MSGPACK_TYPE in request.headers.get("accept", "")


def answer(request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    headers = {**CORS_HEADERS, **(headers or {})}
    if wants_msgpack(request):
        return Response(msgpack.packb(body, use_bin_type=True), status, headers, MSGPACK_TYPE)
    if isinstance(body, list):
        body = [to_json_item(item) if isinstance(item, dict) else item for item in body]
    if request.query_params.get("envelope") == "json":
        body, status = {"statusCode": status, "response": body, "headers": headers}, 200
    return Response(json.dumps(body, separators=(",", ":")), status, headers, "application/json")


def error_response(request: Request, error: AblyError) -> Response:
    headers = {"x-ably-errorcode": str(error.code), "x-ably-errormessage": error.message}
    return answer(request, {"error": error.to_wire()}, error.status, headers)

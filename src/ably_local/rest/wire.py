"""How the REST API reads requests and writes answers, the same for every endpoint.

Bodies and answers are JSON or msgpack as the client asks (ably-python defaults to msgpack). A body is
refused past the size limit while it streams in, before it is buffered. Errors are Ably's error object with
an `x-ably-errorcode` header, which browser ably-js needs to recognise them.
"""

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
from starlette.requests import Request
from starlette.responses import Response

from ably_local.apps import Apps
from ably_local.auth import WILDCARD_CLIENT_ID, Credentials
from ably_local.capability import operations_on
from ably_local.errors import AblyError, bad_request, capability_denied, unauthorized
from ably_local.protocol import decode_base64_data, decode_json, decode_msgpack, to_json_item
from ably_local.realtime import RealtimeService

MSGPACK_TYPE = "application/x-msgpack"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Expose-Headers": "x-ably-errorcode, x-ably-errormessage, link",
}

# Ably's largest `limit` on a paginated request (history, stats, versions, annotations).
MAX_PAGE_ITEMS = 1000

Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    """Answer CORS preflights, and turn an AblyError anywhere in the handler into Ably's error answer."""

    async def guarded(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS_HEADERS)
        try:
            return await handler(request)
        except AblyError as error:
            return error_response(request, error)

    return guarded


def request_is_json(request: Request) -> bool:
    return MSGPACK_TYPE not in request.headers.get("content-type", "")


async def read_body(request: Request, limit: int) -> Any:
    """The decoded body; over `limit` bytes is refused as soon as that is known, with nothing kept."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return None
    return decode_json(raw) if request_is_json(request) else decode_msgpack(raw)


async def read_objects(request: Request, limit: int, refusal: str, one: bool = False) -> list[dict[str, Any]]:
    """A body of one object, or (unless `one`) a non-empty list of them; anything else is refused with
    `refusal`."""
    body = await read_body(request, limit)
    objects = body if isinstance(body, list) and not one else [body]
    if not objects or not all(isinstance(item, dict) for item in objects):
        raise bad_request(refusal)
    return objects


async def read_items(request: Request, limit: int, refusal: str, one: bool = False) -> list[dict[str, Any]]:
    """A body of message-like objects, as `read_objects` reads it, with base64 data from JSON made bytes."""
    items = await read_objects(request, limit, refusal, one)
    decode_json_data(request, items)
    return items


def decode_json_data(request: Request, items: list[dict[str, Any]]) -> None:
    """Binary data arrives from JSON clients as base64; inside the service it is bytes."""
    if request_is_json(request):
        for item in items:
            decode_base64_data(item)


def _too_large(limit: int) -> AblyError:
    return AblyError(40009, 413, f"Request body larger than {limit} bytes")


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
    return answer(request, {"error": error.to_wire()}, error.status, error_headers(error))


def error_headers(error: AblyError) -> dict[str, str]:
    return {"x-ably-errorcode": str(error.code), "x-ably-errormessage": error.message}


def authenticate(apps: Apps, request: Request) -> tuple[RealtimeService, Credentials]:
    """The app and credentials a request acts with: Basic key, Bearer token, or `key`/`access_token`."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key: str | None = None
    token: str | None = None
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized(40101, "Malformed Basic credentials") from None
    elif scheme.lower() == "bearer":
        try:
            token = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            token = value
    else:
        key = request.query_params.get("key")
        token = request.query_params.get("access_token")
    if key:
        service = apps.for_key(key)
        credentials = service.authority.basic(key)
        return service, _with_header_client_id(request, credentials)
    if token:
        service = apps.for_token(token)
        return service, service.authority.token(token)
    raise unauthorized(40101, "No authentication information")


def _with_header_client_id(request: Request, credentials: Credentials) -> Credentials:
    """Basic auth may name a clientId in X-Ably-ClientId (base64), as the SDKs send it (RSA7e2)."""
    header = request.headers.get("x-ably-clientid")
    if header is None:
        return credentials
    try:
        client_id = base64.b64decode(header, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise bad_request("X-Ably-ClientId must be base64 of the clientId") from None
    if not client_id or client_id == WILDCARD_CLIENT_ID:
        raise AblyError(40012, 400, "X-Ably-ClientId must name one clientId")
    return Credentials(credentials.key_name, client_id, credentials.capability)


def require(credentials: Credentials, operation: str, name: str) -> None:
    if operation not in operations_on(credentials.capability, name):
        raise capability_denied(operation, name)


def page_limit(request: Request) -> int:
    """A paginated request's `limit`: 100 unless asked, at most Ably's 1,000."""
    return int_param(request, "limit", 100, 1, MAX_PAGE_ITEMS)


def direction_param(request: Request) -> str:
    direction = request.query_params.get("direction", "backwards")
    if direction not in ("backwards", "forwards"):
        raise bad_request("direction must be backwards or forwards")
    return direction


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}")
    return value

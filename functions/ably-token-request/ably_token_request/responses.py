"""Lambda proxy responses: JSON bodies or JWTs, never cached, and the CORS headers that go with them."""

import json
from collections.abc import Mapping
from typing import Any

from ably_token_request.errors import FunctionError, OriginNotAllowed
from ably_token_request.http_request import HttpRequest

ALLOWED_METHODS = "GET, POST, OPTIONS"
# What ably-js and fetch() may send with an authUrl request, plus a bearer token for Identity.
ALLOWED_HEADERS = "Accept, Authorization, Content-Type, X-Ably-Version, Ably-Agent"
PREFLIGHT_MAX_AGE = "600"

Response = dict[str, Any]


def json_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    return _uncached(status, "application/json", json.dumps(body, separators=(",", ":")), headers)


def jwt_response(token: str, headers: Mapping[str, str]) -> Response:
    """A JWT as its own text: ably-js and ably-python take `application/jwt` as a token string."""
    return _uncached(200, "application/jwt", token, headers)


def _uncached(status: int, content_type: str, body: str, headers: Mapping[str, str] | None) -> Response:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": content_type,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def error_response(error: FunctionError, headers: Mapping[str, str] | None = None) -> Response:
    """Ably's error shape; x-ably-errorcode lets browser ably-js surface the message as the cause."""
    body = {"error": {"message": error.message, "code": error.code, "statusCode": error.status}}
    extra = {"x-ably-errorcode": str(error.code), **(headers or {}), **error.headers}
    return json_response(error.status, body, extra)


def check_origin(request: HttpRequest, allowed_origins: frozenset[str]) -> dict[str, str]:
    """The CORS headers for the request's answers; a browser request from another site that
    ABLY_ALLOWED_ORIGINS does not list is refused.

    Browsers send Origin on cross-site requests (and on same-origin POSTs); a same-origin page, with or
    without it, and a caller that sends none (curl, ably-python) are not refused. An allowed Origin gets
    CORS headers; a request without one gets none.
    """
    origin = request.origin
    if origin is None:
        return {}
    if not _is_allowed(origin, request, allowed_origins):
        raise OriginNotAllowed("This origin may not call the token function; add it to ABLY_ALLOWED_ORIGINS.")
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "x-ably-errorcode",
        "Vary": "Origin",
    }


def preflight_response(cors: Mapping[str, str]) -> Response:
    headers = {
        **cors,
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        "Allow": ALLOWED_METHODS,
    }
    return no_content(headers)


def no_content(headers: Mapping[str, str]) -> Response:
    """204, no body: a preflight's answer and a warm-up's."""
    return {"statusCode": 204, "headers": dict(headers), "body": "", "isBase64Encoded": False}


def _is_allowed(origin: str, request: HttpRequest, allowed_origins: frozenset[str]) -> bool:
    if "*" in allowed_origins or origin in allowed_origins:
        return True
    host = request.headers.get("x-forwarded-host") or request.headers.get("host")
    return host is not None and origin.split("://", 1)[-1].lower() == host.lower()

"""The dev server's own error answers, in Ably's error shape like the functions' errors."""

import json

from starlette.responses import Response


def error_response(status: int, message: str, *, code: int | None = None) -> Response:
    """`{"error": {message, code, statusCode}}` with `x-ably-errorcode`, which ably-js shows as the cause.

    The code is an Ably error code: given, or the status's generic one (status * 100)."""
    code = status * 100 if code is None else code
    body = {"error": {"message": message, "code": code, "statusCode": status}}
    return Response(json.dumps(body), status, {"x-ably-errorcode": str(code)}, "application/json")

"""The dev server's own error answers, in Ably's error shape like the functions' errors."""

import json

from starlette.responses import Response


def error_response(status: int, message: str) -> Response:
    """`{"error": {message, code, statusCode}}` with `x-ably-errorcode`, which ably-js shows as the cause."""
    body = {"error": {"message": message, "code": status * 100, "statusCode": status}}
    return Response(json.dumps(body), status, {"x-ably-errorcode": str(status * 100)}, "application/json")

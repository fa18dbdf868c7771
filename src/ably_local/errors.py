"""Ably's errors: each refusal carries the code and HTTP status the real service uses."""

from typing import Any

HELP_URL = "https://help.ably.io/error/"


class AblyError(Exception):
    """A refusal in Ably's own terms; `code` and `status` go on the wire unchanged."""

    def __init__(self, code: int, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    def to_wire(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "code": self.code,
            "statusCode": self.status,
            "href": f"{HELP_URL}{self.code}",
        }


def bad_request(message: str) -> AblyError:
    return AblyError(40000, 400, message)


def invalid_channel(message: str) -> AblyError:
    return AblyError(40010, 400, message)


def invalid_client_id(message: str) -> AblyError:
    return AblyError(40012, 400, message)


def message_too_large(size: int, limit: int) -> AblyError:
    return AblyError(40009, 400, f"Maximum message length exceeded (size {size}, limit {limit})")


def unauthorized(code: int, message: str) -> AblyError:
    return AblyError(code, 401, message)


def capability_denied(operation: str, channel: str) -> AblyError:
    return AblyError(40160, 401, f"Action not permitted: {operation} on channel {channel!r}")

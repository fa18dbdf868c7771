"""Every refusal the function can give, each carrying the HTTP status and Ably-style code it answers with.

The codes follow Ably's numbering (status * 100 + detail) so that ably-js, which reads the `error` object
of an authUrl response, shows the function's own message to the developer.
"""

from collections.abc import Mapping


class FunctionError(Exception):
    """A request the function answers with a JSON error instead of a TokenRequest."""

    status = 500
    code = 50000

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        # Not mutated: every refusal is answered and logged from .message; the exception's own args only
        # show in a traceback, and the handler lets none escape.
        super().__init__(message)  # pragma: no mutate
        self.message = message
        self.headers = dict(headers or {})


class BadRequest(FunctionError):
    status = 400
    code = 40000


class InvalidClientId(BadRequest):
    code = 40012


class ClientIdMismatch(FunctionError):
    """A logged-in user asked for someone else's clientId."""

    status = 403
    code = 40012


class OriginNotAllowed(FunctionError):
    status = 403
    code = 40300


class MethodNotAllowed(FunctionError):
    status = 405
    code = 40500


class PayloadTooLarge(FunctionError):
    status = 413
    code = 41300


class UnsupportedMediaType(FunctionError):
    status = 415
    code = 41500


class ConfigurationError(FunctionError):
    """The deployment is misconfigured; the message names the variable and the fix, never its value."""

    status = 500
    code = 50000


class KeyUnavailable(FunctionError):
    """The key store (SSM Parameter Store or Secrets Manager) could not give us a usable key."""

    status = 500
    code = 50001

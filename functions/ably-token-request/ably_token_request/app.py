"""The token function itself: parse the event, decide, sign, answer, and log one line per request."""

import traceback
from collections.abc import Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from ably_token_request.api_key import ApiKey
from ably_token_request.client_id import choose_client_id, identity_client_id
from ably_token_request.errors import FunctionError, MethodNotAllowed
from ably_token_request.http_request import HttpRequest, parse_event, requested_client_id
from ably_token_request.identity import identity_roles
from ably_token_request.key_store import KeyReader
from ably_token_request.responses import (
    ALLOWED_METHODS,
    Response,
    check_origin,
    error_response,
    json_response,
    jwt_response,
    no_content,
    preflight_response,
)
from ably_token_request.settings import JWT, Settings

if TYPE_CHECKING:
    from ably_token_request.jwt_signer import JwtSigner
    from ably_token_request.signer import TokenRequestSigner

INTERNAL_ERROR = FunctionError("The token function failed unexpectedly; see its logs.")
LOG_MESSAGE = "token request"


class Logger(Protocol):
    """What the function needs of a logger (Powertools' Logger in production)."""

    def info(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None: ...
    def error(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None: ...


class TokenFunction:
    def __init__(self, settings: Settings, logger: Logger, read_key: KeyReader) -> None:
        self.settings = settings
        self.logger = logger
        self.read_key = read_key
        self._key: ApiKey | None = None  # the key last read, scrubbed from any traceback logged after
        self.signer = _signer(settings)

    def __call__(self, event: object, context: object) -> Response:
        started = perf_counter()
        request: HttpRequest | None = None
        cors: dict[str, str] = {}  # for every answer, refusals too, once the Origin is known to be allowed
        details: dict[str, Any]
        try:
            request = parse_event(event)
            cors = check_origin(request, self.settings.allowed_origins)
            response, details = self._answer(request, cors, context)
        except FunctionError as error:
            response = error_response(error, cors)
            details = {"outcome": error.__class__.__name__}
            if error.status >= 500:
                details["error"] = error.message
        except Exception as error:
            response = error_response(INTERNAL_ERROR, cors)
            details = {"outcome": "InternalError", "exception": self._scrubbed(error)}
        _log(self.logger, event, request, context, response, started, details)
        return response

    def _answer(
        self, request: HttpRequest, cors: dict[str, str], context: object
    ) -> tuple[Response, dict[str, Any]]:
        if request.method == "OPTIONS":
            return preflight_response(cors), {"outcome": "preflight"}
        if _is_warmup(request):
            # The page sends it while a visitor types a name: this instance starts and reads its key now,
            # so joining meets a warm one. 204, no body: nothing is signed, no token can be minted.
            self._key = self.read_key()
            return no_content({"Cache-Control": "no-store", **cors}), {"outcome": "warmup"}
        if request.method not in ("GET", "POST"):
            raise MethodNotAllowed(
                f"Use GET or POST, not {request.method}.", headers={"Allow": ALLOWED_METHODS}
            )
        identity = identity_client_id(context)
        client_id = choose_client_id(requested_client_id(request), identity, self.settings.default_client_id)
        self._key = self.read_key()
        signer = self.signer
        if signer.format == JWT:
            # Roles are a logged-in user's: a context user without an id is an anonymous request.
            roles = identity_roles(context) if identity is not None else ()
            response = jwt_response(signer.sign(self._key, client_id, roles), cors)
        else:
            response = json_response(200, signer.sign(self._key, client_id), cors)
        return response, {"outcome": "issued", "client_id": client_id}

    def _scrubbed(self, error: Exception) -> str:
        """The traceback for the log, with the key's name and secret taken out of it."""
        text = "".join(traceback.format_exception(error))
        return self._key.scrub(text) if self._key is not None else text


def _signer(settings: Settings) -> "TokenRequestSigner | JwtSigner":
    """The signer for the configured format, imported here so each format loads only its own code."""
    if settings.token_format == JWT:
        from ably_token_request.jwt_signer import JwtSigner

        env_key = settings.key_source.env_key
        return JwtSigner(
            capability=settings.capability,
            ttl_ms=settings.ttl_ms,
            publish_max_rate=settings.publish_max_rate,
            key_name=env_key.name if env_key is not None else None,
        )
    from ably_token_request.signer import TokenRequestSigner

    return TokenRequestSigner(capability=settings.capability, ttl_ms=settings.ttl_ms)


class MisconfiguredFunction:
    """Stands in when start-up configuration is invalid: every request gets the same clear 500."""

    def __init__(self, error: FunctionError, logger: Logger) -> None:
        self.error = error
        self.logger = logger

    def __call__(self, event: object, context: object) -> Response:
        started = perf_counter()
        try:
            request: HttpRequest | None = parse_event(event)
        except FunctionError:
            request = None
        response = error_response(self.error)
        details = {"outcome": "ConfigurationError", "error": self.error.message}
        _log(self.logger, event, request, context, response, started, details)
        return response


def _is_warmup(request: HttpRequest) -> bool:
    """`GET ?warmup=1`, sent by the page once per visit."""
    return request.method == "GET" and request.query.get("warmup") == ["1"]


def _log(
    logger: Logger,
    event: object,
    request: HttpRequest | None,
    context: object,
    response: Response,
    started: float,
    details: Mapping[str, Any],
) -> None:
    """The request's one log line: ERROR when the function is at fault (5xx), INFO otherwise."""
    status = response["statusCode"]
    line = {
        "request_id": _request_id(event, context),
        "method": request.method if request is not None else None,
        **details,
        "status": status,
        "duration_ms": round((perf_counter() - started) * 1000, 3),
    }
    (logger.error if status >= 500 else logger.info)(LOG_MESSAGE, extra=line)


def _request_id(event: object, context: object) -> object:
    """Lambda's request id (context), else the front door's (API Gateway / Function URL event)."""
    request_id = getattr(context, "aws_request_id", None)
    if request_id is None and isinstance(context, Mapping):
        request_id = context.get("awsRequestId")
    if request_id is None and isinstance(event, Mapping):
        request_context = event.get("requestContext")
        if isinstance(request_context, Mapping) and isinstance(request_context.get("requestId"), str):
            request_id = request_context["requestId"]
    return request_id

"""The token function itself: parse the event, decide, sign, answer, log one line."""

from collections.abc import Mapping
from time import perf_counter
from typing import Any

from aws_lambda_powertools import Logger

from ably_token_request.client_id import choose_client_id, identity_client_id
from ably_token_request.errors import FunctionError, MethodNotAllowed
from ably_token_request.http_request import HttpRequest, parse_event, requested_client_id
from ably_token_request.key_store import current_api_key
from ably_token_request.responses import (
    ALLOWED_METHODS,
    Response,
    cors_headers,
    error_response,
    json_response,
    preflight_response,
)
from ably_token_request.settings import Settings
from ably_token_request.signer import TokenRequestSigner

INTERNAL_ERROR = FunctionError("The token function failed unexpectedly; see its logs.")


class TokenFunction:
    def __init__(self, settings: Settings, logger: Logger) -> None:
        self.settings = settings
        self.logger = logger
        self.signer = TokenRequestSigner(capability=settings.capability, ttl_ms=settings.ttl_ms)

    def __call__(self, event: object, context: object) -> Response:
        started = perf_counter()
        request: HttpRequest | None = None
        client_id: str | None = None
        try:
            request = parse_event(event)
            if request.method == "OPTIONS":
                response = preflight_response(request, self.settings.allowed_origins)
                outcome = "preflight"
            elif _is_warmup(request):
                response, outcome = self._warmup(request), "warmup"
            else:
                client_id, response = self._issue(request, context)
                outcome = "issued"
        except FunctionError as error:
            response, outcome = self._refuse(error, request), error.__class__.__name__
        except Exception:
            self.logger.exception("token function failed", extra=_request_keys(request, context))
            response, outcome = self._refuse(INTERNAL_ERROR, request), "InternalError"
        self.logger.info(
            "token request",
            extra={
                **_request_keys(request, context),
                "client_id": client_id,
                "outcome": outcome,
                "status": response["statusCode"],
                "duration_ms": round((perf_counter() - started) * 1000, 3),
            },
        )
        return response

    def _issue(self, request: HttpRequest, context: object) -> tuple[str, Response]:
        if request.method not in ("GET", "POST"):
            raise MethodNotAllowed(
                f"Use GET or POST, not {request.method}.", headers={"Allow": ALLOWED_METHODS}
            )
        client_id = choose_client_id(
            requested_client_id(request),
            identity_client_id(context),
            self.settings.default_client_id,
        )
        token_request = self.signer.sign(current_api_key(self.settings.key_source), client_id)
        headers = cors_headers(request, self.settings.allowed_origins)
        return client_id, json_response(200, token_request, headers)

    def _warmup(self, request: HttpRequest) -> Response:
        """204 and no body: loading the code was the point; nothing is signed, no token can be minted."""
        headers = {"Cache-Control": "no-store", **cors_headers(request, self.settings.allowed_origins)}
        return {"statusCode": 204, "headers": headers, "body": "", "isBase64Encoded": False}

    def _refuse(self, error: FunctionError, request: HttpRequest | None) -> Response:
        if request is None:
            return error_response(error)
        return error_response(error, cors_headers(request, self.settings.allowed_origins))


class MisconfiguredFunction:
    """Stands in when start-up configuration is invalid: every request gets the same clear 500."""

    def __init__(self, error: FunctionError, logger: Logger) -> None:
        self.error = error
        self.logger = logger

    def __call__(self, event: object, context: object) -> Response:
        self.logger.error(
            "token function misconfigured",
            extra={**_request_keys(None, context), "outcome": "ConfigurationError", "status": 500},
        )
        return error_response(self.error)


def _is_warmup(request: HttpRequest) -> bool:
    """`GET ?warmup=1`: the page sends it while a visitor types a name, so joining meets a warm instance."""
    return request.method == "GET" and request.query.get("warmup") == ["1"]


def _request_keys(request: HttpRequest | None, context: object) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    if request_id is None and isinstance(context, Mapping):
        request_id = context.get("awsRequestId")
    return {
        "request_id": request_id if request_id is not None else getattr(request, "request_id", None),
        "method": request.method if request is not None else None,
    }

"""Turn a Lambda proxy event (Netlify, API Gateway v1, Function URL / API Gateway v2) into a request.

Events arrive from many front doors and some carry junk; every malformed shape is a BadRequest here,
so the handler never meets a KeyError or TypeError.
"""

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from ably_token_request.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from ably_token_request.json_input import TooDeep, parse_json
from ably_token_request.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH

_METHOD_PATTERN = re.compile(r"[A-Za-z]{1,20}")
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    headers: Mapping[str, str]
    query: Mapping[str, list[str]]
    body: bytes

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def parse_event(event: object) -> HttpRequest:
    if not isinstance(event, Mapping):
        raise BadRequest("The event is not a JSON object.")
    context = _mapping(event.get("requestContext"), "requestContext")
    http = _mapping(context.get("http"), "requestContext.http")
    method = event.get("httpMethod") or http.get("method")
    if not isinstance(method, str) or not _METHOD_PATTERN.fullmatch(method):
        raise BadRequest("The event has no valid HTTP method.")
    return HttpRequest(
        method=method.upper(),
        headers=_headers(event),
        query=_query(event),
        body=_body(event),
    )


def requested_client_id(request: HttpRequest) -> str | None:
    """The clientId the caller asked for, from the query string or a POST body (ably-js authMethod)."""
    values = list(request.query.get("clientId", []))
    if request.method == "POST" and request.body:
        values += _body_values(request, "clientId")
    distinct = set(values)
    if len(distinct) > 1:
        raise BadRequest("clientId was given more than once with different values.")
    client_id = distinct.pop() if distinct else ""
    return client_id or None


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequest(f"The event's {name} is not an object.")
    return value


def _strings(value: object, name: str) -> Mapping[str, Any]:
    mapping = _mapping(value, name)
    if not all(isinstance(key, str) for key in mapping):
        raise BadRequest(f"The event's {name} has a non-string name.")
    return mapping


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    """Lambda proxy events carry `headers` (comma-joined); multiValueHeaders only when it is absent."""
    if event.get("headers") is None and event.get("multiValueHeaders") is not None:
        multi = _strings(event["multiValueHeaders"], "multiValueHeaders")
        if not all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in multi.values()):
            raise BadRequest("The event's multiValueHeaders are not lists of strings.")
        # Not mutated: any separator is equivalent, as a header sent twice matches nothing it is compared to.
        return {name.lower(): ", ".join(values) for name, values in multi.items()}  # pragma: no mutate
    headers = _strings(event.get("headers"), "headers")
    if not all(isinstance(value, str) for value in headers.values()):
        raise BadRequest("The event has a header that is not a string.")
    return {name.lower(): value for name, value in headers.items()}


def _query(event: Mapping[str, Any]) -> Mapping[str, list[str]]:
    """Prefer the forms that keep repeated parameters apart: multi-value (v1, Netlify), then raw (v2)."""
    multi = event.get("multiValueQueryStringParameters")
    if multi is not None:
        multi = _strings(multi, "multiValueQueryStringParameters")
        if not all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in multi.values()):
            raise BadRequest("The event's multiValueQueryStringParameters are not lists of strings.")
        return multi
    raw = event.get("rawQueryString", event.get("rawQuery"))
    if isinstance(raw, str):
        return parse_qs(raw, keep_blank_values=True)
    single = _strings(event.get("queryStringParameters"), "queryStringParameters")
    if not all(isinstance(value, str) for value in single.values()):
        raise BadRequest("The event has a query parameter that is not a string.")
    return {name: [value] for name, value in single.items()}


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadRequest("The event's body is not a string.")
    if len(body) > MAX_BODY_BYTES * 2:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if event.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("The request body is not valid base64.") from None
    else:
        try:
            data = body.encode()
        except UnicodeEncodeError:
            raise BadRequest("The request body is not valid UTF-8.") from None
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    return data


def _body_values(request: HttpRequest, name: str) -> list[str]:
    try:
        text = request.body.decode()
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.") from None
    if request.content_type == _FORM:
        return parse_qs(text, keep_blank_values=True).get(name, [])
    if request.content_type == _JSON:
        try:
            parsed = parse_json(text)
        except TooDeep:
            raise BadRequest(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.") from None
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise BadRequest("The JSON request body must be an object.")
        value = parsed.get(name)
        if value is None:
            return []
        if not isinstance(value, str):
            raise BadRequest(f"{name} in the JSON body must be a string.")
        return [value]
    raise UnsupportedMediaType(f"Send the POST body as {_FORM} (ably-js authMethod 'POST') or {_JSON}.")

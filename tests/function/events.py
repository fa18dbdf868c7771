"""Lambda proxy events shaped exactly like the front doors that call the function."""

import base64
import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

FUNCTION_PATH = "/.netlify/functions/ably-token-request"


def netlify_event(
    method: str = "GET",
    *,
    query: dict[str, str | list[str]] | None = None,
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A Netlify Functions (Lambda-compatible) event, as Netlify's runtime builds it."""
    multi_query = {k: v if isinstance(v, list) else [v] for k, v in (query or {}).items()}
    raw_query = urlencode([(k, v) for k, values in multi_query.items() for v in values])
    all_headers = {"host": "example.netlify.app", "user-agent": "pytest", **(headers or {})}
    encoded_body: str | None
    if body is None:
        encoded_body = None
    elif base64_body:
        raw = body if isinstance(body, bytes) else body.encode()
        encoded_body = base64.b64encode(raw).decode()
    else:
        encoded_body = body if isinstance(body, str) else body.decode()
    return {
        "path": FUNCTION_PATH,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: ", ".join(v) for k, v in multi_query.items()},
        "multiValueQueryStringParameters": multi_query,
        "body": encoded_body,
        "isBase64Encoded": base64_body,
        "rawUrl": f"https://example.netlify.app{FUNCTION_PATH}" + (f"?{raw_query}" if raw_query else ""),
        "rawQuery": raw_query,
    }


def function_url_event(
    method: str = "GET",
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """An AWS Lambda Function URL / API Gateway HTTP API (payload format 2.0) event."""
    raw_query = urlencode(query or {})
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": raw_query,
        "headers": {"host": "abc.lambda-url.eu-west-1.on.aws", **(headers or {})},
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.eu-west-1.on.aws",
            "http": {"method": method, "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "stage": "$default",
            "timeEpoch": 1583348638390,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def api_gateway_v1_event(method: str = "GET", *, query: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "resource": "/token",
        "path": "/token",
        "httpMethod": method,
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "requestContext": {"requestId": "v1-request-id", "httpMethod": method},
        "body": None,
        "isBase64Encoded": False,
    }


def identity_context(user: dict[str, Any]) -> object:
    """A Lambda context carrying a Netlify Identity user the way Netlify's raw runtime does."""

    netlify = base64.b64encode(json.dumps({"identity": {}, "user": user}).encode()).decode()
    client_context = SimpleNamespace(custom={"netlify": netlify})
    return SimpleNamespace(aws_request_id="identity-request", client_context=client_context)

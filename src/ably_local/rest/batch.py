"""Batch requests: publish to many channels (`POST /messages`) and read many presence sets (`GET /presence`).

Each channel succeeds or fails on its own (its capability, its name, its messages), as Ably's batch API
does. Clients sending `X-Ably-Version` 3 or later (every current SDK) get a `BatchResult` per request
(`successCount`, `failureCount`, `results`) with a 2xx status even when some channels failed; older
clients get the legacy form: a plain array, or HTTP 400 with error 40020 and the per-channel answers in
`batchResponse` when any channel failed.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.channels import validate_channel_name
from ably_local.errors import AblyError, bad_request
from ably_local.protocol import to_json_item
from ably_local.rest.publishing import publish_over_rest
from ably_local.rest.wire import (
    answer,
    authenticate,
    decode_json_data,
    endpoint,
    error_headers,
    read_objects,
    require,
    wants_msgpack,
)

BATCH_RESULT_VERSION = 3

Result = dict[str, Any]


def batch_routes(apps: Apps) -> list[Route]:
    async def batch_publish(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        limits = service.limits
        refusal = "A batch publish is a BatchPublishSpec or a list of them"
        specs = await read_objects(request, limits.max_frame_size, refusal)
        parsed = [_spec(spec, request) for spec in specs]
        if sum(len(channels) for channels, _ in parsed) > limits.batch_items_per_request:
            raise too_many_channels("publish to", limits.batch_items_per_request)
        # The work is each message published on each channel its spec names, whatever the body's size.
        publishes = sum(len(channels) * len(messages) for channels, messages in parsed)
        if publishes > limits.batch_messages_per_request:
            raise AblyError(
                40034,
                400,
                f"A batch may publish at most {limits.batch_messages_per_request} messages, counting each "
                f"message once per channel it goes to; this one would publish {publishes}",
            )
        batches = []
        for channels, messages in parsed:
            results = []
            for name in channels:
                try:
                    results.append(
                        publish_over_rest(service, validate_channel_name(name, limits), messages, credentials)
                    )
                except AblyError as error:
                    results.append({"channel": name, "error": error.to_wire()})
            batches.append(results)
        if _batch_results(request):
            return answer(request, [_batch_result(results) for results in batches], 201)
        return _legacy(request, [result for results in batches for result in results], 201)

    async def batch_presence(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        # A channel named again is answered once: repeating a name must not multiply the answer.
        names = list(
            dict.fromkeys(name for name in request.query_params.get("channels", "").split(",") if name)
        )
        if not names:
            raise bad_request("Name the channels: GET /presence?channels=a,b")
        if len(names) > service.limits.batch_items_per_request:
            raise too_many_channels("read", service.limits.batch_items_per_request)
        results: list[Result] = []
        for name in names:
            try:
                require(credentials, "subscribe", validate_channel_name(name, service.limits))
                members = service.presence.members(name)
                if not wants_msgpack(request):
                    members = [to_json_item(member) for member in members]
                results.append({"channel": name, "presence": members})
            except AblyError as error:
                results.append({"channel": name, "error": error.to_wire()})
        return batch_answer(request, results, 200)

    return [
        Route("/messages", endpoint(batch_publish), methods=["POST", "OPTIONS"]),
        Route("/presence", endpoint(batch_presence), methods=["GET", "OPTIONS"]),
    ]


def too_many_channels(verb: str, limit: int) -> AblyError:
    return AblyError(90010, 400, f"A batch request may {verb} at most {limit} channels")


def _spec(spec: dict[str, Any], request: Request) -> tuple[list[str], list[dict[str, Any]]]:
    """A BatchPublishSpec's channels and messages; `channels` may also be one name, `messages` one message."""
    channels = spec.get("channels")
    if isinstance(channels, str):
        channels = [channels]
    messages = spec.get("messages")
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise bad_request("A BatchPublishSpec needs channels: a non-empty list of channel names")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise bad_request("A BatchPublishSpec needs messages: a non-empty list of message objects")
    decode_json_data(request, messages)
    return channels, messages


def batch_answer(request: Request, results: list[Result], status: int) -> Response:
    """One batch's answer in the form the client's X-Ably-Version expects."""
    if _batch_results(request):
        return answer(request, _batch_result(results), status)
    return _legacy(request, results, status)


def _batch_results(request: Request) -> bool:
    try:
        return float(request.headers.get("x-ably-version", "0")) >= BATCH_RESULT_VERSION
    except ValueError:
        return False


def _batch_result(results: list[Result]) -> Result:
    failures = sum(1 for result in results if "error" in result)
    return {"successCount": len(results) - failures, "failureCount": failures, "results": results}


def _legacy(request: Request, results: list[Result], status: int) -> Response:
    """The answer for clients before X-Ably-Version 3: the array, or 40020 carrying it when any failed."""
    if not any("error" in result for result in results):
        return answer(request, results, status)
    error = AblyError(40020, 400, "Batched response includes errors")
    return answer(
        request, {"error": error.to_wire(), "batchResponse": results}, error.status, error_headers(error)
    )

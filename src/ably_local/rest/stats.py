"""`GET /stats`: an app's statistics by minute, hour, day or month; `POST /stats`: the sandbox's fixtures.

Parameters as Ably takes them: `start` and `end` (milliseconds, or interval ids such as
`2024-02-03:15:03`; an interval id as `end` includes that whole interval), `unit` (also accepted as `by`,
which ably-js's own suite sends), `direction` (default backwards), `limit` (default 100, at most 1,000).
Pages link to `first`, `current` and `next`, so the SDKs' `first()` and `next()` work.
"""

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.errors import AblyError, bad_request, capability_denied
from ably_local.rest.wire import (
    CORS_HEADERS,
    answer,
    authenticate,
    direction_param,
    endpoint,
    int_param,
    page_limit,
    read_body,
)
from ably_local.stats import UNITS, parse_bound, parse_fixture


def stats_routes(apps: Apps) -> list[Route]:
    async def stats(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        if not any({"stats", "*"} & operations for operations in credentials.capability.values()):
            raise capability_denied("stats", "*")
        params = request.query_params
        unit = params.get("unit") or params.get("by") or "minute"
        if unit not in UNITS:
            raise bad_request(f"unit must be one of {', '.join(UNITS)}")
        direction = direction_param(request)
        limit = page_limit(request)
        now = apps.clock()
        start = parse_bound(params["start"], end=False) if params.get("start") else 0
        end = parse_bound(params["end"], end=True) if params.get("end") else now
        if start > end:
            raise bad_request("start must not be later than end")
        cursor = int_param(request, "cursor", -1, 0, 2**63) if "cursor" in params else None
        intervals = service.stats.intervals(unit, start, end, now)
        if direction == "backwards":
            intervals.reverse()
            selected = [i for i in intervals if cursor is None or i.start <= cursor]
        else:
            selected = [i for i in intervals if cursor is None or i.start >= cursor]
        query = {"start": start, "end": end, "unit": unit, "direction": direction, "limit": limit}
        current = query if cursor is None else {**query, "cursor": cursor}
        links = [
            f'<./stats?{urlencode(query)}>; rel="first"',
            f'<./stats?{urlencode(current)}>; rel="current"',
        ]
        if len(selected) > limit:
            links.append(f'<./stats?{urlencode({**query, "cursor": selected[limit].start})}>; rel="next"')
        app_id = credentials.key_name.partition(".")[0]
        body = [interval.to_wire(app_id) for interval in selected[:limit]]
        return answer(request, body, headers={"Link": ", ".join(links)})

    return [Route("/stats", endpoint(stats), methods=["GET", "OPTIONS"])]


def stats_fixture_routes(apps: Apps) -> list[Route]:
    """The sandbox's `POST /stats`: records (one minute each) merged into the app's stats, with its key."""

    async def add_fixtures(request: Request) -> Response:
        service, credentials = authenticate(apps, request)
        if credentials.token is not None:
            raise AblyError(40162, 401, "Stats fixtures are posted with the app's key (basic auth)")
        body = await read_body(request, service.limits.max_frame_size)
        fixtures = body if isinstance(body, list) else [body]
        if not all(isinstance(fixture, dict) for fixture in fixtures):
            raise bad_request("Post a stats record or a list of them")
        depth = service.limits.max_nesting_depth
        for minute, entries in [parse_fixture(fixture, depth) for fixture in fixtures]:
            service.stats.add(minute, entries)
        return Response(status_code=201, headers=CORS_HEADERS)

    return [Route("/stats", endpoint(add_fixtures), methods=["POST"])]

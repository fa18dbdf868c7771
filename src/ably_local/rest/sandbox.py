"""Sandbox provisioning: `POST /apps` and `DELETE /apps/{id}`, as Ably's test sandbox serves them.

The SDKs' own test suites start by posting an app spec (ably-common `test-resources/test-app-setup.json`:
keys with capabilities, namespaces, channels with presence fixtures) and route every client to the
`endpoint`/`port`/`tls` in the answer (`ABLY_LOCAL_SANDBOX_URL` in ably-js's and ably-go's harnesses).
Each app gets its own keys, channels and connections.

The answer has the fields of Ably's sandbox answer (its client-library guide, "Sandbox Test API") and
those the harnesses read besides: a key's `id` and `value` (ably-python, ably-go) and its `keyName`,
`keySecret` and `keyStr` (ably-js, ably-java, ably-ruby, ably-dotnet, ably-cocoa). Keys here do not
expire and apps are not deleted by themselves, so the answer has no `expires` or `autodelete` label.
"""

import dataclasses
import secrets
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ably_local.apps import Apps
from ably_local.auth import ApiKey
from ably_local.capability import ALL, capability_bytes, parse_capability, to_json
from ably_local.channels import validate_channel_name
from ably_local.errors import AblyError, bad_request, unauthorized
from ably_local.limits import Limits
from ably_local.protocol import decode_base64_data
from ably_local.realtime import RealtimeService
from ably_local.rest.stats import stats_fixture_routes
from ably_local.rest.wire import answer, authenticate, endpoint, read_body

MAX_KEYS_PER_APP = 50
MAX_FIXTURE_CHANNELS = 100
# The account every sandbox app here belongs to, and the status numbers of Ably's sandbox answer.
ACCOUNT_ID = "local"
APP_ENABLED = 1
KEY_ENABLED = 0


class Endpoint(Protocol):
    """Where clients of a provisioned app connect: this service's own host and port."""

    host: str
    port: int


def sandbox_routes(apps: Apps, where: Endpoint) -> list[Route]:
    async def create_app(request: Request) -> Response:
        limits = apps.config.limits
        if len(apps.services) >= limits.sandbox_apps:
            raise AblyError(42910, 429, f"Too many sandbox apps (limit {limits.sandbox_apps})")
        spec = await read_body(request, limits.max_frame_size)
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise bad_request("The app spec must be an object")
        app_id = f"sandbox{secrets.token_hex(4)}"
        key_specs = _list(spec, "keys") or [{}]
        if len(key_specs) > MAX_KEYS_PER_APP:
            raise bad_request(f"An app may have at most {MAX_KEYS_PER_APP} keys")
        keys = [_key(app_id, index, key_spec) for index, key_spec in enumerate(key_specs)]
        namespaces = _list(spec, "namespaces")
        if not all(isinstance(namespace.get("id"), str) and namespace["id"] for namespace in namespaces):
            raise bad_request("Each namespace in the app spec needs an id")
        kept = sum(len(key.name) + len(key.secret) + capability_bytes(key.capability) for key in keys)
        kept += sum(len(namespace["id"].encode()) for namespace in namespaces)
        service = apps.add(
            app_id,
            keys,
            held_bytes=kept,
            persisted_namespaces=_namespaces_with(namespaces, "persisted"),
            mutable_namespaces=_namespaces_with(namespaces, "mutableMessages"),
            limits=_app_limits(apps, spec),
        )
        try:
            _enter_fixtures(service, _list(spec, "channels"))
        except AblyError:
            apps.remove(app_id)  # a refused spec leaves no app behind
            raise
        now = apps.clock()
        body = {
            "id": f"{ACCOUNT_ID}:{app_id}",
            "appId": app_id,
            "accountId": ACCOUNT_ID,
            "status": APP_ENABLED,
            "created": now,
            "modified": now,
            "tlsOnly": False,
            "keys": [
                _key_answer(app_id, key, key_spec, now) for key, key_spec in zip(keys, key_specs, strict=True)
            ],
            "namespaces": [_namespace_answer(namespace, now) for namespace in namespaces],
            "connections": [],
            "channels": _list(spec, "channels"),
            # Where this app's clients connect (the local-sandbox harnesses route every client here).
            "endpoint": request.url.hostname or where.host,
            "port": request.url.port or where.port,
            "tls": False,
        }
        return answer(request, body, 201)

    async def delete_app(request: Request) -> Response:
        app_id = request.path_params["app_id"]
        service, _ = authenticate(apps, request)
        if apps.services.get(app_id) is not service:
            raise unauthorized(40101, "Delete an app with one of its own keys")
        apps.remove(app_id)
        return Response(status_code=204)

    return [
        Route("/apps", endpoint(create_app), methods=["POST", "OPTIONS"]),
        Route("/apps/{app_id}", endpoint(delete_app), methods=["DELETE", "OPTIONS"]),
        *stats_fixture_routes(apps),
    ]


def _list(spec: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = spec.get(field, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad_request(f"The app spec's {field} must be a list of objects")
    return value


def _namespaces_with(namespaces: list[dict[str, Any]], rule: str) -> frozenset[str]:
    return frozenset(namespace["id"] for namespace in namespaces if namespace.get(rule) is True)


def _key(app_id: str, index: int, spec: dict[str, Any]) -> ApiKey:
    text = spec.get("capability")
    if text is not None and not isinstance(text, str):
        raise bad_request("A key's capability must be a JSON string")
    capability = parse_capability(text) if text else ALL
    return ApiKey(
        f"{app_id}.key{index}{secrets.token_hex(2)}",
        secrets.token_urlsafe(24),
        capability,
        revocable_tokens=spec.get("revocableTokens") is True,
    )


def _key_answer(app_id: str, key: ApiKey, spec: dict[str, Any], now: int) -> dict[str, Any]:
    return {
        "id": key.name.split(".", 1)[1],
        "scopeId": f"app:{app_id}",
        "status": KEY_ENABLED,
        "type": 0,
        "value": key.secret,
        "created": now,
        "modified": now,
        "capability": to_json(key.capability),
        "privileged": spec.get("privileged") is True,
        "revocableTokens": key.revocable_tokens,
        "keyName": key.name,
        "keySecret": key.secret,
        "keyStr": key.value,
    }


def _namespace_answer(namespace: dict[str, Any], now: int) -> dict[str, Any]:
    return {**namespace, "created": now, "modified": now, "persisted": namespace.get("persisted") is True}


def _app_limits(apps: Apps, spec: dict[str, Any]) -> Limits:
    """The spec may lower the presence set's size (`limits.presence.maxMembers`), never raise it."""
    limits = apps.config.limits
    presence = spec.get("limits", {}).get("presence", {}) if isinstance(spec.get("limits"), dict) else {}
    members = presence.get("maxMembers") if isinstance(presence, dict) else None
    if isinstance(members, int) and not isinstance(members, bool) and members > 0:
        limits = dataclasses.replace(
            limits, presence_members_per_channel=min(members, limits.presence_members_per_channel)
        )
    return limits


def _enter_fixtures(service: RealtimeService, channels: list[dict[str, Any]]) -> None:
    if len(channels) > MAX_FIXTURE_CHANNELS:
        raise bad_request(f"An app spec may have at most {MAX_FIXTURE_CHANNELS} channels")
    for channel_spec in channels:
        name = validate_channel_name(channel_spec.get("name"), service.limits)
        fixtures = channel_spec.get("presence", [])
        if not isinstance(fixtures, list) or not all(isinstance(item, dict) for item in fixtures):
            raise bad_request("A channel's presence fixtures must be a list of objects")
        for fixture in fixtures:
            client_id = fixture.get("clientId")
            if not isinstance(client_id, str) or not client_id:
                raise bad_request("A presence fixture needs a clientId")
            item = {field: fixture[field] for field in ("clientId", "data", "encoding") if field in fixture}
            decode_base64_data(item)
            service.presence.enter_fixture(name, item)

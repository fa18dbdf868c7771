"""The sandbox's `POST /apps` answer, read the way each official SDK's test harness reads it.

Each test posts the kind of app spec that harness posts, takes the app and its keys from the answer with
that harness's own field names and types, and then uses them on the service: a field missing, misnamed or
of the wrong type gives a key the service refuses, or a check the harness itself would fail on. The
harness files named in each docstring were read in the SDKs' public repositories (2026-07/08 snapshots).
"""

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ably.types.capability import Capability

from ably_local.server import LocalAbly
from ably_local.testing import running_service

# An app spec of the shape of ably-common's test-resources/test-app-setup.json (`post_apps`), which
# ably-js, ably-go, ably-ruby, ably-dotnet and ably-cocoa post: a key with every right, keys with narrower
# capabilities (wildcards by namespace, by channel, subscribe only, the qualified `[*]*`), a revocable
# key, namespace rules and presence fixtures in several encodings.
COMMON_SPEC: dict[str, Any] = {
    "limits": {"presence": {"maxMembers": 250}},
    "keys": [
        {},
        {"capability": '{ "readers:*":["subscribe"], "writers:*":["publish"], "admin:*":["push-admin"] }'},
        {"capability": '{ "room0":["publish"], "room1":["publish", "subscribe"], "room2":["*"] }'},
        {"capability": '{ "*":["subscribe"] }'},
        {"revocableTokens": True},
        {"capability": '{ "[*]*":["*"] }'},
    ],
    "namespaces": [
        {"id": "persisted", "persisted": True},
        {"id": "pushenabled", "pushEnabled": True},
        {"id": "mutable", "mutableMessages": True},
    ],
    "channels": [
        {
            "name": "persisted:presence_fixtures",
            "presence": [
                {"clientId": "member_text", "data": "some text"},
                {"clientId": "member_json", "data": '{"some":"json"}', "encoding": "json"},
                {"clientId": "member_binary", "data": "AAEC", "encoding": "base64"},
            ],
        }
    ],
}
# ably-python's own test/assets/testAppSpec.json and ably-java's lib/src/test/resources/local/
# testAppSpec.json have more keys, one of them `privileged`; ably-java also sends `notes`.
SDK_SPEC: dict[str, Any] = {
    "notes": "Test app; created by a harness",
    "keys": [
        {},
        {"capability": '{"onlythis":["publish"]}'},
        {"capability": '{"*":["subscribe"],"writers:*":["publish"]}'},
        {"capability": '{"anything":["*"]}'},
        {"capability": '{"room0":["publish"],"room1":["presence"]}'},
        {"privileged": True, "capability": '{"room0":["publish"],"room1":["presence"]}'},
        {"capability": '{"persisted:*":["subscribe","history"]}'},
        {"capability": '{ "[*]*":["*"] }'},
    ],
    "namespaces": COMMON_SPEC["namespaces"],
    "channels": COMMON_SPEC["channels"],
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalAbly]:
    with running_service(sandbox=True) as service:
        yield service


def provision(sandbox: LocalAbly, spec: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{sandbox.http_url}/apps", json=spec, headers={"Accept": "application/json"}, timeout=10
    )
    assert response.status_code == 201, response.text
    app: dict[str, Any] = response.json()
    return app


def basic(key_str: str) -> dict[str, str]:
    return {"Authorization": f"Basic {base64.b64encode(key_str.encode()).decode()}"}


def accepted(sandbox: LocalAbly, key_str: str, channel: str = "anything") -> bool:
    """The service knows this key and its secret: history answers, or refuses only for the capability."""
    response = httpx.get(f"{sandbox.http_url}/channels/{channel}/messages", headers=basic(key_str))
    return response.status_code == 200 or response.json()["error"]["code"] == 40160


def may_read_history(sandbox: LocalAbly, key_str: str, channel: str) -> bool:
    response = httpx.get(f"{sandbox.http_url}/channels/{channel}/messages", headers=basic(key_str))
    return response.status_code == 200


def test_the_answer_has_every_field_of_ablys_documented_answer(sandbox: LocalAbly) -> None:
    """Ably's client-library guide, "Sandbox Test API" (ably/docs content/client-lib-development-guide/
    test-api.textile): its example answer's fields, with the same JSON types."""
    app = provision(sandbox, COMMON_SPEC)
    app_fields = {
        "status": int,
        "created": int,
        "modified": int,
        "tlsOnly": bool,
        "id": str,
        "appId": str,
        "accountId": str,
        "keys": list,
        "namespaces": list,
        "connections": list,
        "channels": list,
    }
    assert {field: type(app.get(field)) for field in app_fields} == app_fields
    assert app["id"] == f"{app['accountId']}:{app['appId']}"
    assert app["tlsOnly"] is False  # the service speaks plain HTTP and WebSocket
    key_fields = {
        "id": str,
        "scopeId": str,
        "status": int,
        "type": int,
        "value": str,
        "created": int,
        "modified": int,
        "capability": str,
        "privileged": bool,
    }
    for key in app["keys"]:
        assert {field: type(key.get(field)) for field in key_fields} == key_fields
        assert key["scopeId"] == f"app:{app['appId']}"
    namespace_fields = {"id": str, "created": int, "modified": int, "persisted": bool}
    for namespace in app["namespaces"]:
        assert {field: type(namespace.get(field)) for field in namespace_fields} == namespace_fields
    assert [namespace["persisted"] for namespace in app["namespaces"]] == [True, False, False]
    assert app["channels"] == COMMON_SPEC["channels"]


def test_ably_python_harness(sandbox: LocalAbly) -> None:
    """ably/ably-python test/ably/testapp.py (TestApp.get_test_vars): `appId`, and per key `id`, `value`
    and `capability`; it builds key_name as appId.id and key_str as appId.id:value."""
    app = provision(sandbox, SDK_SPEC)
    app_id = app.get("appId", "")
    keys = [
        {
            "key_name": f"{app_id}.{key.get('id', '')}",
            "key_secret": key.get("value", ""),
            "key_str": f"{app_id}.{key.get('id', '')}:{key.get('value', '')}",
            "capability": Capability(json.loads(key.get("capability", "{}"))),
        }
        for key in app.get("keys", [])
    ]
    assert len(keys) == len(SDK_SPEC["keys"])
    assert all(accepted(sandbox, key["key_str"]) for key in keys)
    assert keys[1]["capability"] == Capability({"onlythis": ["publish"]})
    assert keys[0]["capability"] == Capability({"*": ["*"]})


def test_ably_go_harness(sandbox: LocalAbly) -> None:
    """ably/ably-go internal/ablytest/sandbox.go (Config, Key, KeyParts, wildcardKey, Options): `appId`,
    per key `id`, `value`, `capability`, and the local sandbox's `endpoint`, `port` and `tls`. Its tests
    use the first key whose capability grants `*` on `[*]*`, found by parsing the capability JSON."""
    app = provision(sandbox, COMMON_SPEC)
    assert isinstance(app["appId"], str)
    assert all(isinstance(key[field], str) for key in app["keys"] for field in ("id", "value", "capability"))

    def grants_wildcard(capability: str) -> bool:
        return "*" in json.loads(capability).get("[*]*", [])

    wildcard = next(key for key in app["keys"] if grants_wildcard(key["capability"]))
    key_str = f"{app['appId']}.{wildcard['id']}:{wildcard['value']}"
    assert may_read_history(sandbox, key_str, "anything")
    assert (app["endpoint"], app["port"], app["tls"]) == (sandbox.host, sandbox.port, False)


def test_ably_js_harness(sandbox: LocalAbly) -> None:
    """ably/ably-js test/common/modules/testapp_manager.js (createNewApp) and the tests using its app:
    as many `keys` and `namespaces` as posted (else it fails the run), `accountId`, `appId`,
    `keys[i].keyStr`, `keys[i].keyName`, `keys[i].capability` (parsed), and, with ABLY_LOCAL_SANDBOX_URL,
    `endpoint`, `port` and `tls`."""
    app = provision(sandbox, COMMON_SPEC)
    assert len(app["keys"]) == len(COMMON_SPEC["keys"])
    assert len(app["namespaces"]) == len(COMMON_SPEC["namespaces"])
    assert isinstance(app["accountId"], str)
    assert isinstance(app["appId"], str)
    for key in app["keys"]:
        assert key["keyStr"].startswith(f"{key['keyName']}:")
        assert accepted(sandbox, key["keyStr"])
    assert json.loads(app["keys"][1]["capability"]) == {
        "admin:*": ["push-admin"],
        "readers:*": ["subscribe"],
        "writers:*": ["publish"],
    }
    assert (app["endpoint"], app["port"], app["tls"]) == (sandbox.host, sandbox.port, False)


def test_ably_java_harness(sandbox: LocalAbly) -> None:
    """ably/ably-java lib/src/test/java/io/ably/lib/test/common/Setup.java (AppSpec, Key, Namespace,
    parsed with gson): per key `keyName`, `keySecret`, `keyStr`, `capability` (strings) and `status` (int);
    `appId`; namespaces' `id` and boolean rules. Its tests use keys up to `keys[7]` (the `[*]*` key) and
    JWT tests send `keyName` and `keySecret` apart."""
    app = provision(sandbox, SDK_SPEC)
    assert isinstance(app["appId"], str)
    assert len(app["keys"]) == len(SDK_SPEC["keys"])
    for key in app["keys"]:
        assert all(isinstance(key[field], str) for field in ("keyName", "keySecret", "keyStr", "capability"))
        assert isinstance(key["status"], int)
        assert accepted(sandbox, f"{key['keyName']}:{key['keySecret']}")
    assert may_read_history(sandbox, app["keys"][7]["keyStr"], "persisted:anything")
    assert [key["privileged"] for key in app["keys"]] == [False] * 5 + [True, False, False]
    for namespace in app["namespaces"]:
        assert isinstance(namespace["id"], str)
        rules = ("pushEnabled", "mutableMessages")
        assert all(isinstance(namespace.get(rule, False), bool) for rule in rules)


def test_ably_ruby_harness(sandbox: LocalAbly) -> None:
    """ably/ably-ruby spec/support/test_app.rb: `fetch` (which raises when a field is missing) of `appId`,
    the first key's `keyName`, `keySecret` and `keyStr`, and `keys[1].keyStr`; it deletes the app with
    basic auth of the first key."""
    app = provision(sandbox, COMMON_SPEC)
    first, restricted = app["keys"][0], app["keys"][1]
    assert first["keyStr"] == f"{first['keyName']}:{first['keySecret']}"
    assert may_read_history(sandbox, first["keyStr"], "anything")
    assert not may_read_history(sandbox, restricted["keyStr"], "anything")
    deleted = httpx.delete(f"{sandbox.http_url}/apps/{app['appId']}", headers=basic(first["keyStr"]))
    assert 200 <= deleted.status_code <= 299
    assert not accepted(sandbox, first["keyStr"])


def test_ably_dotnet_harness(sandbox: LocalAbly) -> None:
    """ably/ably-dotnet src/IO.Ably.Tests.Shared/Infrastructure/AblySandboxFixture.cs: `appId`, per key
    `keyName` (stored as appId + "." + keyName; tests take the app id back from its first segment),
    `keySecret`, `keyStr` and `capability`. AblyCollectionFixture.cs: FirstValidKey is keys[0].keyStr and
    the key with channel limitations is keys[2].keyStr."""
    app = provision(sandbox, COMMON_SPEC)
    keys = [
        {
            "KeyName": app["appId"] + "." + key["keyName"],
            "KeySecret": key["keySecret"],
            "KeyStr": key["keyStr"],
            "Capability": key["capability"],
        }
        for key in app["keys"]
    ]
    assert all(key["KeyName"].split(".")[0] == app["appId"] for key in keys)
    assert may_read_history(sandbox, keys[0]["KeyStr"], "anything")
    limited = keys[2]["KeyStr"]
    assert json.loads(keys[2]["Capability"])["room2"] == ["*"]
    assert may_read_history(sandbox, limited, "room2")
    assert not may_read_history(sandbox, limited, "room0")


def test_ably_cocoa_harness(sandbox: LocalAbly) -> None:
    """ably/ably-cocoa Test/AblyTests/Test Utilities/TestUtilities.swift (commonAppSetup: `keys` must be
    a list whose first `keyStr` is a string, else it retries) and Test/UTS/infra/integration/SandboxApp.swift
    (`appId`, every key's `keyStr`; it deletes the app with basic auth of the first)."""
    app = provision(sandbox, COMMON_SPEC)
    assert isinstance(app["keys"], list)
    assert isinstance(app["keys"][0]["keyStr"], str)
    keys = [key["keyStr"] for key in app["keys"] if isinstance(key.get("keyStr"), str)]
    assert len(keys) == len(COMMON_SPEC["keys"])
    assert all(accepted(sandbox, key) for key in keys)
    deleted = httpx.delete(f"{sandbox.http_url}/apps/{app['appId']}", headers=basic(keys[0]))
    assert 200 <= deleted.status_code <= 299


def test_a_refused_spec_leaves_no_app_behind(sandbox: LocalAbly) -> None:
    before = len(sandbox.apps.services)
    spec = {**COMMON_SPEC, "channels": [{"name": "ok", "presence": [{"data": "no clientId"}]}]}
    response = httpx.post(f"{sandbox.http_url}/apps", json=spec)
    assert (response.status_code, response.json()["error"]["code"]) == (400, 40000)
    assert len(sandbox.apps.services) == before

"""Sandbox provisioning (`POST /apps`, `DELETE /apps/{id}`), as the SDKs' own test suites use it, with the
real ably-python SDK on the apps it provisions."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ably import AblyRest

from ably_local.server import LocalAbly
from ably_local.testing import running_service

# The shape of ably-common's test-resources/test-app-setup.json (keys, namespaces, presence fixtures).
APP_SPEC: dict[str, Any] = {
    "limits": {"presence": {"maxMembers": 250}},
    "keys": [
        {},
        {"capability": '{"cansubscribe:*":["subscribe"],"canpublish:*":["publish"]}'},
        {"revocableTokens": True},
    ],
    "namespaces": [{"id": "persisted", "persisted": True}],
    "channels": [
        {
            "name": "persisted:fixtures",
            "presence": [
                {"clientId": "client_string", "data": "a string"},
                {"clientId": "client_json", "data": '{"k":"v"}', "encoding": "json"},
                {
                    "clientId": "client_binary",
                    "data": base64.b64encode(b"\x00\x01").decode(),
                    "encoding": "base64",
                },
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalAbly]:
    with running_service(sandbox=True) as service:
        yield service


def provision(sandbox: LocalAbly, spec: dict[str, Any] = APP_SPEC) -> dict[str, Any]:
    response = httpx.post(f"{sandbox.http_url}/apps", json=spec)
    assert response.status_code == 201, response.text
    app: dict[str, Any] = response.json()
    return app


def rest(sandbox: LocalAbly, key: str) -> AblyRest:
    """ably-python refuses Basic auth over plain HTTP, so it signs TokenRequests with the key instead."""
    return AblyRest(key=key, endpoint=sandbox.host, port=sandbox.port, tls=False, use_token_auth=True)


def test_an_app_answers_like_the_sandbox(sandbox: LocalAbly) -> None:
    app = provision(sandbox)
    assert (app["endpoint"], app["port"], app["tls"]) == (sandbox.host, sandbox.port, False)
    assert len(app["keys"]) == 3
    assert [(n["id"], n["persisted"]) for n in app["namespaces"]] == [("persisted", True)]
    for key in app["keys"]:
        assert key["keyStr"] == f"{key['keyName']}:{key['keySecret']}"
        assert key["keyName"].startswith(f"{app['appId']}.")
    assert json.loads(app["keys"][0]["capability"]) == {"*": ["*"]}
    assert json.loads(app["keys"][1]["capability"]) == {
        "canpublish:*": ["publish"],
        "cansubscribe:*": ["subscribe"],
    }
    assert [key["revocableTokens"] for key in app["keys"]] == [False, False, True]


async def test_presence_fixtures_and_capabilities_hold_for_the_sdk(sandbox: LocalAbly) -> None:
    app = provision(sandbox)
    client = rest(sandbox, app["keys"][0]["keyStr"])
    try:
        members = await client.channels.get("persisted:fixtures").presence.get()
        data = {member.client_id: member.data for member in members.items}
        assert data == {"client_string": "a string", "client_json": {"k": "v"}, "client_binary": b"\x00\x01"}
    finally:
        await client.close()
    limited = rest(sandbox, app["keys"][1]["keyStr"])
    try:
        await limited.channels.get("canpublish:x").publish("allowed", "yes")
        with pytest.raises(Exception, match="40160"):
            await limited.channels.get("elsewhere").publish("refused", "no")
    finally:
        await limited.close()


async def test_apps_are_isolated_and_deleted_apps_refuse_their_keys(sandbox: LocalAbly) -> None:
    first, second = provision(sandbox), provision(sandbox)
    one = rest(sandbox, first["keys"][0]["keyStr"])
    two = rest(sandbox, second["keys"][0]["keyStr"])
    try:
        await one.channels.get("shared-name").publish("only", "in the first app")
        assert [m.data for m in (await one.channels.get("shared-name").history()).items] == [
            "in the first app"
        ]
        assert (await two.channels.get("shared-name").history()).items == []
    finally:
        await one.close()
        await two.close()

    basic = base64.b64encode(first["keys"][0]["keyStr"].encode()).decode()
    other = base64.b64encode(second["keys"][0]["keyStr"].encode()).decode()
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        refused = await http.delete(f"/apps/{first['appId']}", headers={"Authorization": f"Basic {other}"})
        assert refused.status_code == 401
        deleted = await http.delete(f"/apps/{first['appId']}", headers={"Authorization": f"Basic {basic}"})
        assert deleted.status_code == 204
        gone = await http.get("/channels/x/messages", headers={"Authorization": f"Basic {basic}"})
        assert (gone.status_code, gone.json()["error"]["code"]) == (401, 40101)


@pytest.mark.parametrize(
    "spec",
    [[1, 2], {"keys": "all"}, {"keys": [{"capability": {"*": ["*"]}}]}, {"channels": [{"name": ":bad"}]}],
    ids=["list", "keys-text", "capability-object", "bad-channel"],
)
def test_a_malformed_spec_is_refused_in_ablys_terms(sandbox: LocalAbly, spec: Any) -> None:
    response = httpx.post(f"{sandbox.http_url}/apps", json=spec)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in (40000, 40010)


def test_a_plain_service_does_not_provision(local_ably: LocalAbly) -> None:
    """No such resource; and, as everywhere on the REST API, a stranger is told only that they are one."""
    stranger = httpx.post(f"{local_ably.http_url}/apps", json={})
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (401, 40101)
    key_name, secret = local_ably.api_key.split(":", 1)
    response = httpx.post(f"{local_ably.http_url}/apps", json={}, auth=(key_name, secret))
    assert (response.status_code, response.json()["error"]["code"]) == (404, 40400)

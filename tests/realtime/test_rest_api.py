"""The REST features beyond publish and history, over real HTTP: stats, batch publish and presence, token
revocation, channel status, publishing on behalf of a connection, idempotent publishing. Each refusal is
checked for its Ably code and status, and a raw realtime connection shows what subscribers see.
"""

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgpack
import pytest

from ably_local.testing import running_service
from tests.realtime.wire import (
    Action,
    Flag,
    Key,
    WireClient,
    fetch_token,
    open_connected,
    realtime_url,
    signed_jwt,
)
from tests.realtime.witness import assert_http_error

API_KEY = "restApi.rootKey:restApiSecretThatStaysLocal_0123456789"
NEW = {"X-Ably-Version": "6"}
OBJECT_SUBSCRIBE = 1 << 24
RESTRICTED = json.dumps({"allowed": ["publish", "subscribe"], "denied": ["history"]})


@dataclass(frozen=True)
class Sandbox:
    http_url: str
    host: str
    port: int


@dataclass(frozen=True)
class App:
    sandbox: Sandbox
    keys: list[str]  # [0] all rights, [1] revocable tokens, [2] restricted, [3] subscribe only

    def basic(self, index: int = 0, **headers: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(self.keys[index].encode()).decode(), **headers}

    def http(self, index: int = 0, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.sandbox.http_url, headers=self.basic(index, **headers))

    async def token(self, index: int = 0, **fields: Any) -> str:
        return await fetch_token(self.sandbox.http_url, Key.parse(self.keys[index]), **fields)

    async def realtime(self, **params: str) -> WireClient:
        params = params or {"key": self.keys[0]}
        return await open_connected(realtime_url(self.sandbox.host, self.sandbox.port, "json", **params))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_service(api_key=API_KEY, sandbox=True) as service:
        yield Sandbox(service.http_url, service.host, service.port)


@pytest.fixture
async def app(sandbox: Sandbox) -> App:
    spec = {
        "keys": [
            {},
            {"revocableTokens": True},
            {"capability": RESTRICTED},
            {"capability": json.dumps({"*": ["subscribe"]})},
        ]
    }
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        response = await http.post("/apps", json=spec)
    assert response.status_code == 201, response.text
    return App(sandbox, [key["keyStr"] for key in response.json()["keys"]])


# --- stats ---------------------------------------------------------------------------------------------


async def test_stats_serves_posted_fixtures_per_unit_with_page_links(app: App) -> None:
    fixtures = [
        {
            "intervalId": f"2023-05-06:07:{minute:02d}",
            "inbound": {"realtime": {"messages": {"count": minute}}},
        }
        for minute in (1, 2, 3)
    ]
    async with app.http() as http:
        posted = await http.post("/stats", json=fixtures)
        assert posted.status_code == 201
        hour = await http.get(
            "/stats", params={"start": "2023-05-06:07", "end": "2023-05-06:07", "unit": "hour"}
        )
        [record] = hour.json()
        assert record["intervalId"] == "2023-05-06:07"
        assert record["unit"] == "hour"
        assert record["entries"]["messages.inbound.all.messages.count"] == 6
        assert record["appId"] == app.keys[0].split(".")[0]
        assert "inProgress" not in record

        page = await http.get(
            "/stats", params={"end": "2023-05-06:07:03", "limit": "2", "direction": "forwards"}
        )
        assert [r["intervalId"][-2:] for r in page.json()] == ["01", "02"]
        links = {
            rel: target
            for target, rel in re.findall(r'<\./(stats\?[^>]+)>; rel="(\w+)"', page.headers["link"])
        }
        assert set(links) == {"first", "current", "next"}
        following = await http.get("/" + links["next"])
        assert [r["intervalId"][-2:] for r in following.json()] == ["03"]
        assert 'rel="next"' not in following.headers["link"]

        as_msgpack = await http.get(
            "/stats", params={"end": "2023-05-06:07:03"}, headers={"Accept": "application/x-msgpack"}
        )
        assert [r["intervalId"][-2:] for r in msgpack.unpackb(as_msgpack.content)] == ["03", "02", "01"]


@pytest.mark.parametrize(
    "params",
    [
        {"unit": "week"},
        {"direction": "sideways"},
        {"start": "2024-02-03", "end": "2023-01-01"},
        {"start": "tuesday"},
        {"start": "99999999999999999", "unit": "month"},
        {"limit": "1001"},
        {"cursor": "x"},
    ],
)
async def test_stats_refuses_bad_parameters_with_40000(app: App, params: dict[str, str]) -> None:
    async with app.http() as http:
        assert_http_error(await http.get("/stats", params=params), 40000, 400)


async def test_stats_needs_the_stats_capability_and_fixtures_need_the_key(app: App) -> None:
    bearer = {"Authorization": f"Bearer {await app.token(3)}"}
    async with httpx.AsyncClient(base_url=app.sandbox.http_url, headers=bearer) as http:
        assert_http_error(await http.get("/stats"), 40160, 401)
        assert_http_error(await http.post("/stats", json=[]), 40162, 401)
    async with app.http() as http:
        assert_http_error(await http.post("/stats", json=[{"intervalId": "2023-05-06"}]), 40000, 400)
        assert_http_error(
            await http.post("/stats", json={"intervalId": "2023-05-06:01:02", "x": "y"}), 40000, 400
        )
        assert (await http.get("/stats")).json() == []


def test_stats_fixtures_are_a_sandbox_feature(local_ably: Any) -> None:
    basic = "Basic " + base64.b64encode(local_ably.api_key.encode()).decode()
    response = httpx.post(f"{local_ably.http_url}/stats", json=[], headers={"Authorization": basic})
    assert_http_error(response, 40400, 404)


# --- batch publish and batch presence -------------------------------------------------------------------


async def test_batch_publish_answers_per_channel_and_publishes_the_allowed(app: App) -> None:
    specs = [
        {"channels": ["allowed", "denied", ""], "messages": [{"name": "a", "data": "one"}, {"data": "two"}]},
        {"channels": "allowed", "messages": {"data": "AAEC", "encoding": "base64", "id": "batch-id:0"}},
    ]
    async with app.http(2, **NEW) as http:
        response = await http.post("/messages", json=specs)
    assert response.status_code == 201, response.text
    first, second = response.json()
    assert (first["successCount"], first["failureCount"]) == (1, 2)
    ok, denied, unnamed = first["results"]
    assert ok["channel"] == "allowed"
    assert ok["messageId"]
    assert len(ok["serials"]) == 2
    assert (denied["channel"], denied["error"]["code"], denied["error"]["statusCode"]) == (
        "denied",
        40160,
        401,
    )
    assert unnamed["error"]["code"] == 40010
    assert second["results"][0]["messageId"]

    async with app.http() as http:
        history = (await http.get("/channels/allowed/messages", params={"direction": "forwards"})).json()
        assert (await http.get("/channels/denied/messages")).json() == []
    assert [(m.get("data"), m.get("encoding")) for m in history] == [
        ("one", None),
        ("two", None),
        ("AAEC", "base64"),
    ]
    assert history[2]["id"] == "batch-id:0"


async def test_batch_publish_for_older_clients_is_an_array_or_40020(app: App) -> None:
    async with app.http(2) as http:
        fine = await http.post("/messages", json={"channels": ["allowed"], "messages": [{"data": "x"}]})
        assert fine.status_code == 201
        assert [result["channel"] for result in fine.json()] == ["allowed"]
        mixed = await http.post(
            "/messages", json={"channels": ["allowed", "denied"], "messages": [{"data": "x"}]}
        )
    assert_http_error(mixed, 40020, 400)
    assert [result["channel"] for result in mixed.json()["batchResponse"]] == ["allowed", "denied"]
    assert mixed.json()["batchResponse"][1]["error"]["code"] == 40160


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([{"channels": [], "messages": [{"data": "x"}]}], 40000),
        ([{"channels": ["a"], "messages": []}], 40000),
        ([{"channels": ["a"]}], 40000),
        (["not a spec"], 40000),
        ([{"channels": ["a", *(f"c{n}" for n in range(1000))], "messages": [{"data": "x"}]}], 90010),
        ([{"channels": ["a", "b"], "messages": [{"data": "x"}] * 501}], 40034),  # 1,002 publishes
        ([{"channels": ["a"], "messages": [{"data": "x"}] * 600}] * 2, 40034),  # 1,200 over two specs
    ],
    ids=["no-channels", "no-messages", "messages-missing", "not-a-spec", "channels", "messages", "specs"],
)
async def test_malformed_or_oversized_batch_publishes_are_refused_whole(
    app: App, body: Any, code: int
) -> None:
    async with app.http(0, **NEW) as http:
        assert_http_error(await http.post("/messages", json=body), code, 400)
        assert (await http.get("/channels/a/messages")).json() == []


async def test_batch_presence_answers_per_channel(app: App) -> None:
    member = await app.realtime(key=app.keys[0], clientId="present")
    for channel in ("allowed", "denied"):
        await member.attach(channel)
        await member.send(
            {
                "action": Action.PRESENCE,
                "channel": channel,
                "msgSerial": 0,
                "presence": [{"action": 2, "data": "aGk=", "encoding": "base64"}],
            }
        )
        await member.expect(Action.ACK)
    try:
        async with app.http(2, **NEW) as http:
            result = (await http.get("/presence", params={"channels": "allowed,denied,empty"})).json()
            legacy = await http.get(
                "/presence", params={"channels": "allowed,denied"}, headers={"X-Ably-Version": "2"}
            )
            as_msgpack = await http.get(
                "/presence", params={"channels": "allowed"}, headers={"Accept": "application/x-msgpack"}
            )
            assert_http_error(await http.get("/presence"), 40000, 400)
    finally:
        await member.close()
    assert (result["successCount"], result["failureCount"]) == (1, 2)
    allowed, denied, empty = result["results"]
    assert [(m["clientId"], m["data"], m["encoding"]) for m in allowed["presence"]] == [
        ("present", "aGk=", "base64")
    ]
    assert denied["error"]["code"] == 40160
    assert "presence" not in denied
    assert empty["error"]["code"] == 40160
    assert_http_error(legacy, 40020, 400)
    [packed] = msgpack.unpackb(as_msgpack.content)["results"]
    assert packed["presence"][0]["data"] == b"hi"


# --- token revocation -----------------------------------------------------------------------------------


async def test_revoking_a_client_id_disconnects_its_connections_and_refuses_its_tokens(app: App) -> None:
    key_name = app.keys[1].split(":")[0]
    token = await app.token(1, client_id="mallory")
    other = await app.token(1, client_id="trent")
    victim = await app.realtime(access_token=token)
    bystander = await app.realtime(access_token=other)
    await asyncio.sleep(0.002)  # tokens issued in an earlier millisecond than the revocation
    async with app.http(1, **NEW) as http:
        response = await http.post(
            f"/keys/{key_name}/revokeTokens", json={"targets": ["clientId:mallory", "invalidType:abc"]}
        )
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["successCount"], result["failureCount"]) == (1, 1)
    revoked, invalid = result["results"]
    assert revoked["target"] == "clientId:mallory"
    assert revoked["appliesAt"] >= revoked["issuedBefore"]
    assert (invalid["target"], invalid["error"]["statusCode"]) == ("invalidType:abc", 400)

    disconnected = await victim.expect(Action.DISCONNECTED)
    assert disconnected["error"]["code"] == 40141
    assert await victim.closed_by_server()
    bystander_serial = await bystander.publish("chat", {"data": "still here"})
    await bystander.expect(Action.ACK, msgSerial=bystander_serial)
    await bystander.close()
    async with httpx.AsyncClient(base_url=app.sandbox.http_url) as http:
        refused = await http.get("/channels/chat/messages", headers={"Authorization": f"Bearer {token}"})
    assert_http_error(refused, 40141, 401)
    renewed = await app.realtime(access_token=await app.token(1, client_id="mallory"))
    await renewed.close()


async def test_revocation_with_a_margin_applies_thirty_seconds_later(app: App) -> None:
    key_name = app.keys[1].split(":")[0]
    async with app.http(1, **NEW) as http:
        now = (await http.get("/time")).json()[0]
        body = {"targets": ["clientId:later"], "issuedBefore": now - 60_000, "allowReauthMargin": True}
        [result] = (await http.post(f"/keys/{key_name}/revokeTokens", json=body)).json()["results"]
    assert result["issuedBefore"] == now - 60_000
    assert result["appliesAt"] >= now + 30_000


@pytest.mark.parametrize(
    ("key_index", "body", "code", "status"),
    [
        (0, {"targets": ["clientId:x"]}, 40163, 401),
        (1, {"targets": []}, 40000, 400),
        (1, {"targets": "clientId:x"}, 40000, 400),
        (1, {"targets": ["clientId:x"], "issuedBefore": 4102444800000}, 40000, 400),
        (1, {"targets": ["clientId:x"], "issuedBefore": 1}, 40000, 400),
        (1, {"targets": ["clientId:x"], "allowReauthMargin": "yes"}, 40000, 400),
    ],
)
async def test_revocation_refusals(app: App, key_index: int, body: Any, code: int, status: int) -> None:
    key_name = app.keys[key_index].split(":")[0]
    async with app.http(key_index, **NEW) as http:
        assert_http_error(await http.post(f"/keys/{key_name}/revokeTokens", json=body), code, status)


async def test_revocation_needs_basic_auth_with_the_issuing_key(app: App) -> None:
    revocable = app.keys[1].split(":")[0]
    bearer = {"Authorization": f"Bearer {await app.token(1)}"}
    async with httpx.AsyncClient(base_url=app.sandbox.http_url, headers=bearer) as http:
        assert_http_error(
            await http.post(f"/keys/{revocable}/revokeTokens", json={"targets": ["clientId:x"]}), 40162, 401
        )
    async with app.http(0) as http:
        assert_http_error(
            await http.post(f"/keys/{revocable}/revokeTokens", json={"targets": ["clientId:x"]}), 40133, 401
        )


# --- channel status -------------------------------------------------------------------------------------


async def test_channel_status_counts_attachments_by_their_modes(app: App) -> None:
    name = f"status:{uuid.uuid4().hex}"
    everything = await app.realtime()
    subscriber = await app.realtime(key=app.keys[3])
    objects = await app.realtime()
    await everything.attach(name)
    await subscriber.attach(name)
    await objects.attach(name, flags=Flag.SUBSCRIBE | OBJECT_SUBSCRIBE)
    await everything.send(
        {
            "action": Action.PRESENCE,
            "channel": name,
            "msgSerial": 0,
            "presence": [{"action": 2, "clientId": "p"}],
        }
    )
    await everything.expect(Action.ACK)
    try:
        async with app.http() as http:
            details = (await http.get(f"/channels/{name.replace(':', '%3A')}")).json()
            slashed = await http.get("/channels/a%2Fb")
            unknown = await http.get("/channels/chat/unknown")
    finally:
        for client in (everything, subscriber, objects):
            await client.close()
    assert details["channelId"] == name
    assert details["status"]["isActive"] is True
    assert details["status"]["occupancy"]["metrics"] == {
        "connections": 3,
        "presenceConnections": 1,
        "presenceMembers": 1,
        "presenceSubscribers": 2,
        "publishers": 1,
        "subscribers": 3,
        "objectPublishers": 0,
        "objectSubscribers": 1,
    }
    assert slashed.json()["channelId"] == "a/b"
    assert slashed.json()["status"]["occupancy"]["metrics"]["connections"] == 0
    assert_http_error(unknown, 40400, 404)


async def test_channel_status_needs_channel_metadata(app: App) -> None:
    async with app.http(2) as http:
        assert_http_error(await http.get("/channels/allowed"), 40160, 401)


# --- publishing on behalf of a connection, and idempotent publishing -----------------------------------


async def test_a_rest_publish_with_a_connection_key_is_that_connections(app: App) -> None:
    name = f"behalf:{uuid.uuid4().hex}"
    listener = await app.realtime()
    await listener.attach(name)
    url = realtime_url(app.sandbox.host, app.sandbox.port, "json", key=app.keys[0], clientId="walter")
    connected = await WireClient.open(url)
    hello = await connected.connected()
    try:
        async with app.http() as http:
            sent = await http.post(
                f"/channels/{name}/messages",
                json={"name": "n", "data": "d", "connectionKey": hello["connectionKey"]},
            )
            assert sent.status_code == 201, sent.text
            unknown = await http.post(
                f"/channels/{name}/messages", json={"data": "x", "connectionKey": "nope!x"}
            )
            not_text = await http.post(
                f"/channels/{name}/messages", json={"data": "x", "connectionKey": {"k": 1}}
            )
            mixed = await http.post(
                f"/channels/{name}/messages",
                json=[{"data": "x", "connectionKey": hello["connectionKey"]}, {"data": "y"}],
            )
        delivered = await listener.expect(Action.MESSAGE, channel=name)
    finally:
        for client in (listener, connected):
            await client.close()
    [message] = delivered["messages"]
    assert message["connectionId"] == hello["connectionId"]
    assert message["clientId"] == "walter"
    assert "connectionKey" not in message
    assert_http_error(unknown, 40006, 400)
    assert_http_error(not_text, 40000, 400)
    assert_http_error(mixed, 40006, 400)


async def test_rest_publishes_with_the_same_ids_are_delivered_once(app: App) -> None:
    name = f"idempotent:{uuid.uuid4().hex}"
    async with app.http() as http:
        answers = [
            (
                await http.post(
                    f"/channels/{name}/messages",
                    json=[{"id": "k:0", "data": "a"}, {"id": "k:1", "data": "b"}],
                )
            ).json()
            for _ in range(3)
        ]
        history = (await http.get(f"/channels/{name}/messages")).json()
        inconsistent = await http.post(f"/channels/{name}/messages", json=[{"id": "k:0"}, {"id": "q:1"}])
    assert answers[0] == answers[1] == answers[2]
    assert [m["id"] for m in history] == ["k:1", "k:0"]
    assert_http_error(inconsistent, 40000, 400)


async def test_rest_publishes_carry_the_jwt_claim_and_never_a_forged_one(app: App) -> None:
    now = int(time.time())
    claims = {"iat": now, "exp": now + 600, "ably.channel.claims:*": "moderator", "ably.channel.*": "guest"}
    jwt = signed_jwt(Key.parse(app.keys[0]), claims)
    bearer = {"Authorization": f"Bearer {base64.b64encode(jwt.encode()).decode()}", **NEW}
    forged = {"userClaim": "admin", "headers": {"kept": "yes"}}
    async with httpx.AsyncClient(base_url=app.sandbox.http_url, headers=bearer) as http:
        published = await http.post("/channels/claims:rest/messages", json={"data": "one", "extras": forged})
        assert published.status_code == 201, published.text
        batch = await http.post(
            "/messages", json={"channels": ["claims:batch", "news"], "messages": {"extras": forged}}
        )
        assert batch.status_code == 201, batch.text
    async with app.http() as http:
        plain = await http.post("/channels/claims:rest/messages", json={"data": "two", "extras": forged})
        assert plain.status_code == 201, plain.text

        async def extras(channel: str) -> list[Any]:
            response = await http.get(f"/channels/{channel}/messages", params={"direction": "forwards"})
            return [message.get("extras") for message in response.json()]

        assert await extras("claims:rest") == [
            {"headers": {"kept": "yes"}, "userClaim": "moderator"},
            {"headers": {"kept": "yes"}},
        ]
        assert await extras("claims:batch") == [{"headers": {"kept": "yes"}, "userClaim": "moderator"}]
        assert await extras("news") == [{"headers": {"kept": "yes"}, "userClaim": "guest"}]

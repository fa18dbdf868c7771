"""The unmodified ably-python SDK (PyPI `ably` 3.1.4) and the REST features it has beyond publish and history:
stats, channel status, publishing on behalf of a realtime connection, idempotent publishing, and what a
token revocation does to its clients. ably-python 3.1.4 has no batch API and no `revoke_tokens`, so the
revocation itself is posted with plain HTTP, as an app's server would.

Like test_ably_python.py, the service listens on port 80 of its own loopback address (ably-python's
realtime transport ignores `port`). Apps come from the service's sandbox (`POST /apps`), and the SDKs use
token auth minted from the app key (`use_token_auth`), since ably-python refuses basic auth over HTTP.
"""

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ably import AblyException
from ably.types.connectionstate import ConnectionState
from ably.types.message import Message

from ably_local.server import LocalAbly
from ably_local.testing import running_service
from tests.realtime.test_ably_python import HOST, TIMEOUT_S, realtime, receive, rest, subscribe

API_KEY = "pyRest.sdkKey:pyRestSecretThatStaysLocal_0123456789"
YEAR = datetime.now(UTC).year - 1


@pytest.fixture(scope="module")
def service() -> Iterator[LocalAbly]:
    with running_service(api_key=API_KEY, host=HOST, port=80, sandbox=True) as local_ably:
        yield local_ably


@dataclass(frozen=True)
class App:
    http_url: str
    app_id: str
    keys: list[str]  # [0] all rights, [1] revocable tokens

    def post(self, path: str, body: Any, key: int = 0) -> httpx.Response:
        basic = "Basic " + base64.b64encode(self.keys[key].encode()).decode()
        return httpx.post(f"{self.http_url}{path}", json=body, headers={"Authorization": basic})


@pytest.fixture
def app(service: LocalAbly) -> App:
    response = httpx.post(f"{service.http_url}/apps", json={"keys": [{}, {"revocableTokens": True}]})
    assert response.status_code == 201, response.text
    answer = response.json()
    return App(service.http_url, answer["appId"], [key["keyStr"] for key in answer["keys"]])


def tokens_for(key: str, client_id: str) -> Callable[[dict[str, Any]], Awaitable[Any]]:
    """An authCallback minting tokens for one clientId from the app key, as an app's server would.

    (ably-python 3.1.4 with `key`, `use_token_auth` and `client_id` asks for tokens without the clientId
    and then refuses them with 40102, so realtime clients with a clientId get their tokens this way.)
    """

    async def auth_callback(params: dict[str, Any]) -> Any:
        async with rest(key=key, use_token_auth=True) as minter:
            return await minter.auth.request_token({"client_id": client_id})

    return auth_callback


async def test_stats_from_fixtures_by_minute_and_hour(app: App) -> None:
    fixtures = [
        {"intervalId": f"{YEAR}-04-05:06:0{minute}", "inbound": {"realtime": {"messages": {"count": minute}}}}
        for minute in (1, 2, 3)
    ]
    assert app.post("/stats", fixtures).status_code == 201
    start, end = datetime(YEAR, 4, 5, 6, 0, tzinfo=UTC), datetime(YEAR, 4, 5, 6, 59, tzinfo=UTC)
    async with rest(key=app.keys[0], use_token_auth=True) as client:
        minutes = await client.stats(start=start, end=end, direction="forwards", limit=2)
        assert [(s.interval_id, s.unit) for s in minutes.items] == [
            (f"{YEAR}-04-05:06:01", "minute"),
            (f"{YEAR}-04-05:06:02", "minute"),
        ]
        assert minutes.items[0].app_id == app.app_id
        assert minutes.has_next()
        rest_of_it = await minutes.next()
        assert [s.entries["messages.inbound.all.messages.count"] for s in rest_of_it.items] == [3]

        [hour] = (await client.stats(start=start, end=end, unit="hour")).items
        assert hour.interval_id == f"{YEAR}-04-05:06"
        assert hour.interval_time == datetime(YEAR, 4, 5, 6)
        assert hour.entries["messages.inbound.realtime.messages.count"] == 6
        assert hour.in_progress is None


async def test_channel_status_reports_occupancy(app: App) -> None:
    name = "status-python"
    async with (
        realtime(auth_callback=tokens_for(app.keys[0], "present")) as member,
        realtime(key=app.keys[0], use_token_auth=True) as watcher,
        rest(key=app.keys[0], use_token_auth=True) as client,
    ):
        await member.channels.get(name).presence.enter("here")
        await watcher.channels.get(name).attach()
        details = await client.channels.get(name).status()
    assert details.channel_id == name
    assert details.status.is_active
    metrics = details.status.occupancy.metrics
    assert (metrics.connections, metrics.presence_members) == (2, 1)
    assert (metrics.publishers, metrics.subscribers) == (2, 2)
    assert (metrics.presence_connections, metrics.presence_subscribers) == (2, 2)


async def test_a_rest_publish_with_a_connection_key_is_made_for_that_connection(app: App) -> None:
    name = "behalf-python"
    async with (
        realtime(auth_callback=tokens_for(app.keys[0], "subject")) as subject,
        rest(key=app.keys[0], use_token_auth=True) as client,
    ):
        inbox = await subscribe(subject, name)
        details = subject.connection.connection_details
        assert details is not None
        await client.channels.get(name).publish(
            messages=[Message(name="n", data="d", connection_key=details.connection_key)]
        )
        [message] = await receive(inbox, 1)
        assert message.connection_id == subject.connection.connection_manager.connection_id
        assert message.client_id == "subject"
        with pytest.raises(AblyException) as refused:
            await client.channels.get(name).publish(messages=[Message(name="n", connection_key="gone!key")])
        assert (refused.value.code, refused.value.status_code) == (40006, 400)


async def test_republishing_the_same_ids_delivers_once(app: App) -> None:
    name = "idempotent-python"
    async with (
        realtime(key=app.keys[0], use_token_auth=True) as watcher,
        rest(key=app.keys[0], use_token_auth=True, idempotent_rest_publishing=True) as client,
    ):
        inbox = await subscribe(watcher, name)
        channel = client.channels.get(name)
        for _ in range(3):
            await channel.publish(messages=[Message(name="once", data="x", id="chosen-id")])
        await channel.publish(messages=[Message(name="pair", data="a"), Message(name="pair", data="b")])
        received = await receive(inbox, 3)
        history = await channel.history(direction="forwards")
    assert [m.name for m in received] == ["once", "pair", "pair"]
    assert received[0].id == "chosen-id"
    base = received[1].id.rpartition(":")[0]
    assert [m.id for m in received[1:]] == [f"{base}:0", f"{base}:1"], "the SDK's own idempotent ids"
    assert [m.id for m in history.items] == [m.id for m in received]
    await asyncio.sleep(0.2)
    assert inbox.empty()


async def test_revocation_disconnects_with_40141_and_the_sdk_renews_its_token(app: App) -> None:
    key_name = app.keys[1].split(":")[0]
    auth_callback = tokens_for(app.keys[1], "revokee")
    async with realtime(auth_callback=auth_callback) as client:
        reasons: list[int] = []
        reconnected = asyncio.Event()

        def on_change(change: Any) -> None:
            if change.current == ConnectionState.DISCONNECTED and change.reason is not None:
                reasons.append(change.reason.code)
            if change.current == ConnectionState.CONNECTED and reasons:
                reconnected.set()

        client.connection.on(on_change)
        assert client.auth.token_details is not None
        revoked = client.auth.token_details.token
        async with rest(token=revoked) as before_revocation:
            await before_revocation.channels.get("any").history()
        await asyncio.sleep(0.01)  # the token was issued in an earlier millisecond than the revocation
        response = app.post(f"/keys/{key_name}/revokeTokens", {"targets": ["clientId:revokee"]}, key=1)
        assert response.status_code == 201, response.text
        await asyncio.wait_for(reconnected.wait(), TIMEOUT_S)
        assert reasons == [40141]
        assert client.auth.token_details is not None
        assert client.auth.token_details.issued >= response.json()[0]["issuedBefore"]

    # The service answers 40141 (test_rest_api checks the wire); ably-python, like ably-js, takes any 4014x
    # as a cue to renew the token, and with only a token string to go on reports that it cannot (40171).
    async with rest(token=revoked) as with_revoked:
        with pytest.raises(AblyException) as refused:
            await with_revoked.channels.get("any").history()
    assert refused.value.code == 40171

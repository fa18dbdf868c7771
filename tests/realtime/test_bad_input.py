"""Bad input at the protocol level, sent by a raw WebSocket/HTTP client: each case gets Ably's error code and
action, and a client connected alongside keeps publishing and receiving afterwards.
"""

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ably_local.testing import running_service
from tests.realtime.wire import (
    Action,
    Flag,
    Format,
    Key,
    WireClient,
    fetch_token,
    open_connected,
    realtime_url,
    request_token,
    signed_token_request,
)
from tests.realtime.witness import Witness, assert_error, assert_http_error, open_witness

API_KEY = "badInput.rootKey:badInputSecretThatStaysLocal_0123456789"
KEY = Key.parse(API_KEY)
MAX_MESSAGE_SIZE = 65536
FORMATS: list[Format] = ["json", "msgpack"]


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    http_url: str

    def url(self, fmt: Format = "json", **params: str) -> str:
        return realtime_url(self.host, self.port, fmt, **params)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with running_service(api_key=API_KEY) as service:
        yield Endpoint(service.host, service.port, service.http_url)


@pytest.fixture
async def witness(endpoint: Endpoint) -> AsyncIterator[Witness]:
    async with open_witness(endpoint.url(key=API_KEY), endpoint.url("msgpack", key=API_KEY)) as witness:
        yield witness


async def connected_client(endpoint: Endpoint, fmt: Format = "json", **params: str) -> WireClient:
    return await open_connected(endpoint.url(fmt, **params), fmt)


async def token(endpoint: Endpoint, **fields: Any) -> str:
    return await fetch_token(endpoint.http_url, KEY, **fields)


async def refused_at_connect(endpoint: Endpoint, code: int, status: int, **params: str) -> None:
    """The service answers the WebSocket with ERROR (no CONNECTED) and closes it."""
    client = await WireClient.open(endpoint.url("json", **params))
    assert_error(await client.recv(), Action.ERROR, code, status)
    assert await client.closed_by_server()


# --- frames the service cannot read ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "frame"),
    [
        ("json", '{"action": 10, "channel": '),
        ("json", "[10, 11]"),
        ("json", b'{"action":10}'),
        ("msgpack", b"\xc1\xc1\xc1"),
        ("msgpack", b"\x93\x01\x02\x03"),
        ("msgpack", '{"action":10}'),
    ],
    ids=[
        "truncated-json",
        "json-array",
        "json-in-binary",
        "invalid-msgpack",
        "msgpack-array",
        "text-on-msgpack",
    ],
)
async def test_unreadable_frame_is_a_protocol_error(
    endpoint: Endpoint, witness: Witness, fmt: Format, frame: str | bytes
) -> None:
    client = await connected_client(endpoint, fmt, key=API_KEY)
    await client.send_raw(frame)
    assert_error(await client.recv(), Action.ERROR, 40000, 400)
    await witness.still_served()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unknown_action_is_a_protocol_error(endpoint: Endpoint, witness: Witness, fmt: Format) -> None:
    client = await connected_client(endpoint, fmt, key=API_KEY)
    await client.send({"action": 99, "channel": "anything"})
    assert_error(await client.recv(), Action.ERROR, 40000, 400)
    await witness.still_served()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_message_over_max_message_size_is_nacked(
    endpoint: Endpoint, witness: Witness, fmt: Format
) -> None:
    client = await connected_client(endpoint, fmt, key=API_KEY)
    channel = f"big:{uuid.uuid4().hex}"
    assert (await client.attach(channel))["action"] == Action.ATTACHED
    serial = await client.publish(channel, {"name": "big", "data": "x" * (MAX_MESSAGE_SIZE + 1)})
    nack = await client.expect(Action.NACK)
    assert nack["msgSerial"] == serial
    assert nack.get("count", 1) == 1
    assert nack["error"]["code"] == 40009
    # The same connection goes on: a message within the limit is accepted.
    serial = await client.publish(channel, {"name": "small", "data": "x" * 1000})
    assert (await client.expect(Action.ACK))["msgSerial"] == serial
    await witness.still_served()


@pytest.mark.parametrize("name", ["", "[bogus]chat", "[meta]missing-separator", "chat\nline"])
async def test_invalid_channel_name_is_refused(endpoint: Endpoint, witness: Witness, name: str) -> None:
    client = await connected_client(endpoint, key=API_KEY)
    refusal = await client.attach(name)
    assert_error(refusal, Action.ERROR, 40010, 400)
    assert refusal.get("channel") == name
    serial = await client.publish(name, {"name": "x", "data": "y"})
    nack = await client.expect(Action.NACK)
    assert (nack["msgSerial"], nack["error"]["code"]) == (serial, 40010)
    await witness.still_served()


# --- credentials -------------------------------------------------------------------------------------------


async def test_unknown_key_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    await refused_at_connect(endpoint, 40130, 401, key="badInput.otherKey:whatever")
    await witness.still_served()


async def test_wrong_secret_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    await refused_at_connect(endpoint, 40101, 401, key=f"{KEY.name}:not-the-secret")
    await witness.still_served()


async def test_missing_credentials_are_refused(endpoint: Endpoint, witness: Witness) -> None:
    await refused_at_connect(endpoint, 40101, 401)
    await witness.still_served()


async def test_unknown_token_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    await refused_at_connect(endpoint, 40140, 401, access_token="not-a-token-the-service-issued")
    await witness.still_served()


async def test_expired_token_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    short_lived = await token(endpoint, ttl=1000)
    await asyncio.sleep(1.2)
    await refused_at_connect(endpoint, 40142, 401, access_token=short_lived)
    await witness.still_served()


async def test_unsupported_protocol_version_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    await refused_at_connect(endpoint, 40000, 400, key=API_KEY, v="99")
    await witness.still_served()


async def test_accepted_protocol_versions(endpoint: Endpoint) -> None:
    """ably-js 2.0 to 2.28 send v=3..6 and ably-python 3.x sends v=5."""
    for version in ("3", "4", "5", "6"):
        client = await connected_client(endpoint, key=API_KEY, v=version)
        await client.close()


async def test_bad_mac_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    forged = signed_token_request(Key(KEY.name, "a-secret-the-service-does-not-know"), client_id="mallory")
    assert_http_error(await request_token(endpoint.http_url, forged), 40101, 401, secret=KEY.secret)
    tampered = {**signed_token_request(KEY, client_id="alice"), "clientId": "mallory"}
    assert_http_error(await request_token(endpoint.http_url, tampered), 40101, 401, secret=KEY.secret)
    await witness.still_served()


async def test_replayed_nonce_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    token_request = signed_token_request(KEY, client_id="alice")
    assert (await request_token(endpoint.http_url, token_request)).status_code == 200
    assert_http_error(await request_token(endpoint.http_url, token_request), 40105, 401, secret=KEY.secret)
    await witness.still_served()


@pytest.mark.parametrize("skew_ms", [-10 * 60 * 1000, 10 * 60 * 1000])
async def test_timestamp_outside_the_window_is_refused(
    endpoint: Endpoint, witness: Witness, skew_ms: int
) -> None:
    stale = signed_token_request(KEY, client_id="alice", timestamp=int(time.time() * 1000) + skew_ms)
    assert_http_error(await request_token(endpoint.http_url, stale), 40104, 401, secret=KEY.secret)
    await witness.still_served()


async def test_token_request_for_an_unknown_key_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    unknown = signed_token_request(Key("badInput.otherKey", KEY.secret))
    assert_http_error(await request_token(endpoint.http_url, unknown), 40130, 401, secret=KEY.secret)
    await witness.still_served()


async def test_malformed_capability_is_refused(endpoint: Endpoint) -> None:
    malformed = signed_token_request(KEY, capability="not json")
    assert_http_error(await request_token(endpoint.http_url, malformed), 40000, 400, secret=KEY.secret)


# --- identity and capabilities on a live connection --------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_publish_under_another_client_id_is_nacked(
    endpoint: Endpoint, witness: Witness, fmt: Format
) -> None:
    client = await connected_client(endpoint, fmt, access_token=await token(endpoint, client_id="alice"))
    channel = f"chat:{uuid.uuid4().hex}"
    assert (await client.attach(channel))["action"] == Action.ATTACHED
    serial = await client.publish(channel, {"name": "spoof", "data": "x", "clientId": "bob"})
    nack = await client.expect(Action.NACK)
    assert (nack["msgSerial"], nack["error"]["code"]) == (serial, 40012)
    serial = await client.publish(channel, {"name": "own", "data": "x", "clientId": "alice"})
    assert (await client.expect(Action.ACK))["msgSerial"] == serial
    await witness.still_served()


async def test_presence_under_another_client_id_is_nacked(endpoint: Endpoint, witness: Witness) -> None:
    client = await connected_client(endpoint, access_token=await token(endpoint, client_id="alice"))
    channel = f"chat:{uuid.uuid4().hex}"
    assert (await client.attach(channel))["action"] == Action.ATTACHED
    await client.send(
        {
            "action": Action.PRESENCE,
            "channel": channel,
            "msgSerial": 0,
            "presence": [{"action": 2, "clientId": "bob", "data": "spoof"}],
        }
    )
    nack = await client.expect(Action.NACK)
    assert (nack["msgSerial"], nack["error"]["code"]) == (0, 40012)
    await witness.still_served()


async def test_presence_without_a_client_id_is_nacked(endpoint: Endpoint, witness: Witness) -> None:
    client = await connected_client(endpoint, key=API_KEY)
    channel = f"chat:{uuid.uuid4().hex}"
    assert (await client.attach(channel))["action"] == Action.ATTACHED
    await client.send(
        {"action": Action.PRESENCE, "channel": channel, "msgSerial": 0, "presence": [{"action": 2}]}
    )
    nack = await client.expect(Action.NACK)
    assert (nack["msgSerial"], nack["error"]["code"]) == (0, 91000)
    await witness.still_served()


async def test_client_id_param_contradicting_the_token_is_refused(
    endpoint: Endpoint, witness: Witness
) -> None:
    alice = await token(endpoint, client_id="alice")
    await refused_at_connect(endpoint, 40102, 401, access_token=alice, clientId="bob")
    await witness.still_served()


async def test_refused_capability(endpoint: Endpoint, witness: Witness) -> None:
    capability = json.dumps({"chat:*": ["subscribe"]})
    client = await connected_client(
        endpoint, access_token=await token(endpoint, client_id="c", capability=capability)
    )
    forbidden = f"secret:{uuid.uuid4().hex}"
    refusal = await client.attach(forbidden)
    assert_error(refusal, Action.ERROR, 40160, 401)
    assert refusal["channel"] == forbidden

    allowed = f"chat:{uuid.uuid4().hex}"
    attached = await client.attach(allowed)
    assert attached["action"] == Action.ATTACHED
    granted = attached["flags"] & (Flag.PUBLISH | Flag.SUBSCRIBE | Flag.PRESENCE | Flag.PRESENCE_SUBSCRIBE)
    assert granted == Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE, (
        "subscribe grants only the two subscribe modes"
    )
    serial = await client.publish(allowed, {"name": "x", "data": "y"})
    nack = await client.expect(Action.NACK)
    assert (nack["msgSerial"], nack["error"]["code"]) == (serial, 40160)
    await witness.still_served()


async def test_unknown_format_is_refused(endpoint: Endpoint, witness: Witness) -> None:
    await refused_at_connect(endpoint, 40000, 400, key=API_KEY, format="xml")
    await witness.still_served()


# --- the REST API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 40101),
        ({"Authorization": "Bearer not-a-token-the-service-issued"}, 40140),
        ({"Authorization": "Basic " + base64.b64encode(b"badInput.otherKey:whatever").decode()}, 40130),
        ({"Authorization": "Basic " + base64.b64encode(f"{KEY.name}:wrong".encode()).decode()}, 40101),
    ],
    ids=["no-credentials", "unknown-token", "unknown-key", "wrong-secret"],
)
async def test_rest_refuses_bad_credentials(
    endpoint: Endpoint, witness: Witness, headers: dict[str, str], code: int
) -> None:
    async with httpx.AsyncClient(base_url=endpoint.http_url) as http:
        response = await http.get("/channels/chat:rest/messages", headers=headers)
    assert_http_error(response, code, 401, secret=KEY.secret)
    await witness.still_served()


async def test_rest_refuses_capability_and_malformed_bodies(endpoint: Endpoint, witness: Witness) -> None:
    capability = json.dumps({"chat:*": ["subscribe"]})
    bearer = {"Authorization": f"Bearer {await token(endpoint, client_id='r', capability=capability)}"}
    async with httpx.AsyncClient(base_url=endpoint.http_url, headers=bearer) as http:
        refused = await http.post("/channels/chat:rest/messages", json={"name": "x", "data": "y"})
        assert_http_error(refused, 40160, 401, secret=KEY.secret)
        no_history = await http.get("/channels/chat:rest/messages")
        assert_http_error(no_history, 40160, 401, secret=KEY.secret)
        elsewhere = await http.get("/channels/private:rest/presence")
        assert_http_error(elsewhere, 40160, 401, secret=KEY.secret)
    root = {"Authorization": "Basic " + base64.b64encode(API_KEY.encode()).decode()}
    async with httpx.AsyncClient(base_url=endpoint.http_url, headers=root) as http:
        garbage = await http.post(
            "/channels/chat:rest/messages", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert_http_error(garbage, 40000, 400, secret=KEY.secret)
    await witness.still_served()

"""Attacks on the local service, each followed by proof that everyone else is still served.

The service runs in a process of its own with small limits (tests/realtime/hostile_service.py), on port 80
of a loopback address so ably-python can reach it. After every attack: a raw JSON publisher and msgpack
subscriber (the witness), ably-js in Node with JSON and msgpack (tests/realtime/js/probe.mjs) and
ably-python all still publish, subscribe and enter presence; the service's peak memory stays within what
its limits allow; and it has logged no traceback.
"""

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
import pytest
from ably import AblyRealtime
from ably.types.connectionstate import ConnectionState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from ably_local.limits import MiB
from tests.realtime.hostile_service import HOSTILE_LIMITS
from tests.realtime.wire import (
    Action,
    Format,
    Key,
    WireClient,
    fetch_token,
    open_connected,
    realtime_url,
    signed_jwt,
)
from tests.realtime.witness import Witness, assert_error, assert_http_error, open_witness

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "hostileApp.rootKey:hostileSecretThatStaysLocal_0123456789"
KEY = Key.parse(API_KEY)
# Next to the ably-python tests' address, so the two never share a port.
HOST = os.environ.get("ABLY_PYTHON_TEST_HOST", "127.0.0.41").replace("127.0.0.", "127.0.1.", 1)
PORT = 80
TIMEOUT_S = 10
# Peak memory the service may reach above its idle size: its history and presence budgets several times
# over (Python objects and cached frames cost more than the bytes counted), each attacker's outbound
# buffer, and slack for the interpreter. Unbounded growth (tens or hundreds of MiB) exceeds it.
MEMORY_ALLOWANCE = (
    4 * (HOSTILE_LIMITS.history_bytes_total + HOSTILE_LIMITS.presence_bytes_total)
    + 8 * HOSTILE_LIMITS.outbound_buffer_bytes
    + 32 * MiB
)


@dataclass
class HostileService:
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    idle_rss: int = 0

    def memory(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} for the service")

    def logged(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileService]:
    with tempfile.NamedTemporaryFile(prefix="hostile-service-", suffix=".log") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.realtime.hostile_service", HOST, str(PORT), API_KEY],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == b"ready", Path(log.name).read_text()
            service = HostileService(process, log)
            service.idle_rss = service.memory("VmRSS")
            yield service
        finally:
            process.terminate()
            process.wait(TIMEOUT_S)


class Probe:
    """ably-js in Node, JSON and msgpack: one long-lived process answering `check NAME` lines."""

    def __init__(self) -> None:
        env = {**os.environ, "ABLY_LOCAL_HOST": HOST, "ABLY_LOCAL_PORT": str(PORT), "ABLY_LOCAL_KEY": API_KEY}
        self.process = subprocess.Popen(
            ["node", str(ROOT / "tests/realtime/js/probe.mjs")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def check(self, name: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"check {name}\n")
        self.process.stdin.flush()
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 3 * TIMEOUT_S)
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(TIMEOUT_S)


@pytest.fixture(scope="module")
def probe(hostile: HostileService) -> Iterator[Probe]:
    node = Probe()
    yield node
    node.close()


def url(fmt: Format = "json", **params: str) -> str:
    return realtime_url(HOST, PORT, fmt, **params)


async def python_sdk_served(name: str) -> None:
    """ably-python (msgpack) connects, enters presence, publishes and receives its own message."""
    client = AblyRealtime(key=API_KEY, endpoint=HOST, tls=False, client_id="py-probe")
    try:
        await asyncio.wait_for(client.connection.once_async(ConnectionState.CONNECTED), TIMEOUT_S)
        channel = client.channels.get(f"probe:py:{name}")
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        await channel.subscribe(inbox.put_nowait)
        await channel.presence.enter("here")
        await channel.publish("probe", name)
        message = await asyncio.wait_for(inbox.get(), TIMEOUT_S)
        assert message.data == name
        members = await channel.presence.get()
        assert [member.client_id for member in members] == ["py-probe"]
    finally:
        await client.close()


@pytest.fixture
async def witness(
    hostile: HostileService, probe: Probe, request: pytest.FixtureRequest
) -> AsyncIterator[Witness]:
    """Around each attack: the witness before and after, then ably-js, ably-python, memory and the log."""
    async with open_witness(url(key=API_KEY), url("msgpack", key=API_KEY)) as witness:
        yield witness
    name = f"{request.node.name}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
    result = await probe.check(name)
    assert result["ok"], f"ably-js after {request.node.name}: {result}"
    await python_sdk_served(name)
    peak = hostile.memory("VmHWM")
    assert peak - hostile.idle_rss < MEMORY_ALLOWANCE, (
        f"peak memory {peak / MiB:.0f} MiB, idle {hostile.idle_rss / MiB:.0f} MiB, "
        f"allowed {MEMORY_ALLOWANCE / MiB:.0f} MiB above idle"
    )
    assert "Traceback" not in hostile.logged(), hostile.logged()


async def connected(fmt: Format = "json", **params: str) -> WireClient:
    return await open_connected(url(fmt, **params), fmt)


def now_s() -> int:
    return int(time.time())


def basic_auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(API_KEY.encode()).decode()}


async def token(**fields: Any) -> str:
    return await fetch_token(f"http://{HOST}:{PORT}", KEY, **fields)


async def history(channel: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth()) as http:
        response = await http.get(f"/channels/{channel}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


# --- sizes ---------------------------------------------------------------------------------------------


async def test_a_huge_rest_body_is_refused_before_it_is_kept(witness: Witness) -> None:
    channel = f"flood:{uuid.uuid4().hex}"
    body = json.dumps([{"name": "x", "data": "y" * 1000}] * 20_000).encode()  # about 20 MB
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth()) as http:
        declared = await http.post(f"/channels/{channel}/messages", content=body)
        assert_http_error(declared, 40009, 413, secret=KEY.secret)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 1 << 20):
                yield body[start : start + (1 << 20)]

        try:
            streamed = await http.post(f"/channels/{channel}/messages", content=chunks())
        except httpx.TransportError:
            pass  # the service may stop reading mid-upload; what matters is that nothing was kept
        else:
            assert_http_error(streamed, 40009, 413, secret=KEY.secret)
    assert await history(channel) == []


async def test_many_tiny_messages_in_one_publish_are_refused(witness: Witness) -> None:
    channel = f"tiny:{uuid.uuid4().hex}"
    too_many: list[dict[str, str]] = [{}] * (HOSTILE_LIMITS.max_messages_per_publish + 1)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth()) as http:
        refused = await http.post(f"/channels/{channel}/messages", json=too_many)
    assert_http_error(refused, 40034, 400, secret=KEY.secret)
    client = await connected(key=API_KEY)
    serial = await client.publish(channel, *too_many)
    nack = await client.expect(Action.NACK, msgSerial=serial)
    assert nack["error"]["code"] == 40034
    assert await history(channel) == []


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
async def test_object_data_counts_toward_max_message_size(witness: Witness, fmt: Format) -> None:
    client = await connected(fmt, key=API_KEY)
    channel = f"objects:{uuid.uuid4().hex}"
    big = {"rows": ["x" * 100] * 1000}  # about 100 KB once encoded, over the 64 KiB limit
    serial = await client.publish(channel, {"name": "big", "data": big})
    assert (await client.expect(Action.NACK, msgSerial=serial))["error"]["code"] == 40009
    extras = {"headers": {"pad": "x" * (HOSTILE_LIMITS.max_message_size)}}
    serial = await client.publish(channel, {"name": "extras", "data": "small", "extras": extras})
    assert (await client.expect(Action.NACK, msgSerial=serial))["error"]["code"] == 40009
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth()) as http:
        refused = await http.post(f"/channels/{channel}/messages", json={"name": "big", "data": big})
    assert_http_error(refused, 40009, 400, secret=KEY.secret)
    assert await history(channel) == []


async def test_publishing_to_endless_channels_keeps_memory_bounded(witness: Witness) -> None:
    # Four connections, each within the 2,000 protocol messages a second one connection may send at once.
    clients = [await connected(key=API_KEY) for _ in range(4)]
    payload = {"name": "spread", "data": "z" * 2000}
    for count in range(4000):
        client = clients[count // 1000]
        serial = await client.publish(f"spread:{count}", payload)
        if count % 1000 == 999:
            await client.acked(serial, seconds=30)
    # The oldest were evicted to stay within the service's history budget; the newest is kept.
    assert [item["data"] for item in await history("spread:3999")] == [payload["data"]]
    assert await history("spread:0") == []


async def test_attaching_endless_channels_is_refused_past_the_limit(witness: Witness) -> None:
    client = await connected(key=API_KEY)
    limit = HOSTILE_LIMITS.channels_per_connection
    for count in range(limit):
        await client.send({"action": Action.ATTACH, "channel": f"many:{count}"})
    for _ in range(limit):
        await client.expect(Action.ATTACHED)
    assert_error(await client.attach(f"many:{limit}"), Action.ERROR, 90010, 400)


async def test_connections_past_the_limit_are_refused(witness: Witness) -> None:
    opened: list[WireClient] = []
    try:
        while True:
            client = await WireClient.open(url(key=API_KEY))
            opened.append(client)
            first = await client.recv()
            if first["action"] == Action.ERROR:
                assert_error(first, Action.ERROR, 40150, 401)
                break
            assert len(opened) <= HOSTILE_LIMITS.connections_per_app
    finally:
        await asyncio.gather(*(client.close() for client in opened))


async def test_presence_past_its_limits_is_refused(witness: Witness) -> None:
    client = await connected(key=API_KEY)
    channel = f"crowd:{uuid.uuid4().hex}"
    assert (await client.attach(channel))["action"] == Action.ATTACHED
    limit = HOSTILE_LIMITS.presence_members_per_channel
    members = [{"action": 2, "clientId": f"member-{n}", "data": "x"} for n in range(limit)]
    await client.send({"action": Action.PRESENCE, "channel": channel, "msgSerial": 0, "presence": members})
    await client.acked(0)
    one_more = [{"action": 2, "clientId": "one-too-many"}]
    await client.send({"action": Action.PRESENCE, "channel": channel, "msgSerial": 1, "presence": one_more})
    assert (await client.expect(Action.NACK, msgSerial=1))["error"]["code"] == 91003


# --- a client that sends too fast ----------------------------------------------------------------------


async def test_a_protocol_message_flood_is_closed_with_42924(witness: Witness) -> None:
    client = await connected(key=API_KEY)
    channel = f"flood:{uuid.uuid4().hex}"
    attach, detach = (json.dumps({"action": action, "channel": channel}) for action in (10, 12))
    for index in range(20_000):  # ten seconds' worth at Ably's 2,000 a second, sent at once
        await client.send_raw(detach if index % 2 else attach)
    error = await client.expect(Action.ERROR, seconds=30)
    assert (error["error"]["code"], error["error"]["statusCode"]) == (42924, 429)
    assert "channel" not in error, "a connection error, not a channel's"
    assert await client.closed_by_server(seconds=30)


async def test_publishing_far_past_a_jwt_rate_is_refused_then_closed(witness: Witness) -> None:
    claims = {"x-ably-capability": '{"*":["*"]}', "ably.limits.publish.perAttachment.maxRate.*": 1}
    client = await connected(access_token=signed_jwt(KEY, {"iat": now_s(), "exp": now_s() + 60, **claims}))
    channel = f"fast:{uuid.uuid4().hex}"
    for _ in range(100):
        await client.publish(channel, {"name": "n", "data": "d"})
    await client.acked(0)
    nack = await client.expect(Action.NACK, msgSerial=1)
    assert (nack["error"]["code"], nack["error"]["statusCode"]) == (42911, 429)
    error = await client.expect(Action.ERROR, seconds=30)
    assert error["error"]["code"] == 42921
    assert await client.closed_by_server(seconds=30)
    assert [item["data"] for item in await history(channel)] == ["d"], "only the first was published"


# --- a client that never reads ------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_subscriber_that_never_reads_is_let_go(hostile: HostileService, witness: Witness) -> None:
    channel = f"firehose:{uuid.uuid4().hex}"
    # max_queue=1: the client library stops reading the socket after one unread frame, as a stuck app would.
    stuck = await connect(url(key=API_KEY), max_queue=1, compression=None)
    await stuck.send(json.dumps({"action": Action.ATTACH, "channel": channel}))
    publisher = await connected(key=API_KEY, echo="false")
    payload = {"name": "flood", "data": "f" * 8000}
    for batch in range(40):  # 40 x 50 x 8 KB = 16 MB, far past the 512 KiB outbound bound
        for _ in range(50):
            serial = await publisher.publish(channel, payload)
        await publisher.acked(serial, seconds=30)
        if batch % 10 == 9:
            await witness.still_served()
    # The stuck client gets what was already on its socket, at most the notice why, then the close.
    seen = await frames_until_closed(stuck)
    assert sum(1 for frame in seen if frame["action"] == Action.DISCONNECTED) <= 1
    for frame in seen:
        if frame["action"] == Action.DISCONNECTED:
            assert frame["error"]["code"] == 80020


async def test_a_client_that_pings_and_never_reads_cannot_grow_memory(witness: Witness) -> None:
    # Every PING wants a PONG; a client that reads none must not make the service keep them all. The flood
    # is past the memory allowance, so kept PONGs would fail the witness's memory check.
    reader, writer = await asyncio.open_connection(HOST, PORT)
    where = urlsplit(url(key=API_KEY))
    target = f"{where.path}?{where.query}"
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    ping = Frame(Opcode.PING, b"p" * 125).serialize(mask=True)
    pings = ping * 1_000
    flood = MEMORY_ALLOWANCE + 16 * MiB
    for _ in range(flood // len(pings)):
        writer.write(pings)
        await writer.drain()
    writer.close()


async def frames_until_closed(client: ClientConnection) -> list[dict[str, Any]]:
    """Every non-MESSAGE frame the client can still read before the service's close reaches it."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            try:
                frame = json.loads(await client.recv())
            except ConnectionClosed:
                return seen
            if frame["action"] != Action.MESSAGE:
                seen.append(frame)


# --- text that one wire format cannot carry --------------------------------------------------------------

LONE_SURROGATE = "\\ud800"  # as a JSON escape: valid JSON text, no valid UTF-8 string


@pytest.mark.parametrize(
    "message",
    [
        f'{{"name":"x","data":"{LONE_SURROGATE}"}}',
        f'{{"name":"{LONE_SURROGATE}","data":"x"}}',
        f'{{"name":"x","data":"x","id":"{LONE_SURROGATE}"}}',
        f'{{"name":"x","data":"x","encoding":"{LONE_SURROGATE}"}}',
        f'{{"name":"x","data":{{"k":"{LONE_SURROGATE}"}}}}',
        f'{{"name":"x","data":"x","extras":{{"headers":{{"h":"{LONE_SURROGATE}"}}}}}}',
        '{"name":"x","data":1e400}',
    ],
    ids=["data", "name", "id", "encoding", "object-data", "extras", "infinite-number"],
)
async def test_messages_no_wire_format_can_carry_are_refused(witness: Witness, message: str) -> None:
    channel = f"unicode:{uuid.uuid4().hex}"
    msgpack_subscriber = await connected("msgpack", key=API_KEY)
    json_subscriber = await connected(key=API_KEY)
    for subscriber in (msgpack_subscriber, json_subscriber):
        assert (await subscriber.attach(channel))["action"] == Action.ATTACHED
    publisher = await connected(key=API_KEY)
    frame = f'{{"action":15,"channel":"{channel}","msgSerial":0,"messages":[{message}]}}'
    await publisher.send_raw(frame)
    assert (await publisher.expect(Action.NACK, msgSerial=0))["error"]["code"] == 40000
    serial = await publisher.publish(channel, {"name": "after", "data": "fine"})
    await publisher.acked(serial)
    for subscriber in (msgpack_subscriber, json_subscriber):
        delivered = await subscriber.expect(Action.MESSAGE, channel=channel)
        assert [m["data"] for m in delivered["messages"]] == ["fine"]
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth()) as http:
        refused = await http.post(
            f"/channels/{channel}/messages",
            content=message.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert_http_error(refused, 40000, 400, secret=KEY.secret)
        packed = await http.get(f"/channels/{channel}/messages", headers={"Accept": "application/x-msgpack"})
        assert packed.status_code == 200


async def test_an_integer_beyond_64_bits_is_read_as_a_double(witness: Witness) -> None:
    """As JavaScript reads JSON numbers: msgpack subscribers get the same number, not a failure."""
    channel = f"numbers:{uuid.uuid4().hex}"
    subscriber = await connected("msgpack", key=API_KEY)
    assert (await subscriber.attach(channel))["action"] == Action.ATTACHED
    publisher = await connected(key=API_KEY)
    huge = 123456789012345678901234567890
    frame = f'{{"action":15,"channel":"{channel}","msgSerial":0,"messages":[{{"data":{huge}}}]}}'
    await publisher.send_raw(frame)
    await publisher.acked(0)
    delivered = await subscriber.expect(Action.MESSAGE, channel=channel)
    assert delivered["messages"][0]["data"] == float(huge)


async def test_presence_no_wire_format_can_carry_is_refused(witness: Witness) -> None:
    channel = f"unicode:{uuid.uuid4().hex}"
    watcher = await connected("msgpack", key=API_KEY)
    assert (await watcher.attach(channel))["action"] == Action.ATTACHED
    client = await connected(key=API_KEY, clientId="surrogate")
    assert (await client.attach(channel))["action"] == Action.ATTACHED
    await client.send_raw(
        f'{{"action":14,"channel":"{channel}","msgSerial":0,'
        f'"presence":[{{"action":2,"data":"{LONE_SURROGATE}"}}]}}'
    )
    assert (await client.expect(Action.NACK, msgSerial=0))["error"]["code"] == 40000
    late = await connected("msgpack", key=API_KEY)
    assert (await late.attach(channel))["action"] == Action.ATTACHED  # nothing undeliverable in the set


# --- identity and rights -------------------------------------------------------------------------------


async def test_resuming_someone_elses_connection_is_refused(witness: Witness) -> None:
    alice = await WireClient.open(url(access_token=await token(client_id="alice")))
    alice_key = (await alice.connected())["connectionKey"]
    mallory = await WireClient.open(url(access_token=await token(client_id="mallory"), resume=alice_key))
    answer = await mallory.connected()
    assert answer["error"]["code"] == 80018
    assert answer["connectionKey"] != alice_key
    assert answer["connectionDetails"]["clientId"] == "mallory"
    # Alice's connection is still hers.
    serial = await alice.publish("chat:resume-victim", {"name": "still", "data": "mine"})
    await alice.acked(serial)


async def test_a_narrower_token_stops_delivery_on_channels_it_no_longer_allows(witness: Witness) -> None:
    wide = await token(client_id="carol", capability=json.dumps({"*": ["*"]}))
    client = await connected(access_token=wide)
    channel = f"secret:{uuid.uuid4().hex}"
    assert (await client.attach(channel))["action"] == Action.ATTACHED
    narrow = await token(client_id="carol", capability=json.dumps({"chat:*": ["subscribe"]}))
    await client.send({"action": Action.AUTH, "auth": {"accessToken": narrow}})
    await client.expect(Action.CONNECTED)
    failed = await client.expect(Action.ERROR, channel=channel)
    assert failed["error"]["code"] == 40160
    publisher = await connected(key=API_KEY)
    serial = await publisher.publish(channel, {"name": "not", "data": "for carol"})
    await publisher.acked(serial)
    with pytest.raises(TimeoutError):
        await client.expect(Action.MESSAGE, seconds=0.5)


# --- frames that parse but are wrong -------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"action": 10, "channel": "chat:x", "flags": "abc"},
        {"action": 10, "channel": "chat:x", "params": {"rewind": {"n": 5}}},
        {"action": 10, "channel": "chat:x", "params": "rewind=5"},
        {"action": 10, "channel": "chat:x", "params": {"rewind": "soon"}},
        {"action": 15, "channel": "chat:x", "msgSerial": "0", "messages": [{"data": "x"}]},
        {"action": 15, "channel": "chat:x", "msgSerial": 0, "messages": [{"data": "x", "clientId": 7}]},
        {"action": 15, "channel": "chat:x", "msgSerial": 0, "messages": [{"name": ["x"]}]},
        {"action": 15, "channel": "chat:x", "msgSerial": 0, "messages": [{"extras": "x"}]},
        {"action": 15, "channel": "chat:x", "msgSerial": 0, "messages": "x"},
        {"action": 14, "channel": "chat:x", "msgSerial": 0, "presence": [{"action": "enter"}]},
        {"action": 0, "id": {"nested": True}},
        {"action": 17, "auth": {"accessToken": 12}},
    ],
    ids=[
        "flags-text",
        "param-object",
        "params-text",
        "rewind-text",
        "serial-text",
        "client-id-number",
        "name-list",
        "extras-text",
        "messages-text",
        "presence-action-text",
        "heartbeat-id-object",
        "auth-token-number",
    ],
)
@pytest.mark.parametrize("fmt", ["json", "msgpack"])
async def test_wrong_but_readable_frames_get_ably_errors(
    witness: Witness, fmt: Format, frame: dict[str, Any]
) -> None:
    client = await connected(fmt, key=API_KEY, clientId="shape")
    if frame["action"] == Action.PRESENCE:
        assert (await client.attach("chat:x"))["action"] == Action.ATTACHED
    await client.send(frame)
    answer = await client.recv()
    assert answer["action"] in (Action.ERROR, Action.NACK), answer
    assert answer["error"]["code"] in (40000, 40012), answer


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
async def test_deeply_nested_data_is_refused(witness: Witness, fmt: Format) -> None:
    client = await connected(fmt, key=API_KEY)
    nested: Any = "bottom"
    for _ in range(200):
        nested = [nested]
    serial = await client.publish("chat:deep", {"name": "deep", "data": nested})
    assert (await client.expect(Action.NACK, msgSerial=serial))["error"]["code"] == 40000
    await client.send_raw("[" * 100_000 if fmt == "json" else b"\x91" * 100_000)
    assert (await client.recv())["error"]["code"] == 40000


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000,
        json.dumps({"keyName": KEY.name, "mac": {"not": "text"}}).encode(),
        json.dumps({"keyName": KEY.name, "timestamp": [1], "nonce": "n" * 16, "mac": "x"}).encode(),
        json.dumps({"keyName": {"a": 1}, "mac": "x"}).encode(),
        json.dumps({"keyName": KEY.name, "capability": {"*": ["*"]}, "mac": "x"}).encode(),
        json.dumps([1, 2, 3]).encode(),
    ],
    ids=["deep", "mac-object", "timestamp-list", "key-name-object", "capability-object", "list"],
)
async def test_wrong_token_requests_get_400(witness: Witness, body: bytes) -> None:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}") as http:
        response = await http.post(
            f"/keys/{KEY.name}/requestToken", content=body, headers={"Content-Type": "application/json"}
        )
    assert_http_error(response, 40000, 400, secret=KEY.secret)

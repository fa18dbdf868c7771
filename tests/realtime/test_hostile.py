"""Attacks on the local service, each followed by proof that everyone else is still served.

The service runs in a process of its own with small limits, behind the dev server as `make dev` runs it
(tests/realtime/hostile_service.py), on port 80 of a loopback address so ably-python can reach it. After
every attack: a raw JSON publisher and msgpack subscriber (the witness), ably-js in Node with JSON and
msgpack (tests/realtime/js/probe.mjs), ably-python, and two new visitors of the chat page in Chromium
(tests/realtime/page_probe.py) all still publish, subscribe and enter presence; the service's peak memory
stays within what its limits allow; and it has logged no traceback.
"""

import asyncio
import base64
import contextlib
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
from urllib.parse import quote, urlsplit

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
    Flag,
    Format,
    Key,
    WireClient,
    fetch_token,
    open_connected,
    realtime_url,
    request_token,
    signed_jwt,
    signed_token_request,
)
from tests.realtime.witness import Witness, assert_error, assert_http_error, open_witness

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "hostileApp.rootKey:hostileSecretThatStaysLocal_0123456789"
KEY = Key.parse(API_KEY)
# Next to the ably-python tests' address, so the two never share a port.
HOST = os.environ.get("ABLY_PYTHON_TEST_HOST", "127.0.0.41").replace("127.0.0.", "127.0.1.", 1)
PORT = 80
TIMEOUT_S = 10
# Peak memory the service may reach above its idle size: its history and presence totals several times
# over (Python objects and cached frames cost more than the bytes counted), its other totals (tokens, stats,
# idempotency ids, revocations: every app's together) twice over, every outbox together twice over, and
# slack for the interpreter. Unbounded growth (tens or hundreds of MiB) exceeds it.
MEMORY_ALLOWANCE = (
    4 * (HOSTILE_LIMITS.history_bytes_total + HOSTILE_LIMITS.presence_bytes_total)
    + 2
    * (
        HOSTILE_LIMITS.token_bytes_total
        + HOSTILE_LIMITS.stats_bytes_total
        + HOSTILE_LIMITS.idempotency_bytes_total
        + HOSTILE_LIMITS.revocation_bytes_total
    )
    + 2 * HOSTILE_LIMITS.outbound_bytes_total
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


class LineProcess:
    """A long-lived helper process that answers each line it is sent with one JSON line."""

    def __init__(self, argv: list[str], answer_within_s: float, env: dict[str, str] | None = None) -> None:
        self.answer_within_s = answer_within_s
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    async def ask(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{line}\n")
        self.process.stdin.flush()
        answer = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), self.answer_within_s)
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(TIMEOUT_S)


class Probe(LineProcess):
    """ably-js in Node, JSON and msgpack: one long-lived process answering `check NAME` lines."""

    def __init__(self) -> None:
        env = {**os.environ, "ABLY_LOCAL_HOST": HOST, "ABLY_LOCAL_PORT": str(PORT), "ABLY_LOCAL_KEY": API_KEY}
        super().__init__(["node", str(ROOT / "tests/realtime/js/probe.mjs")], 3 * TIMEOUT_S, env)

    async def check(self, name: str) -> dict[str, Any]:
        return await self.ask(f"check {name}")


@pytest.fixture(scope="module")
def probe(hostile: HostileService) -> Iterator[Probe]:
    node = Probe()
    yield node
    node.close()


class PageProbe(LineProcess):
    """The chat page in Chromium: one long-lived process answering `check URL NAME` lines."""

    def __init__(self) -> None:
        super().__init__([sys.executable, "-m", "tests.realtime.page_probe"], 6 * TIMEOUT_S)

    async def check(self, channel: str, name: str) -> dict[str, Any]:
        page = f"http://{HOST}:{PORT}/?channel={quote(channel, safe=':')}"
        return await self.ask(f"check {page} {name}")


@pytest.fixture(scope="module")
def page_probe(hostile: HostileService) -> Iterator[PageProbe]:
    chromium = PageProbe()
    yield chromium
    chromium.close()


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
    hostile: HostileService, probe: Probe, page_probe: PageProbe, request: pytest.FixtureRequest
) -> AsyncIterator[Witness]:
    """Around each attack: the witness before and after, then ably-js, ably-python, the page in Chromium,
    memory and the log."""
    async with open_witness(url(key=API_KEY), url("msgpack", key=API_KEY)) as witness:
        yield witness
    name = f"{request.node.name}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
    result = await probe.check(name)
    assert result["ok"], f"ably-js after {request.node.name}: {result}"
    await python_sdk_served(name)
    page = await page_probe.check(witness.page_channel or f"chat:page-{uuid.uuid4().hex[:8]}", "visitor")
    assert page["ok"], f"the chat page after {request.node.name}: {page}"
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


async def sandbox_app_key(**key_spec: Any) -> str:
    """A new sandbox app (POST /apps, as the SDKs' suites make them) with one key of this spec."""
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}") as http:
        created = await http.post("/apps", json={"keys": [key_spec]})
    assert created.status_code == 201, created.text
    key: str = created.json()["keys"][0]["keyStr"]
    return key


async def history(channel: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth()) as http:
        response = await http.get(f"/channels/{channel}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


# --- sizes ---------------------------------------------------------------------------------------------


async def test_a_huge_rest_body_is_refused_before_it_is_kept(witness: Witness) -> None:
    channel = f"flood:{uuid.uuid4().hex}"
    # About 4 MB: eight times the service's body limit, within the dev server's own (6 MiB), which it reaches.
    body = json.dumps([{"name": "x", "data": "y" * 1000}] * 4_000).encode()
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


async def test_channels_attached_across_many_connections_are_one_total(witness: Witness) -> None:
    # Each connection may attach its 100 channels; enough connections, each within its own limit, made
    # channels (a few KiB each) without bound.
    per_connection = HOSTILE_LIMITS.channels_per_connection
    needed = HOSTILE_LIMITS.channels_total // per_connection + 1
    clients = [await connected(key=API_KEY) for _ in range(needed)]
    run = uuid.uuid4().hex
    refused: list[int] = []
    try:
        for index, client in enumerate(clients):
            for count in range(per_connection):
                await client.send({"action": Action.ATTACH, "channel": f"spread-{run}:{index}:{count}"})
            for _ in range(per_connection):
                answer = await client.recv()
                if answer["action"] == Action.ERROR:
                    assert_error(answer, Action.ERROR, 90021, 429)
                    refused.append(index)
                else:
                    assert answer["action"] == Action.ATTACHED
    finally:  # an Ably CLOSE: a connection that merely drops keeps its channels while it may resume
        await asyncio.gather(*(client.send({"action": Action.CLOSE}) for client in clients))
        await asyncio.gather(*(client.expect(Action.CLOSED) for client in clients))
        await asyncio.gather(*(client.close() for client in clients))
    assert refused  # earlier attacks' history may hold channels too: more may be refused, never fewer
    assert needed * per_connection - len(refused) <= HOSTILE_LIMITS.channels_total


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


async def test_connections_of_every_app_together_are_bounded(witness: Witness) -> None:
    # Sandbox apps made with no credentials each had 200 connections of their own to give.
    keys = [await sandbox_app_key() for _ in range(2)]
    opened: list[WireClient] = []
    refusals: list[int] = []
    try:
        for key in keys:
            while True:
                client = await WireClient.open(url(key=key))
                opened.append(client)
                first = await client.recv()
                if first["action"] == Action.ERROR:
                    refusals.append(first["error"]["code"])
                    break
                assert len(opened) <= HOSTILE_LIMITS.connections_total
    finally:
        await asyncio.gather(*(client.close() for client in opened))
    assert refusals == [40150, 40111]  # the first app's own limit, then the service's


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


# --- the work one request causes ------------------------------------------------------------------------


async def batch_publish(body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth(), timeout=30) as http:
        return await http.post("/messages", json=body, headers={"X-Ably-Version": "3"})


async def test_a_batch_publish_is_bounded_in_messages_across_its_channels(witness: Witness) -> None:
    # Within the channel limit and a fraction of the body limit, one spec asks for 300,000 publishes.
    prefix = f"batch:{uuid.uuid4().hex}"
    channels = [f"{prefix}:{n}" for n in range(HOSTILE_LIMITS.batch_items_per_request)]
    tiny: list[dict[str, str]] = [{}] * 300
    refused = await batch_publish({"channels": channels, "messages": tiny})
    assert_http_error(refused, 40034, 400, secret=KEY.secret)
    # The same spread over many specs, each of them small.
    spread = [{"channels": channels[at : at + 10], "messages": tiny[:101]} for at in range(0, 1000, 10)]
    assert_http_error(await batch_publish(spread), 40034, 400, secret=KEY.secret)
    assert await history(channels[0]) == []
    assert await history(channels[-1]) == []
    # More channels than a batch may name: Ably's code for it.
    too_many = {"channels": [*channels, f"{prefix}:one-more"], "messages": [{}]}
    assert_http_error(await batch_publish(too_many), 90010, 400, secret=KEY.secret)
    # Up to the bound, everything is published.
    limit = HOSTILE_LIMITS.batch_messages_per_request
    within = await batch_publish({"channels": channels[:10], "messages": [{"data": "x"}] * (limit // 10)})
    assert within.status_code == 201, within.text
    assert len(await history(channels[9])) == limit // 10


def heavy_filter(variant: int) -> str:
    """A subscription filter of 118 terms, each distinct by `variant`, that passes every message."""
    alternatives = " || ".join(f"headers.k{n} == 'v{variant}-{n}'" for n in range(23))
    return filtered(f"({alternatives}) || name != 'never'", "")


async def test_the_filters_following_one_channel_are_bounded_in_their_work(witness: Witness) -> None:
    # Every message published on a channel is evaluated by each distinct filter following it: a thousand
    # messages against hundreds of heavy filters held the event loop for seconds.
    channel = f"chat:filtered-{uuid.uuid4().hex}"
    app_key = await sandbox_app_key(capability=json.dumps({"[*]*": ["*"]}))
    subscriber = await connected(key=app_key)
    answers = [await subscriber.attach(heavy_filter(variant) + channel) for variant in range(40)]
    attached = [answer for answer in answers if answer["action"] == Action.ATTACHED]
    assert 0 < len(attached) <= HOSTILE_LIMITS.filter_terms_per_channel // 118
    for answer in answers[len(attached) :]:
        assert_error(answer, Action.ERROR, 42910, 429)
    # Those attached still get what their filters accept.
    publisher = await connected(key=app_key)
    serial = await publisher.publish(channel, *[{"name": "m", "data": n} for n in range(100)])
    await publisher.acked(serial)
    for _ in attached:
        delivered = await subscriber.expect(Action.MESSAGE, seconds=TIMEOUT_S)
        assert len(delivered["messages"]) == 100


# --- attach-time bursts -----------------------------------------------------------------------------------

# A text Ably counts as 1 byte a character and JSON escapes to 6 (\u0001): legitimate messages that weigh
# six times as much on a JSON client's wire as they count against maxMessageSize.
ESCAPED = "\x01"


async def visitor(client_id: str, fmt: Format = "json") -> WireClient:
    """A client with the token any page visitor gets from the token function."""
    rights = json.dumps({"chat:*": ["presence", "publish", "subscribe"]})
    return await connected(fmt, access_token=await token(client_id=client_id, capability=rights))


async def test_a_rewind_never_drops_its_joiner(witness: Witness) -> None:
    # Sixty messages of 8 KB each, within every limit, are about 3 MB of JSON: a rewind replaying them all
    # overflowed every JSON joiner's outbox (80020), the page's visitors included, for as long as history
    # kept them.
    channel = f"chat:rewind-{uuid.uuid4().hex}"
    witness.page_channel = channel
    mallory = await visitor("mallory")
    for _ in range(60):
        serial = await mallory.publish(channel, {"name": "chat", "data": ESCAPED * 8000})
    await mallory.acked(serial)
    for rewind in ("50", "2m"):
        joiner = await connected(key=API_KEY)
        attached = await joiner.attach(channel, params={"rewind": rewind})
        assert attached["action"] == Action.ATTACHED, attached
        assert attached["error"]["code"] == 90004  # fewer than asked for: the newest that fit
        replayed = [await joiner.expect(Action.MESSAGE) for _ in range(3)]
        assert all(len(frame["messages"]) == 1 for frame in replayed)
        serial = await mallory.publish(channel, {"name": "chat", "data": "live"})
        live = await joiner.expect(Action.MESSAGE, seconds=TIMEOUT_S, channel=channel)
        while live["messages"][0]["data"] != "live":  # the rest of the replay, then live delivery
            live = await joiner.expect(Action.MESSAGE, seconds=TIMEOUT_S, channel=channel)
        await joiner.close()


async def test_a_large_presence_set_never_drops_its_joiner(witness: Witness) -> None:
    # Ninety members of 2.5 KB each are within the presence limits and about 1.4 MB of JSON: in one SYNC
    # that overflowed every JSON joiner's outbox (80020). It goes out in pages as the joiner reads.
    channel = f"chat:crowd-{uuid.uuid4().hex}"
    witness.page_channel = channel
    holder = await connected("msgpack", key=API_KEY)
    assert (await holder.attach(channel, flags=Flag.PRESENCE))["action"] == Action.ATTACHED
    for serial, start in enumerate(range(0, 90, 15)):
        members = [
            {"action": 2, "clientId": f"member-{n}", "data": ESCAPED * 2500} for n in range(start, start + 15)
        ]
        await holder.send(
            {"action": Action.PRESENCE, "channel": channel, "msgSerial": serial, "presence": members}
        )
        await holder.acked(serial)
    joiner = await connected(key=API_KEY)
    attached = await joiner.attach(channel)
    assert attached["flags"] & Flag.HAS_PRESENCE
    pages = [await joiner.expect(Action.SYNC, seconds=TIMEOUT_S)]
    while not pages[-1]["channelSerial"].endswith(":"):
        pages.append(await joiner.expect(Action.SYNC, seconds=TIMEOUT_S))
    assert len(pages) > 1
    assert len({page["channelSerial"].split(":")[0] for page in pages}) == 1
    present = sorted(member["clientId"] for page in pages for member in page["presence"])
    assert present == sorted(f"member-{n}" for n in range(90))
    publisher = await connected(key=API_KEY)
    await publisher.publish(channel, {"name": "chat", "data": "after the sync"})
    await joiner.expect(Action.MESSAGE, seconds=TIMEOUT_S, channel=channel)


# --- mutable messages and annotations ----------------------------------------------------------------------

EDITOR_RIGHTS = ["publish", "subscribe", "history", "message-update-own", "annotation-publish"]


async def test_appends_cannot_grow_a_message_or_its_versions_without_bound(witness: Witness) -> None:
    # Each append is a small publish; what it keeps is the whole joined message, again, as a new version.
    mallory = await connected(
        access_token=await token(client_id="mallory", capability=json.dumps({"mutable:*": EDITOR_RIGHTS}))
    )
    channel = f"mutable:{uuid.uuid4().hex}"
    serial = await mallory.publish(channel, {"data": "x" * 40_000})
    [message_serial] = (await mallory.acked(serial))["res"][0]["serials"]
    serial = await mallory.publish(channel, {"action": 5, "serial": message_serial, "data": "y" * 40_000})
    assert (await mallory.expect(Action.NACK, msgSerial=serial))["error"]["code"] == 40009  # joined: 80 KB
    # Then 300 one-byte appends to each of five messages of 60 KB: 90 MB of versions, were they unbounded.
    codes: list[int] = []
    for _ in range(5):
        serial = await mallory.publish(channel, {"data": "z" * 60_000})
        [message_serial] = (await mallory.acked(serial))["res"][0]["serials"]
        for _ in range(3):  # a hundred at a time, within Ably's 2,000 protocol messages a second
            for _ in range(100):
                serial = await mallory.publish(channel, {"action": 5, "serial": message_serial, "data": "z"})
            while True:
                answer = await mallory.recv(seconds=TIMEOUT_S)
                if answer["action"] == Action.NACK:
                    codes.append(answer["error"]["code"])
                if (
                    answer["action"] in (Action.ACK, Action.NACK)
                    and answer["msgSerial"] + answer["count"] > serial
                ):
                    break
            await asyncio.sleep(0.1)
    assert codes
    assert set(codes) <= {42910, 40400}  # too many versions, or history already let the message go


async def test_annotations_and_their_summary_are_bounded(witness: Witness) -> None:
    channel = f"mutable:{uuid.uuid4().hex}"
    publisher = await connected("msgpack", key=API_KEY)
    subscriber = await connected(key=API_KEY)
    assert (await subscriber.attach(channel))["action"] == Action.ATTACHED
    serial = await publisher.publish(channel, {"data": "react to me"})
    [message_serial] = (await publisher.acked(serial))["res"][0]["serials"]
    # Two thousand clients react, a hundred at a time: each summary would list every one of them.
    codes: list[int] = []
    for start in range(0, 2000, 100):
        reactions = [
            {
                "messageSerial": message_serial,
                "type": "reaction:distinct.v1",
                "name": "+1",
                "clientId": f"fan-{n:05}-" + "x" * 74,  # 80 bytes: 1,000 of them pass 64 KiB
            }
            for n in range(start, start + 100)
        ]
        await publisher.send(
            {
                "action": Action.ANNOTATION,
                "channel": channel,
                "msgSerial": start + 1,
                "annotations": reactions,
            }
        )
        reply = await publisher.recv()
        while reply["action"] not in (Action.ACK, Action.NACK):
            reply = await publisher.recv()
        if reply["action"] == Action.NACK:
            codes.append(reply["error"]["code"])
    assert codes
    assert set(codes) == {42910}
    last: dict[str, Any] = {}
    with contextlib.suppress(TimeoutError):
        while True:
            frame = await subscriber.expect(Action.MESSAGE, seconds=1, channel=channel)
            for item in frame["messages"]:
                if item.get("action") == 4:
                    last = item
    listed = last["annotations"]["summary"]["reaction:distinct.v1"]["+1"]
    assert listed["total"] == HOSTILE_LIMITS.annotations_per_message
    assert listed["clipped"] is True
    assert len(json.dumps(last["annotations"])) <= HOSTILE_LIMITS.max_message_size


# --- a total is a total ------------------------------------------------------------------------------------


async def test_sandbox_apps_share_the_services_totals(witness: Witness) -> None:
    # Each app made through POST /apps (no credentials needed) had budgets of its own: a dozen of them
    # held a dozen times the service's history and presence totals, and tokens of any size.
    keys = [Key.parse(await sandbox_app_key()) for _ in range(12)]
    base = f"http://{HOST}:{PORT}"
    block = "h" * 4000
    for key in keys:  # about 4 MB of history in each: the whole service's total, twelve times
        credentials = {
            "Authorization": "Basic " + base64.b64encode(f"{key.name}:{key.secret}".encode()).decode()
        }
        async with httpx.AsyncClient(base_url=base, headers=credentials, timeout=30) as http:
            # 60 KB on each of 64 channels: within max_message_size and batch_messages_per_request.
            spec = {"channels": [f"fill:{n}" for n in range(64)], "messages": [{"data": block}] * 15}
            answer = await http.post("/messages", json=spec, headers={"X-Ably-Version": "3"})
            assert answer.json()[0]["successCount"] == 64, answer.text[:300]
    # The first app's history went first, to keep the whole service within its total.
    first = keys[0]
    credentials = {
        "Authorization": "Basic " + base64.b64encode(f"{first.name}:{first.secret}".encode()).decode()
    }
    async with httpx.AsyncClient(base_url=base, headers=credentials) as http:
        assert (await http.get("/channels/fill:0/messages")).json() == []
    # Tokens whose capabilities are as large as a TokenRequest can carry are bounded in bytes, for every
    # app together.
    capability = json.dumps({f"room-{n}-{'r' * 400}": ["subscribe"] for n in range(1000)})  # 420 KB
    refused: list[int] = []
    for key in keys:
        for _ in range(4):
            answer = await request_token(base, signed_token_request(key, capability=capability))
            if answer.status_code != 200:
                refused.append(answer.json()["error"]["code"])
    assert refused
    assert set(refused) == {42910}
    assert len(refused) >= len(keys) * 4 - HOSTILE_LIMITS.token_bytes_total // 400_000
    # A removed app gives its share back.
    async with httpx.AsyncClient(base_url=base) as http:
        for key in keys:
            auth = (key.name, key.secret)
            assert (await http.delete(f"/apps/{key.name.partition('.')[0]}", auth=auth)).status_code == 204
    assert (await request_token(base, signed_token_request(KEY, capability=capability))).status_code == 200


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


# --- found attacking it once more ---------------------------------------------------------------------------


async def test_a_capability_nested_past_the_parser_is_40000(witness: Witness) -> None:
    # A capability is JSON inside a string: the body's nesting check never sees it.
    deep = "[" * 3000
    answer = await request_token(f"http://{HOST}:{PORT}", signed_token_request(KEY, capability=deep))
    assert_http_error(answer, 40000, 400, secret=KEY.secret)
    jwt = signed_jwt(KEY, {"iat": now_s(), "exp": now_s() + 60, "x-ably-capability": deep})
    refused = await WireClient.open(url(access_token=jwt))
    assert_error(await refused.recv(), Action.ERROR, 40000, 400)
    bearer = {"Authorization": "Bearer " + base64.b64encode(jwt.encode()).decode()}
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=bearer) as http:
        assert_http_error(await http.get("/channels/chat:x/messages"), 40000, 400, secret=KEY.secret)


async def test_a_batch_presence_request_naming_a_channel_again_and_again_costs_it_once(
    witness: Witness,
) -> None:
    # Five hundred names of one channel holding 250 KB of presence asked for 125 MB in one answer.
    channel = f"c{uuid.uuid4().hex[:6]}"  # short: five hundred of them fit in the dev server's request head
    holder = await connected("msgpack", key=API_KEY)
    assert (await holder.attach(channel, flags=Flag.PRESENCE))["action"] == Action.ATTACHED
    for serial in range(5):
        members = [{"action": 2, "clientId": f"m{serial}-{n}", "data": "p" * 2500} for n in range(20)]
        await holder.send(
            {"action": Action.PRESENCE, "channel": channel, "msgSerial": serial, "presence": members}
        )
        await holder.acked(serial)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth(), timeout=30) as http:
        answer = await http.get("/presence", params={"channels": ",".join([channel] * 500)})
    assert answer.status_code == 200, answer.text[:200]
    [result] = answer.json()["results"] if "results" in answer.json() else answer.json()
    assert result["channel"] == channel
    assert len(result["presence"]) == 100


async def test_sandbox_apps_are_bounded_in_the_bytes_their_specs_keep(witness: Witness) -> None:
    # Anyone may make an app; each keeps its keys' capabilities, up to a whole request body of them.
    capability = json.dumps({f"room-{n}-{'r' * 400}": ["subscribe"] for n in range(1000)})  # 420 KB
    created: list[str] = []
    codes: list[int] = []
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", timeout=30) as http:
        for _ in range(HOSTILE_LIMITS.sandbox_apps):
            answer = await http.post("/apps", json={"keys": [{"capability": capability}]})
            codes.append(answer.json()["error"]["code"] if answer.status_code != 201 else 201)
            if answer.status_code == 201:
                created.append(answer.json()["keys"][0]["keyStr"])
        assert 201 in codes
        assert codes[-1] == 42910
        assert len(created) <= HOSTILE_LIMITS.sandbox_bytes_total // 400_000
        for key in map(Key.parse, created):  # deleting them gives their share back
            deleted = await http.delete(f"/apps/{key.name.partition('.')[0]}", auth=(key.name, key.secret))
            assert deleted.status_code == 204
        assert (await http.post("/apps", json={"keys": [{"capability": capability}]})).status_code == 201


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


async def open_raw_websocket() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand, for frames no client library would send."""
    reader, writer = await asyncio.open_connection(HOST, PORT)
    where = urlsplit(url(key=API_KEY))
    target = f"{where.path}?{where.query}"
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_a_client_that_pings_and_never_reads_cannot_grow_memory(witness: Witness) -> None:
    # Every PING wants a PONG; a client that reads none must not make the service keep them all. The flood
    # is past the memory allowance, so kept PONGs would fail the witness's memory check.
    _, writer = await open_raw_websocket()
    ping = Frame(Opcode.PING, b"p" * 125).serialize(mask=True)
    pings = ping * 1_000
    flood = MEMORY_ALLOWANCE + 16 * MiB
    for _ in range(flood // len(pings)):
        writer.write(pings)
        await writer.drain()
    writer.close()


@pytest.mark.parametrize("fragment", [b"", b"x"], ids=["empty", "one-byte"])
async def test_a_message_in_endless_fragments_is_refused(witness: Witness, fragment: bytes) -> None:
    # Each fragment is kept until the message ends: tiny ones are within the byte limit long after they cost
    # more to keep than they carry, so their number is bounded too (1009, as for too many bytes).
    reader, writer = await open_raw_websocket()
    # One fragment past the bound, and nothing after it: the service has read everything when it closes.
    first = Frame(Opcode.TEXT, b"{", fin=False).serialize(mask=True)
    more = Frame(Opcode.CONT, fragment, fin=False).serialize(mask=True)
    writer.write(first + more * HOSTILE_LIMITS.max_frame_fragments)
    await writer.drain()
    seen = await asyncio.wait_for(reader.read(), TIMEOUT_S)  # until the service closes the TCP connection
    closing = seen[seen.rfind(b"\x88\x02") :]
    assert closing[:2] == b"\x88\x02", seen[-64:]
    assert int.from_bytes(closing[2:4], "big") == 1009
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


# --- identity and input rules everywhere ------------------------------------------------------------------


def filtered(expression: str, base: str = "chat:filtered") -> str:
    return f"[filter={base64.b64encode(expression.encode()).decode()}]{base}"


def rest_path(channel: str, resource: str = "messages") -> str:
    return f"/channels/{quote(channel, safe='')}/{resource}"


MALFORMED_FILTERS = {
    "negations": filtered("!" * 2000 + "name"),
    "parentheses": filtered("(" * 1000 + "name" + ")" * 1000),
    "deep-literal": filtered("name == `" + "[" * 1000 + "]" * 1000 + "`"),
    "long-conjunction": filtered(" && ".join(["name == 'x'"] * 400)),
    "nested-qualifiers": "[filter=bmFtZQ]" * 700 + "chat:filtered",  # within the 16 KiB request head
    "not-utf8": "[filter=" + base64.b64encode(b"name == '\xff'").decode() + "]chat:filtered",
    "unclosed": "[filter=bmFtZQ==chat:filtered",
    "nothing-after": "[filter=bmFtZQ==]",
}


@pytest.mark.parametrize("name", MALFORMED_FILTERS.values(), ids=MALFORMED_FILTERS.keys())
async def test_a_malformed_filter_is_40010_on_realtime_and_rest(witness: Witness, name: str) -> None:
    client = await connected(key=API_KEY)
    assert_error(await client.attach(name), Action.ERROR, 40010, 400)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=basic_auth()) as http:
        for method, resource in (("GET", "messages"), ("POST", "messages"), ("GET", "presence")):
            body = {"name": "x", "data": "y"} if method == "POST" else None
            answer = await http.request(method, rest_path(name, resource), json=body)
            assert_http_error(answer, 40010, 400, secret=KEY.secret)


async def test_a_version_or_annotation_cannot_claim_another_clientid(witness: Witness) -> None:
    rights = [
        "publish",
        "subscribe",
        "history",
        "message-update-own",
        "message-delete-own",
        "annotation-publish",
    ]
    mallory_token = await token(client_id="mallory", capability=json.dumps({"mutable:*": rights}))
    mallory = await connected(access_token=mallory_token)
    channel = f"mutable:{uuid.uuid4().hex}"
    assert (await mallory.attach(channel))["action"] == Action.ATTACHED
    serial = await mallory.publish(channel, {"name": "post", "data": "mine"})
    [message_serial] = (await mallory.acked(serial))["res"][0]["serials"]
    as_alice = {"clientId": "alice", "description": "alice approved this"}
    for change in (
        {"action": 1, "serial": message_serial, "data": "edited", "version": as_alice},
        {"action": 5, "serial": message_serial, "data": " more", "version": as_alice},
        {"action": 2, "serial": message_serial, "version": as_alice},
    ):
        serial = await mallory.publish(channel, change)
        assert (await mallory.expect(Action.NACK, msgSerial=serial))["error"]["code"] == 40012
    annotation = {"messageSerial": message_serial, "type": "reaction:distinct.v1", "name": "+1"}
    await mallory.send(
        {
            "action": Action.ANNOTATION,
            "channel": channel,
            "msgSerial": 99,
            "annotations": [{**annotation, "clientId": "alice"}],
        }
    )
    assert (await mallory.expect(Action.NACK, msgSerial=99))["error"]["code"] == 40012
    bearer = {"Authorization": "Bearer " + base64.b64encode(mallory_token.encode()).decode()}
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=bearer) as http:
        path = f"{rest_path(channel)}/{quote(message_serial, safe='')}"
        patched = await http.patch(path, json={"action": 1, "data": "edited", "version": as_alice})
        assert_http_error(patched, 40012, 400)
        annotated = await http.post(f"{path}/annotations", json={**annotation, "clientId": "alice"})
        assert_http_error(annotated, 40012, 400)
        # Mallory's own edit goes through, and its version names her whoever she is not allowed to be.
        edited = await http.patch(path, json={"action": 1, "data": "edited"})
        assert edited.status_code == 200, edited.text
        versions = (await http.get(f"{path}/versions")).json()
    assert [version.get("version", {}).get("clientId") for version in versions][1:] == ["mallory"]


UNAUTHENTICATED = [
    ("GET", rest_path(MALFORMED_FILTERS["negations"])),
    ("POST", rest_path(MALFORMED_FILTERS["nested-qualifiers"])),
    ("GET", rest_path("chat:x", "presence")),
    ("GET", rest_path("\x01bad", "presence/history")),
    ("GET", f"/channels/{quote(MALFORMED_FILTERS['parentheses'], safe='')}"),
    ("GET", f"{rest_path('mutable:x')}/no-such-serial"),
    ("PATCH", f"{rest_path('mutable:x')}/no-such-serial"),
    ("GET", f"{rest_path('mutable:x')}/no-such-serial/versions"),
    ("POST", f"{rest_path('mutable:x')}/no-such-serial/annotations"),
    ("POST", "/messages"),
    ("GET", "/presence?channels=" + ",".join(["x"] * 5000)),
    ("GET", "/stats?unit=fortnight"),
    ("POST", "/stats"),
    ("POST", f"/keys/{KEY.name}/revokeTokens"),
    ("DELETE", "/apps/someone-elses"),
    ("GET", "/keys/no.such/resource"),
]


STRANGERS = {
    "none": {},
    "wrong-secret": {
        "Authorization": "Basic " + base64.b64encode(f"{KEY.name}:wrong-secret".encode()).decode()
    },
    "unknown-token": {
        "Authorization": "Bearer " + base64.b64encode(b"hostileApp.notATokenWeIssued").decode()
    },
}


async def test_rest_checks_credentials_before_anything_else(witness: Witness) -> None:
    """A stranger learns nothing from any endpoint (not what exists, nor what it would refuse) and costs it
    nothing past reading the credentials: every answer is the same 401."""
    answers: dict[str, tuple[int, int]] = {}
    for who, credentials in STRANGERS.items():
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{PORT}", headers=credentials) as http:
            for method, path in UNAUTHENTICATED:
                answer = await http.request(method, path, content=b"[" * 10_000)
                answers[f"{who} {method} {path[:60]}"] = (answer.status_code, answer.json()["error"]["code"])
    refused = {probe: answer for probe, answer in answers.items() if answer[0] != 401}
    assert refused == {}
    assert {code for _, code in answers.values()} <= {40101, 40140}

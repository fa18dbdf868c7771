"""The unmodified ably-python SDK (PyPI `ably` 3.1.4) against an in-process local service.

ably-python's realtime transport ignores `port` (ably/ably-python#567) and dials ws://HOST, so the service
listens on port 80 of a loopback address of its own. Its REST client refuses basic auth over plain HTTP
(40103), so REST calls here use tokens. Tokens come from our token function (handler.create_function),
called with a Netlify event exactly as Netlify would, and the SDK exchanges its TokenRequest itself.
"""

import asyncio
import io
import itertools
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from ably import AblyException, AblyRealtime, AblyRest
from ably.types.connectionstate import ConnectionState
from ably.types.message import Message
from aws_lambda_powertools import Logger

from ably_local.server import LocalAbly
from ably_local.testing import running_service
from handler import create_function
from tests.function.events import netlify_event

# Each concurrent run (several checkouts on one machine) can pick its own loopback address.
HOST = os.environ.get("ABLY_PYTHON_TEST_HOST", "127.0.0.41")
API_KEY = "pyTests.sdkKey:pyTestSecretThatStaysLocal_0123456789"
KEY_SECRET = API_KEY.split(":")[1]
TIMEOUT_S = 10
# ably-python treats a token as expired 15 s before its expiry, so a 20 s token is the shortest it renews
# rather than discarding; the service asks for renewal 18 s before expiry, i.e. 2 s after each issue.
SHORT_TTL_MS = 20_000
RENEWAL_LEAD_MS = 18_000

AuthCallback = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_logger_ids = itertools.count()


@pytest.fixture(scope="module")
def service() -> Iterator[LocalAbly]:
    with running_service(
        api_key=API_KEY, host=HOST, port=80, token_renewal_lead_ms=RENEWAL_LEAD_MS
    ) as local_ably:
        yield local_ably


class TokenFunction:
    """Our token function as a fresh Netlify execution environment builds it; `calls` counts invocations."""

    def __init__(self, client_id: str, **environ: str) -> None:
        self.client_id = client_id
        self.log = io.StringIO()
        logger = Logger(
            service=f"ably-python-tests-{next(_logger_ids)}", logger_handler=logging.StreamHandler(self.log)
        )
        self.function = create_function(logger, {"ABLY_API_KEY": API_KEY, **environ})
        self.calls = 0

    def token_request(self) -> dict[str, Any]:
        response = self.function(netlify_event(query={"clientId": self.client_id}), None)
        assert response["statusCode"] == 200, response
        assert KEY_SECRET not in response["body"] + self.log.getvalue()
        self.calls += 1
        token_request: dict[str, Any] = json.loads(response["body"])
        return token_request

    async def auth_callback(self, params: dict[str, Any]) -> dict[str, Any]:
        """What an app's authCallback does: fetch a signed TokenRequest and hand it to the SDK."""
        return self.token_request()


@asynccontextmanager
async def realtime(**options: Any) -> AsyncIterator[AblyRealtime]:
    client = AblyRealtime(endpoint=HOST, tls=False, **options)
    try:
        await asyncio.wait_for(client.connection.once_async(ConnectionState.CONNECTED), TIMEOUT_S)
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def rest(**options: Any) -> AsyncIterator[AblyRest]:
    client = AblyRest(endpoint=HOST, port=80, tls=False, **options)
    try:
        yield client
    finally:
        await client.close()


async def subscribe(client: AblyRealtime, channel_name: str) -> "asyncio.Queue[Message]":
    queue: asyncio.Queue[Message] = asyncio.Queue()
    await client.channels.get(channel_name).subscribe(queue.put_nowait)
    return queue


async def receive(queue: "asyncio.Queue[Message]", count: int, within_s: float = TIMEOUT_S) -> list[Message]:
    return [await asyncio.wait_for(queue.get(), within_s) for _ in range(count)]


def drop_transport(client: AblyRealtime) -> asyncio.Event:
    """Cut the client's TCP connection without a close frame, as a network failure would.

    Returns an event set when the SDK is connected again.
    """
    reconnected = asyncio.Event()

    def on_state_change(change: Any) -> None:
        if change.current == ConnectionState.CONNECTED:
            reconnected.set()

    client.connection.on(on_state_change)
    transport = client.connection.connection_manager.transport
    assert transport is not None
    assert transport.websocket is not None
    transport.websocket.transport.abort()
    return reconnected


async def token_for(function: TokenFunction) -> str:
    """Exchange the function's TokenRequest for a token through the SDK (POST /keys/{key}/requestToken)."""
    async with rest(auth_callback=function.auth_callback) as client:
        details = await client.auth.request_token()
    token: str = details.token
    return token


async def test_connects_with_the_key(service: LocalAbly) -> None:
    async with realtime(key=API_KEY, client_id="keyed") as client:
        assert client.connection.state == ConnectionState.CONNECTED
        assert client.connection.connection_details is not None
        assert client.connection.connection_details.client_id == "keyed"
        assert client.connection.connection_manager.connection_id

    refused = AblyRealtime(key=f"{API_KEY.split(':')[0]}:notTheSecret", endpoint=HOST, tls=False)
    try:
        await asyncio.wait_for(refused.connection.once_async(ConnectionState.FAILED), TIMEOUT_S)
        assert refused.connection.error_reason is not None
        assert refused.connection.error_reason.code == 40101
    finally:
        await refused.close()


async def test_connects_with_a_token_from_the_token_function(service: LocalAbly) -> None:
    function = TokenFunction("alice")
    async with realtime(auth_callback=function.auth_callback) as client:
        details = client.auth.token_details
        assert details is not None
        assert details.client_id == "alice"
        assert {resource: sorted(ops) for resource, ops in details.capability.items()} == {
            "chat:*": ["presence", "publish", "subscribe"]
        }
        assert client.connection.connection_details is not None
        assert client.connection.connection_details.client_id == "alice"
        assert client.auth.client_id == "alice"
        assert function.calls == 1


@pytest.mark.parametrize("publisher_binary", [False, True], ids=["publish-json", "publish-msgpack"])
@pytest.mark.parametrize("subscriber_binary", [False, True], ids=["receive-json", "receive-msgpack"])
async def test_publish_and_subscribe_across_two_clients(
    service: LocalAbly, publisher_binary: bool, subscriber_binary: bool
) -> None:
    channel_name = f"chat:pubsub:{int(publisher_binary)}{int(subscriber_binary)}"
    payloads: list[tuple[str, Any]] = [
        ("text", "hello"),
        ("object", {"text": "hi", "n": [1, 2]}),
        ("binary", b"\x00\x01\xfe\xff"),
    ]
    async with (
        realtime(
            auth_callback=TokenFunction("alice").auth_callback, use_binary_protocol=publisher_binary
        ) as alice,
        realtime(
            auth_callback=TokenFunction("bob").auth_callback, use_binary_protocol=subscriber_binary
        ) as bob,
    ):
        inbox = await subscribe(bob, channel_name)
        channel = alice.channels.get(channel_name)
        await channel.attach()
        for name, data in payloads:
            await channel.publish(name, data)
        received = await receive(inbox, len(payloads))

        assert [(m.name, m.data) for m in received] == payloads
        alice_connection = alice.connection.connection_manager.connection_id
        assert [m.id for m in received] == [f"{alice_connection}:{serial}:0" for serial in range(3)]
        assert {m.client_id for m in received} == {"alice"}
        assert {m.connection_id for m in received} == {alice_connection}
        assert all(isinstance(m.timestamp, int) and m.timestamp > 0 for m in received)


async def test_presence_enter_get_and_leave_seen_by_another_client(service: LocalAbly) -> None:
    channel_name = "chat:presence"
    async with (
        realtime(auth_callback=TokenFunction("alice").auth_callback) as alice,
        realtime(auth_callback=TokenFunction("bob").auth_callback) as bob,
    ):
        watched = bob.channels.get(channel_name)
        events: asyncio.Queue[Any] = asyncio.Queue()
        await watched.presence.subscribe(events.put_nowait)

        await alice.channels.get(channel_name).presence.enter({"status": "here"})
        entered = await asyncio.wait_for(events.get(), TIMEOUT_S)
        assert (entered.action, entered.client_id, entered.data) == (2, "alice", {"status": "here"})
        members = await watched.presence.get()
        assert [(m.client_id, m.data) for m in members] == [("alice", {"status": "here"})]

        await alice.channels.get(channel_name).presence.leave()
        left = await asyncio.wait_for(events.get(), TIMEOUT_S)
        assert (left.action, left.client_id) == (3, "alice")
        assert await watched.presence.get() == []


async def test_presence_members_reach_a_client_that_attaches_later(service: LocalAbly) -> None:
    """A late attacher learns the members from the SYNC that follows ATTACHED."""
    channel_name = "chat:presence-sync"
    async with realtime(auth_callback=TokenFunction("alice").auth_callback) as alice:
        await alice.channels.get(channel_name).presence.enter("early")
        async with realtime(auth_callback=TokenFunction("bob").auth_callback) as bob:
            members = await bob.channels.get(channel_name).presence.get()
            assert [(m.client_id, m.data) for m in members] == [("alice", "early")]


async def test_history_through_rest_with_a_token(service: LocalAbly) -> None:
    channel_name = "chat:history"
    async with realtime(auth_callback=TokenFunction("alice").auth_callback) as alice:
        channel = alice.channels.get(channel_name)
        await channel.attach()
        for index in range(3):
            await channel.publish(f"m{index}", {"index": index})

    async with rest(token=await token_for(TokenFunction("chatter"))) as client:
        with pytest.raises(AblyException) as no_history_right:
            await client.channels.get(channel_name).history()
        assert no_history_right.value.code == 40160

    reader = TokenFunction("reader", ABLY_TOKEN_CAPABILITY='{"chat:*":["history"]}')
    async with rest(token=await token_for(reader)) as client:
        newest_first = await client.channels.get(channel_name).history()
        assert [(m.name, m.data) for m in newest_first.items] == [
            ("m2", {"index": 2}),
            ("m1", {"index": 1}),
            ("m0", {"index": 0}),
        ]
        assert {m.client_id for m in newest_first.items} == {"alice"}
        oldest_first = await client.channels.get(channel_name).history(direction="forwards", limit=2)
        assert [m.name for m in oldest_first.items] == ["m0", "m1"]
        assert oldest_first.has_next()
        rest_of_it = await oldest_first.next()
        assert [m.name for m in rest_of_it.items] == ["m2"]


async def test_capability_refusal(service: LocalAbly) -> None:
    """A subscribe-only token for chat:* may read chat:a:b but not publish there, nor attach elsewhere."""
    channel_name = "chat:room:1"
    reader_function = TokenFunction("reader", ABLY_TOKEN_CAPABILITY='{"chat:*":["subscribe"]}')
    async with (
        realtime(auth_callback=reader_function.auth_callback) as reader,
        realtime(auth_callback=TokenFunction("writer").auth_callback) as writer,
    ):
        inbox = await subscribe(reader, channel_name)
        with pytest.raises(AblyException) as refused:
            await reader.channels.get(channel_name).publish("not-allowed", "x")
        assert refused.value.code == 40160

        with pytest.raises(AblyException) as outside:
            await reader.channels.get("news").attach()
        assert outside.value.code == 40160

        await writer.channels.get(channel_name).publish("allowed", "y")
        [first] = await receive(inbox, 1)
        assert (first.name, first.data, first.client_id) == ("allowed", "y", "writer")
        assert reader.connection.state == ConnectionState.CONNECTED


async def test_client_id_mismatch_is_refused(service: LocalAbly) -> None:
    """A token for alice may not publish as bob: over REST and over realtime, the service answers 40012.

    ably-python already refuses such a publish itself (RTL6g) once it knows its clientId, so the realtime
    case hands the same MESSAGE to the SDK's connection manager to reach the service's own check.
    """
    channel_name = "chat:identity"
    alice_function = TokenFunction("alice")
    async with (
        realtime(auth_callback=alice_function.auth_callback) as alice,
        realtime(auth_callback=TokenFunction("watcher").auth_callback) as watcher,
    ):
        inbox = await subscribe(watcher, channel_name)
        channel = alice.channels.get(channel_name)
        await channel.attach()

        with pytest.raises(AblyException) as by_sdk:
            await channel.publish(Message(name="spoof", data="x", client_id="bob"))
        assert by_sdk.value.code == 40012

        manager = alice.connection.connection_manager
        spoof = {"action": 15, "channel": channel_name, "messages": [{"name": "spoof", "clientId": "bob"}]}
        with pytest.raises(AblyException) as by_service:
            await manager.send_protocol_message(spoof)
        assert by_service.value.code == 40012

        async with rest(token=await token_for(alice_function)) as client:
            with pytest.raises(AblyException) as over_rest:
                await client.channels.get(channel_name).publish(
                    messages=[Message(name="spoof", data="x", client_id="bob")]
                )
            assert (over_rest.value.code, over_rest.value.status_code) == (40012, 400)

        await channel.publish(Message(name="genuine", data="z", client_id="alice"))
        [first] = await receive(inbox, 1)
        assert (first.name, first.client_id) == ("genuine", "alice")


async def test_token_renewal_keeps_the_connection(service: LocalAbly) -> None:
    function = TokenFunction("renewer", ABLY_TOKEN_TTL_MS=str(SHORT_TTL_MS))
    channel_name = "chat:renewal"
    async with (
        realtime(auth_callback=function.auth_callback) as client,
        realtime(auth_callback=TokenFunction("sender").auth_callback) as sender,
    ):
        connection_id = client.connection.connection_manager.connection_id
        first_token = client.auth.token_details.token
        inbox = await subscribe(client, channel_name)
        for renewal in range(2):
            await asyncio.wait_for(client.connection.once_async("update"), TIMEOUT_S)
            await sender.channels.get(channel_name).publish("after-renewal", str(renewal))
            [message] = await receive(inbox, 1)
            assert (message.name, message.data) == ("after-renewal", str(renewal))

        await client.channels.get(channel_name).publish("from-renewed", "ok")
        [own] = await receive(inbox, 1)
        assert (own.name, own.client_id) == ("from-renewed", "renewer")
        assert function.calls >= 3
        assert client.auth.token_details.token != first_token
        assert client.connection.connection_manager.connection_id == connection_id
        assert client.connection.state == ConnectionState.CONNECTED


@pytest.mark.parametrize("binary", [False, True], ids=["json", "msgpack"])
async def test_resume_after_a_dropped_socket_loses_nothing(service: LocalAbly, binary: bool) -> None:
    channel_name = f"chat:resume:{int(binary)}"
    total, drop_after, published_while_away = 50, 15, 25  # one connection may publish 50 a second
    async with (
        realtime(
            auth_callback=TokenFunction("listener").auth_callback, use_binary_protocol=binary
        ) as listener,
        realtime(auth_callback=TokenFunction("talker").auth_callback, use_binary_protocol=binary) as talker,
    ):
        connection_id = listener.connection.connection_manager.connection_id
        states: list[ConnectionState] = []
        listener.connection.on(lambda change: states.append(change.current))
        inbox = await subscribe(listener, channel_name)
        channel = talker.channels.get(channel_name)
        await channel.attach()

        for index in range(drop_after):
            await channel.publish("n", str(index))
        received = await receive(inbox, drop_after)

        reconnected = drop_transport(listener)
        away = 0
        for index in range(drop_after, drop_after + published_while_away):
            await channel.publish("n", str(index))
            away += listener.connection.state != ConnectionState.CONNECTED
        await asyncio.wait_for(reconnected.wait(), TIMEOUT_S)
        for index in range(drop_after + published_while_away, total):
            await channel.publish("n", str(index))
        received += await receive(inbox, total - drop_after)

        assert [m.data for m in received] == [str(index) for index in range(total)]
        assert len({m.id for m in received}) == total
        assert ConnectionState.DISCONNECTED in states
        assert away > 0, "every message was published after the listener was back: no gap to replay"
        assert listener.connection.connection_manager.connection_id == connection_id
        await asyncio.sleep(0.2)
        assert inbox.empty(), "a message was delivered twice"


async def test_resume_on_a_channel_empty_at_attach_loses_nothing(service: LocalAbly) -> None:
    channel_name = "chat:resume:fresh"
    async with (
        realtime(auth_callback=TokenFunction("listener").auth_callback) as listener,
        realtime(auth_callback=TokenFunction("talker").auth_callback) as talker,
    ):
        inbox = await subscribe(listener, channel_name)
        channel = talker.channels.get(channel_name)
        await channel.attach()
        reconnected = drop_transport(listener)
        for index in range(5):
            await channel.publish("n", str(index))
        await asyncio.wait_for(reconnected.wait(), TIMEOUT_S)
        await channel.publish("n", "after")
        received = await receive(inbox, 6, within_s=2)
        assert [m.data for m in received] == ["0", "1", "2", "3", "4", "after"]

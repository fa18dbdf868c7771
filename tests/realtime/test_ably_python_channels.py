"""The unmodified ably-python SDK (PyPI `ably` 3.1.4) with what channels can do beyond publish and subscribe:
rewind, modes, vcdiff deltas (ably-python's own decoder), updates, deletes and appends, and JWTs.

Like test_ably_python.py, the service listens on port 80 of its own loopback address.
"""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ably import AblyException, AblyRealtime, AblyVCDiffDecoder
from ably.types.channelmode import ChannelMode
from ably.types.channeloptions import ChannelOptions
from ably.types.channelstate import ChannelState
from ably.types.connectionstate import ConnectionState
from ably.types.message import Message, MessageAction

from ably_local.server import LocalAbly
from ably_local.testing import running_service
from tests.realtime.test_ably_python import HOST, TIMEOUT_S, realtime, receive, subscribe
from tests.realtime.wire import Key, signed_jwt

API_KEY = "pyChannels.sdkKey:pyChannelsSecretThatStaysLocal_0123456789"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalAbly]:
    with running_service(
        api_key=API_KEY, host=HOST, port=80, mutable_namespaces=frozenset({"mutable"})
    ) as local:
        yield local


async def publish_all(client: AblyRealtime, name: str, *payloads: Any) -> None:
    channel = client.channels.get(name)
    for index, data in enumerate(payloads):
        await channel.publish(f"m{index}", data)


async def test_rewind_replays_the_last_messages_on_attach(service: LocalAbly) -> None:
    async with realtime(key=API_KEY) as publisher, realtime(key=API_KEY) as reader:
        await publish_all(publisher, "rewound", "a", "b", "c")
        channel = reader.channels.get("rewound", ChannelOptions(params={"rewind": "2"}))
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        await channel.subscribe(inbox.put_nowait)
        assert [message.data for message in await receive(inbox, 2)] == ["b", "c"]
        assert channel.params == {"rewind": "2"}


async def test_an_attachment_without_publish_mode_may_not_publish(service: LocalAbly) -> None:
    async with realtime(key=API_KEY) as client:
        channel = client.channels.get("moded", ChannelOptions(modes=[ChannelMode.SUBSCRIBE]))
        await channel.attach()
        with pytest.raises(AblyException) as refused:
            await channel.publish("x", "y")
        assert refused.value.code == 40165


class CountingDecoder(AblyVCDiffDecoder):  # type: ignore[misc]
    """ably-python's own vcdiff decoder, counting the deltas it applies."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def decode(self, delta: bytes, base: bytes) -> bytes:
        self.calls += 1
        decoded: bytes = super().decode(delta, base)
        return decoded


async def test_delta_subscribers_decode_vcdiff_patches(service: LocalAbly) -> None:
    decoder = CountingDecoder()
    payloads: list[Any] = [
        {"text": "hello", "n": 1},
        {"text": "hello", "n": 2},
        "plain",
        "plain text",
        b"\x01\x02",
    ]
    async with realtime(key=API_KEY, vcdiff_decoder=decoder) as reader, realtime(key=API_KEY) as publisher:
        channel = reader.channels.get("deltas", ChannelOptions(params={"delta": "vcdiff"}))
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        await channel.subscribe(inbox.put_nowait)
        await publish_all(publisher, "deltas", *payloads)
        assert [message.data for message in await receive(inbox, len(payloads))] == payloads
    assert decoder.calls == len(payloads) - 1


async def test_update_delete_and_append_reach_subscribers(service: LocalAbly) -> None:
    # Token auth: ably-python refuses Basic auth over plain HTTP for get_message's REST call.
    async with realtime(key=API_KEY, use_token_auth=True) as client:
        channel = client.channels.get("mutable:edits")
        inbox = await subscribe(client, "mutable:edits")
        await channel.publish("post", "Hello")
        [original] = await receive(inbox, 1)
        assert original.serial
        appended = await channel.append_message(Message(serial=original.serial, data=" World"))
        await channel.update_message(Message(serial=original.serial, data="Hi"))
        await channel.delete_message(Message(serial=original.serial, data=""))
        changes = await receive(inbox, 3)
        assert [change.action for change in changes] == [
            MessageAction.MESSAGE_APPEND,
            MessageAction.MESSAGE_UPDATE,
            MessageAction.MESSAGE_DELETE,
        ]
        assert {change.serial for change in changes} == {original.serial}
        assert changes[0].data == " World"
        assert changes[0].version.serial == appended.version_serial
        latest = await channel.get_message(original.serial)
        assert latest.action == MessageAction.MESSAGE_DELETE


async def test_a_jwt_carries_its_client_id_and_capability(service: LocalAbly) -> None:
    now = int(time.time())
    token = signed_jwt(
        Key.parse(API_KEY),
        {"iat": now, "exp": now + 60, "x-ably-clientId": "jwt-py", "x-ably-capability": '{"jwt:*":["*"]}'},
    )
    async with realtime(token=token) as client:
        assert client.auth.client_id == "jwt-py"
        await asyncio.wait_for(client.channels.get("jwt:room").attach(), TIMEOUT_S)
        with pytest.raises(AblyException) as refused:
            await asyncio.wait_for(client.channels.get("elsewhere").attach(), TIMEOUT_S)
        assert refused.value.code == 40160


def claimed_jwt(claims: dict[str, Any]) -> str:
    now = int(time.time())
    capability = '{"*":["*"]}'
    return signed_jwt(
        Key.parse(API_KEY), {"iat": now, "exp": now + 600, "x-ably-capability": capability, **claims}
    )


async def test_another_client_reads_the_jwt_claim_on_messages_and_presence(service: LocalAbly) -> None:
    token = claimed_jwt(
        {"x-ably-clientId": "mod", "ably.channel.claims:*": "moderator", "ably.channel.*": "guest"}
    )
    async with realtime(token=token) as member, realtime(key=API_KEY) as reader:
        inbox = await subscribe(reader, "claims:room")
        events: asyncio.Queue[Any] = asyncio.Queue()
        await reader.channels.get("claims:room").presence.subscribe(events.put_nowait)
        await member.channels.get("claims:room").publish("said", "hello")
        await member.channels.get("claims:room").presence.enter("here")
        [message] = await receive(inbox, 1)
        assert message.extras == {"userClaim": "moderator"}
        assert message.client_id == "mod"
        entered = await asyncio.wait_for(events.get(), TIMEOUT_S)
        assert entered.extras == {"userClaim": "moderator"}
        [present] = await reader.channels.get("claims:room").presence.get()
        assert present.extras == {"userClaim": "moderator"}


async def test_a_userclaim_written_by_the_client_never_arrives(service: LocalAbly) -> None:
    async with realtime(key=API_KEY) as forger, realtime(key=API_KEY) as reader:
        inbox = await subscribe(reader, "claims:forged")
        forged = {"userClaim": "moderator", "headers": {"kept": "yes"}}
        await forger.channels.get("claims:forged").publish(Message(name="forged", data="x", extras=forged))
        [message] = await receive(inbox, 1)
        assert message.extras == {"headers": {"kept": "yes"}}


async def test_a_publish_past_the_jwt_rate_is_refused_and_the_connection_stays(service: LocalAbly) -> None:
    token = claimed_jwt({"ably.limits.publish.perAttachment.maxRate.limited:*": 2})
    async with realtime(token=token) as publisher:
        channel = publisher.channels.get("limited:py")
        await channel.attach()
        await channel.publish("ok", "1")
        await channel.publish("ok", "2")
        with pytest.raises(AblyException) as refused:
            await channel.publish("too-fast", "3")
        assert (refused.value.code, refused.value.status_code) == (42911, 429)
        assert publisher.connection.state == ConnectionState.CONNECTED
        assert channel.state == ChannelState.ATTACHED
        await asyncio.sleep(0.6)
        await channel.publish("ok", "4")


async def test_far_past_the_jwt_rate_the_connection_fails_with_42921(service: LocalAbly) -> None:
    token = claimed_jwt({"ably.limits.publish.perAttachment.maxRate.*": 1})
    async with realtime(token=token) as publisher:
        channel = publisher.channels.get("limited:flood")
        await channel.attach()
        failed = asyncio.ensure_future(publisher.connection.once_async(ConnectionState.FAILED))
        publishes = [asyncio.ensure_future(channel.publish("flood", str(index))) for index in range(40)]
        change = await asyncio.wait_for(failed, TIMEOUT_S)
        assert change.reason is not None
        assert (change.reason.code, change.reason.status_code) == (42921, 429)
        first, second = await asyncio.gather(*publishes[:2], return_exceptions=True)
        assert not isinstance(first, BaseException)
        assert isinstance(second, AblyException)
        assert second.code == 42911
        # ably-python leaves the publishes the failed connection never answered pending until close.
        for pending in publishes:
            pending.cancel()
        await asyncio.gather(*publishes, return_exceptions=True)

"""The unmodified ably-python SDK with the token function's JWTs (ABLY_TOKEN_FORMAT=jwt) on the local service.

The SDK gets the JWT text from an auth_callback (as an app's would) or from auth_url (the function's
`application/jwt` answer), connects with it as it stands (no TokenRequest is exchanged), and the service
enforces the JWT's clientId and capability.
"""

import asyncio
import io
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from ably import AblyException, AblyRealtime
from ably.types.channelstate import ChannelState
from ably.types.connectionstate import ConnectionState
from aws_lambda_powertools import Logger

from ably_local.server import LocalAbly
from ably_local.testing import running_service
from handler import create_function
from tests.function.events import netlify_event
from tests.function.signing import verified_jwt
from tests.realtime.function_endpoint import token_function_server
from tests.realtime.test_ably_python import (
    API_KEY,
    HOST,
    KEY_SECRET,
    RENEWAL_LEAD_MS,
    SHORT_TTL_MS,
    TIMEOUT_S,
    realtime,
    receive,
    rest,
    subscribe,
)

KEY_NAME = API_KEY.split(":")[0]
_logger_ids = itertools.count()


@pytest.fixture(scope="module")
def service() -> Iterator[LocalAbly]:
    with running_service(
        api_key=API_KEY, host=HOST, port=80, token_renewal_lead_ms=RENEWAL_LEAD_MS
    ) as local_ably:
        yield local_ably


class JwtFunction:
    """The token function in JWT mode, built as a fresh execution environment builds it."""

    def __init__(self, client_id: str, roles: list[str] | None = None, **environ: str) -> None:
        """With `roles`, the client is a Netlify Identity user `client_id` with those app_metadata roles."""
        self.client_id = client_id
        self.context = (
            None
            if roles is None
            else {"clientContext": {"user": {"sub": client_id, "app_metadata": {"roles": roles}}}}
        )
        self.log = io.StringIO()
        logger = Logger(
            service=f"ably-python-jwt-tests-{next(_logger_ids)}",
            logger_handler=logging.StreamHandler(self.log),
        )
        self.function = create_function(
            logger, {"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_FORMAT": "jwt", **environ}
        )
        self.issued: list[str] = []

    async def auth_callback(self, params: dict[str, Any]) -> str:
        """What an app's auth_callback does with a JWT endpoint: hand the SDK the answer's text."""
        response = self.function(netlify_event(query={"clientId": self.client_id}), self.context)
        assert response["statusCode"] == 200, response
        assert response["headers"]["Content-Type"] == "application/jwt"
        assert KEY_SECRET not in response["body"] + self.log.getvalue()
        token: str = response["body"]
        self.issued.append(token)
        return token


async def test_connects_with_the_jwt_itself(service: LocalAbly) -> None:
    function = JwtFunction("alice")
    async with realtime(auth_callback=function.auth_callback) as client:
        details = client.auth.token_details
        assert details is not None
        assert [details.token] == function.issued  # the JWT as issued: nothing was exchanged for it
        header, claims = verified_jwt(details.token, KEY_SECRET)
        assert (header["kid"], claims["x-ably-clientId"]) == (KEY_NAME, "alice")
        assert client.connection.connection_details is not None
        assert client.connection.connection_details.client_id == "alice"


@pytest.mark.parametrize("binary", [False, True], ids=["json", "msgpack"])
async def test_publish_subscribe_and_presence_between_jwt_clients(service: LocalAbly, binary: bool) -> None:
    channel_name = f"chat:jwt:{int(binary)}"
    async with (
        realtime(auth_callback=JwtFunction("alice").auth_callback, use_binary_protocol=binary) as alice,
        realtime(auth_callback=JwtFunction("bob").auth_callback, use_binary_protocol=binary) as bob,
    ):
        inbox = await subscribe(bob, channel_name)
        watched = bob.channels.get(channel_name)
        entered: asyncio.Queue[Any] = asyncio.Queue()
        await watched.presence.subscribe(entered.put_nowait)
        channel = alice.channels.get(channel_name)
        await channel.attach()
        await channel.publish("greeting", {"text": "hi"})
        [message] = await receive(inbox, 1)
        assert (message.name, message.data, message.client_id) == ("greeting", {"text": "hi"}, "alice")

        await channel.presence.enter("here")
        member = await asyncio.wait_for(entered.get(), TIMEOUT_S)
        assert (member.client_id, member.data) == ("alice", "here")


async def test_a_subscribe_only_jwt_is_enforced(service: LocalAbly) -> None:
    reader = JwtFunction("reader", ABLY_TOKEN_CAPABILITY='{"chat:*":["subscribe"]}')
    channel_name = "chat:jwt:read-only"
    async with (
        realtime(auth_callback=reader.auth_callback) as reading,
        realtime(auth_callback=JwtFunction("writer").auth_callback) as writer,
    ):
        inbox = await subscribe(reading, channel_name)
        with pytest.raises(AblyException) as publish:
            await reading.channels.get(channel_name).publish("not-allowed", "x")
        assert publish.value.code == 40160
        with pytest.raises(AblyException) as outside:
            await reading.channels.get("news").attach()
        assert outside.value.code == 40160

        await writer.channels.get(channel_name).publish("allowed", "y")
        [first] = await receive(inbox, 1)
        assert (first.name, first.client_id) == ("allowed", "writer")
        assert reading.connection.state == ConnectionState.CONNECTED


async def test_rest_with_a_jwt(service: LocalAbly) -> None:
    function = JwtFunction("rest-user", ABLY_TOKEN_CAPABILITY='{"chat:*":["publish","history"]}')
    async with rest(auth_callback=function.auth_callback) as client:
        channel = client.channels.get("chat:jwt:rest")
        await channel.publish("via-rest", "z")
        history = await channel.history()
        assert [(m.name, m.client_id) for m in history.items] == [("via-rest", "rest-user")]
        with pytest.raises(AblyException) as refused:
            await client.channels.get("news").publish("x", "y")
        assert refused.value.code == 40160


async def test_auth_url_answering_application_jwt(service: LocalAbly) -> None:
    """The clientId goes in auth_params: with the client_id option set, ably-python 3.1 refuses any token
    string, which carries no clientId it can read (40102, "Client ID is immutable")."""
    with token_function_server({"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_FORMAT": "jwt"}) as endpoint:
        client = AblyRealtime(
            endpoint=HOST, tls=False, auth_url=endpoint.url, auth_params={"clientId": "url-user"}
        )
        try:
            await asyncio.wait_for(client.connection.once_async(ConnectionState.CONNECTED), TIMEOUT_S)
            assert client.auth.token_details is not None
            claims = verified_jwt(client.auth.token_details.token, KEY_SECRET)[1]
            assert claims["x-ably-clientId"] == "url-user"
            assert client.connection.connection_details is not None
            assert client.connection.connection_details.client_id == "url-user"
        finally:
            await client.close()
        assert KEY_SECRET not in endpoint.log.getvalue()


async def test_a_short_lived_jwt_is_renewed_on_the_live_connection(service: LocalAbly) -> None:
    """The service asks for renewal (AUTH) before the JWT's exp; the SDK fetches a new one and carries on."""
    function = JwtFunction("renewer", ABLY_TOKEN_TTL_MS=str(SHORT_TTL_MS))
    channel_name = "chat:jwt:renewal"
    async with (
        realtime(auth_callback=function.auth_callback) as client,
        realtime(auth_callback=JwtFunction("sender").auth_callback) as sender,
    ):
        connection_id = client.connection.connection_manager.connection_id
        inbox = await subscribe(client, channel_name)
        for _ in range(int(TIMEOUT_S / 0.1)):
            if len(function.issued) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(function.issued) >= 2, "the SDK was never asked to renew its JWT"
        await sender.channels.get(channel_name).publish("after", "renewal")
        [message] = await receive(inbox, 1)
        assert message.name == "after"
        assert client.connection.connection_manager.connection_id == connection_id


async def test_identity_roles_reach_other_clients_as_a_trusted_user_claim(service: LocalAbly) -> None:
    """The function's role claim, copied by the service into extras.userClaim of messages and presence."""
    moderator = JwtFunction("mod-1", roles=["moderator"])
    channel_name = "chat:jwt:roles"
    async with (
        realtime(auth_callback=moderator.auth_callback) as member,
        realtime(auth_callback=JwtFunction("reader").auth_callback) as reader,
    ):
        inbox = await subscribe(reader, channel_name)
        events: asyncio.Queue[Any] = asyncio.Queue()
        await reader.channels.get(channel_name).presence.subscribe(events.put_nowait)
        await member.channels.get(channel_name).publish("said", "hello")
        await member.channels.get(channel_name).presence.enter("here")
        claim = {"userClaim": '{"roles":["moderator"]}'}
        [message] = await receive(inbox, 1)
        assert (message.client_id, message.extras) == ("mod-1", claim)
        entered = await asyncio.wait_for(events.get(), TIMEOUT_S)
        assert (entered.client_id, entered.extras) == ("mod-1", claim)


async def test_the_publish_rate_a_jwt_carries_is_enforced(service: LocalAbly) -> None:
    """ABLY_PUBLISH_MAX_RATE=2: a third publish within the second is refused (42911), the connection stays."""
    function = JwtFunction("limited", ABLY_PUBLISH_MAX_RATE="2")
    async with realtime(auth_callback=function.auth_callback) as publisher:
        channel = publisher.channels.get("chat:jwt:rate")
        await channel.attach()
        await channel.publish("ok", "1")
        await channel.publish("ok", "2")
        with pytest.raises(AblyException) as refused:
            await channel.publish("too-fast", "3")
        assert (refused.value.code, refused.value.status_code) == (42911, 429)
        assert publisher.connection.state == ConnectionState.CONNECTED
        assert channel.state == ChannelState.ATTACHED

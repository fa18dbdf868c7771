"""The realtime socket's WebSocket layer over real sockets, with websockets as the client.

Pings are answered, the closing handshake completes from either side, and a client that breaks the
framing rules is closed with RFC 6455's code while other connections carry on.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from ably_local import LocalAbly
from ably_local.limits import KiB, Limits
from ably_local.testing import running_service
from tests.realtime.wire import Action, Format, realtime_url
from tests.realtime.witness import Witness, open_witness

API_KEY = "socket.rootKey:socketSecretThatStaysLocal_0123456789"
TIMEOUT_S = 10


@pytest.fixture(scope="module")
def service() -> Iterator[LocalAbly]:
    with running_service(api_key=API_KEY) as running:
        yield running


def url(service: LocalAbly, fmt: Format = "json") -> str:
    return realtime_url(service.host, service.port, fmt, key=API_KEY)


@pytest.fixture
async def witness(service: LocalAbly) -> AsyncIterator[Witness]:
    async with open_witness(url(service), url(service, "msgpack")) as witness:
        yield witness


async def open_client(service: LocalAbly) -> ClientConnection:
    client = await connect(url(service), compression=None, ping_interval=None)
    assert '"action":4' in str(await client.recv())  # CONNECTED
    return client


async def closed_with(client: ClientConnection) -> int | None:
    """The close code the service sent, once the connection is closed."""
    async with asyncio.timeout(TIMEOUT_S):
        try:
            while True:
                await client.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


async def test_a_ping_is_answered(service: LocalAbly) -> None:
    client = await open_client(service)
    pong = await client.ping(b"are you there")
    async with asyncio.timeout(TIMEOUT_S):
        await pong
    await client.close()


async def test_the_client_closes_and_the_service_answers(service: LocalAbly) -> None:
    client = await open_client(service)
    await client.close(1000)
    assert client.protocol.close_rcvd is not None  # the service's answer, not a timeout
    assert client.protocol.close_rcvd.code == 1000


async def test_an_ably_close_ends_with_the_services_closing_handshake(service: LocalAbly) -> None:
    client = await open_client(service)
    await client.send(f'{{"action":{Action.CLOSE}}}')
    assert f'"action":{Action.CLOSED}' in str(await client.recv())
    assert await closed_with(client) == 1000


async def test_what_came_before_a_framing_error_is_still_handled(service: LocalAbly) -> None:
    client = await open_client(service)
    heartbeat = f'{{"action":{Action.HEARTBEAT},"id":"before-the-fault"}}'.encode()
    client.protocol.send_frame(Frame(Opcode.TEXT, heartbeat))
    client.protocol.send_frame(Frame(Opcode.CONT, b"orphan continuation"))
    client.send_data()  # both frames in one write, so the service reads them together
    assert "before-the-fault" in str(await client.recv())
    assert await closed_with(client) == 1002


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (Frame(Opcode.CONT, b"orphan continuation"), 1002),
        (Frame(Opcode.TEXT, b"\xff\xfe not utf-8"), 1007),
        (Frame(Opcode.BINARY, b"x" * (512 * 1024 + 1)), 1009),
    ],
    ids=["protocol-error", "invalid-utf8", "too-big"],
)
async def test_a_framing_error_closes_with_its_code(
    service: LocalAbly, witness: Witness, frame: Frame, code: int
) -> None:
    client = await open_client(service)
    client.protocol.send_frame(frame)
    client.send_data()
    assert await closed_with(client) == code
    await witness.still_served()


async def test_messages_not_complete_yet_are_one_total_for_every_connection() -> None:
    # Each client may keep up to max_frame_size of a message it has not finished; thousands of them
    # together must not add up to thousands of times that.
    limits = Limits(inbound_bytes_total=256 * KiB)
    with running_service(api_key=API_KEY, limits=limits) as small:
        clients = [await open_client(small) for _ in range(3)]
        for client in clients[:2]:  # 100 KiB each of a message that never ends
            begin_endless_message(client)
            await still_open(client)
        begin_endless_message(clients[2])
        assert await closed_with(clients[2]) == 1013  # 300 KiB together: the one that passed it goes
        await still_open(clients[1])
        await clients[0].close()
        later = await open_client(small)
        begin_endless_message(later)
        await still_open(later)  # what a closed connection held was given back
        for client in (clients[1], later):
            client.transport.abort()


def begin_endless_message(client: ClientConnection) -> None:
    client.protocol.send_frame(Frame(Opcode.TEXT, b"x" * (100 * KiB), fin=False))
    client.send_data()


async def still_open(client: ClientConnection) -> None:
    """A PING may come between a message's fragments; its PONG says the service still reads this client."""
    async with asyncio.timeout(TIMEOUT_S):
        await (await client.ping())

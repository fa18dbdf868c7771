"""Clients that must keep being served whatever other clients send: the proof that an attack stayed local."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.realtime.wire import Action, WireClient, open_connected


@dataclass
class Witness:
    """A JSON publisher and a msgpack subscriber on a channel of their own."""

    publisher: WireClient
    subscriber: WireClient
    channel: str
    checks: int = 0
    # The channel the chat page is checked on after the attack (a fresh one when None): an attack on a
    # channel visitors use sets it, so that the page proves that channel still serves newcomers.
    page_channel: str | None = None

    async def still_served(self) -> None:
        self.checks += 1
        serial = await self.publisher.publish(self.channel, {"name": "alive", "data": str(self.checks)})
        await self.publisher.acked(serial)
        delivered = await self.subscriber.expect(Action.MESSAGE, channel=self.channel)
        assert [m["data"] for m in delivered["messages"]] == [str(self.checks)]


@asynccontextmanager
async def open_witness(json_url: str, msgpack_url: str) -> AsyncIterator[Witness]:
    """A witness served before and after the block."""
    publisher = await open_connected(json_url)
    subscriber = await open_connected(msgpack_url, "msgpack")
    channel = f"witness:{uuid.uuid4().hex}"
    attached = await subscriber.attach(channel)
    assert attached["action"] == Action.ATTACHED
    witness = Witness(publisher, subscriber, channel)
    await witness.still_served()
    yield witness
    await witness.still_served()
    await publisher.close()
    await subscriber.close()


def assert_error(message: dict[str, Any], action: Action, code: int, status: int) -> None:
    """An Ably error in a protocol message: its action, code and status."""
    assert message["action"] == action, message
    assert message["error"]["code"] == code, message
    assert message["error"]["statusCode"] == status, message


def assert_http_error(response: httpx.Response, code: int, status: int, secret: str | None = None) -> None:
    """An Ably error in an HTTP answer: its status, X-Ably-Errorcode and body code (and not the secret)."""
    assert response.status_code == status, response.text
    assert response.headers["x-ably-errorcode"] == str(code)
    assert response.json()["error"]["code"] == code
    if secret is not None:
        assert secret not in response.text

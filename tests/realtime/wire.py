"""A bare Ably realtime protocol client over one WebSocket, for tests that must send what no SDK would.

It speaks the protocol exactly as the wire facts describe (actions, JSON text frames or msgpack binary
frames) and nothing more: no retries, no queueing, no hidden heartbeats. Beside it, the credentials such a
client connects with: signed TokenRequests exchanged for tokens over REST, and Ably JWTs.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import msgpack
from websockets.asyncio.client import ClientConnection, connect

Format = Literal["json", "msgpack"]
PROTOCOL_VERSION = "6"
RECV_TIMEOUT_S = 5.0


class Action(IntEnum):
    HEARTBEAT = 0
    ACK = 1
    NACK = 2
    CONNECT = 3
    CONNECTED = 4
    DISCONNECT = 5
    DISCONNECTED = 6
    CLOSE = 7
    CLOSED = 8
    ERROR = 9
    ATTACH = 10
    ATTACHED = 11
    DETACH = 12
    DETACHED = 13
    PRESENCE = 14
    MESSAGE = 15
    SYNC = 16
    AUTH = 17
    ANNOTATION = 21


class Flag:
    HAS_PRESENCE = 1 << 0
    HAS_BACKLOG = 1 << 1
    RESUMED = 1 << 2
    PRESENCE = 1 << 16
    PUBLISH = 1 << 17
    SUBSCRIBE = 1 << 18
    PRESENCE_SUBSCRIBE = 1 << 19


def encode(message: Mapping[str, Any], fmt: Format) -> str | bytes:
    if fmt == "json":
        return json.dumps(message, separators=(",", ":"))
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def decode(frame: str | bytes) -> dict[str, Any]:
    """JSON arrives in text frames, msgpack in binary frames."""
    decoded = json.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame, raw=False)
    if not isinstance(decoded, dict):
        raise TypeError(f"the service sent a frame that is not a protocol message: {decoded!r}")
    return decoded


def realtime_url(host: str, port: int, fmt: Format = "json", **params: str) -> str:
    query = {"format": fmt, "v": PROTOCOL_VERSION, "heartbeats": "true", **params}
    return f"ws://{host}:{port}/?{urlencode(query)}"


class WireClient:
    """One raw connection; `received` keeps every non-heartbeat message that was read past."""

    def __init__(self, websocket: ClientConnection, fmt: Format) -> None:
        self.websocket = websocket
        self.fmt: Format = fmt
        self.msg_serial = 0
        self.backlog: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, fmt: Format = "json") -> "WireClient":
        websocket = await connect(url, max_size=None, compression=None, open_timeout=RECV_TIMEOUT_S)
        return cls(websocket, fmt)

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.websocket.send(encode(message, self.fmt))

    async def send_raw(self, frame: str | bytes) -> None:
        await self.websocket.send(frame)

    async def recv(self, seconds: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        """The next protocol message that is not a HEARTBEAT."""
        if self.backlog:
            return self.backlog.pop(0)
        while True:
            message = decode(await asyncio.wait_for(self.websocket.recv(), seconds))
            if message.get("action") != Action.HEARTBEAT:
                return message

    async def expect(self, action: Action, seconds: float = RECV_TIMEOUT_S, **match: Any) -> dict[str, Any]:
        """The next message with this action (and matching fields); others are kept for later recv()."""
        deadline = time.monotonic() + seconds
        skipped: list[dict[str, Any]] = []
        try:
            for index, message in enumerate(self.backlog):
                if _matches(message, action, match):
                    del self.backlog[index]
                    return message
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {action.name} {match or ''} within {seconds} s; got {skipped}")
                message = decode(await asyncio.wait_for(self.websocket.recv(), left))
                if _matches(message, action, match):
                    return message
                if message.get("action") != Action.HEARTBEAT:
                    skipped.append(message)
        finally:
            self.backlog.extend(skipped)

    async def acked(self, msg_serial: int, seconds: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        """The ACK covering a msgSerial; consecutive ACKs arrive merged (msgSerial, count)."""
        deadline = time.monotonic() + seconds
        while True:
            ack = await self.expect(Action.ACK, max(deadline - time.monotonic(), 0.01))
            if ack["msgSerial"] <= msg_serial < ack["msgSerial"] + ack.get("count", 1):
                return ack
            if ack["msgSerial"] > msg_serial:
                raise AssertionError(f"ACKs passed msgSerial {msg_serial}: {ack}")

    async def connected(self) -> dict[str, Any]:
        return await self.expect(Action.CONNECTED)

    async def attach(self, channel: str, **fields: Any) -> dict[str, Any]:
        await self.send({"action": Action.ATTACH, "channel": channel, **fields})
        return await self.recv()

    async def publish(self, channel: str, *messages: Mapping[str, Any]) -> int:
        """Send one MESSAGE protocol message; returns its msgSerial."""
        serial = self.msg_serial
        self.msg_serial += 1
        await self.send(
            {"action": Action.MESSAGE, "channel": channel, "msgSerial": serial, "messages": messages}
        )
        return serial

    async def closed_by_server(self, seconds: float = RECV_TIMEOUT_S) -> bool:
        """True once the service has closed the socket (reading anything else first is allowed)."""
        try:
            async with asyncio.timeout(seconds):
                await self.websocket.wait_closed()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        await self.websocket.close()


async def open_connected(url: str, fmt: Format = "json") -> WireClient:
    """A raw client the service has answered with CONNECTED."""
    client = await WireClient.open(url, fmt)
    await client.connected()
    return client


def _matches(message: Mapping[str, Any], action: Action, match: Mapping[str, Any]) -> bool:
    return message.get("action") == action and all(message.get(k) == v for k, v in match.items())


@dataclass(frozen=True)
class Key:
    name: str
    secret: str

    @classmethod
    def parse(cls, api_key: str) -> "Key":
        name, secret = api_key.split(":", 1)
        return cls(name, secret)


_SIGNED_FIELDS = ("keyName", "ttl", "capability", "clientId", "timestamp", "nonce")


def signed_token_request(
    key: Key,
    *,
    client_id: str | None = None,
    capability: str | None = None,
    ttl: int | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A TokenRequest signed like the SDKs and the token function sign it (absent fields omitted)."""
    fields: dict[str, Any] = {
        "keyName": key.name,
        "ttl": ttl,
        "capability": capability,
        "clientId": client_id,
        "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
        "nonce": nonce or secrets.token_hex(16),
    }
    text = "".join(f"{'' if fields[name] is None else fields[name]}\n" for name in _SIGNED_FIELDS)
    mac = hmac.new(key.secret.encode(), text.encode(), hashlib.sha256).digest()
    fields["mac"] = base64.b64encode(mac).decode()
    return {name: value for name, value in fields.items() if value is not None}


async def request_token(http_url: str, token_request: Mapping[str, Any]) -> httpx.Response:
    """The service's answer to a TokenRequest posted to /keys/{keyName}/requestToken, as the SDKs post it."""
    async with httpx.AsyncClient(base_url=http_url) as http:
        return await http.post(f"/keys/{token_request['keyName']}/requestToken", json=token_request)


async def fetch_token(http_url: str, key: Key, **fields: Any) -> str:
    """A token the service issues for a TokenRequest signed with the key (fields: signed_token_request's)."""
    response = await request_token(http_url, signed_token_request(key, **fields))
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_jwt(key: Key, claims: Mapping[str, Any]) -> str:
    """An Ably JWT: HS256 with the key's secret, the key's name as its kid."""
    header = {"typ": "JWT", "alg": "HS256", "kid": key.name}
    signing = f"{_base64url(json.dumps(header).encode())}.{_base64url(json.dumps(claims).encode())}"
    mac = hmac.new(key.secret.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_base64url(mac)}"

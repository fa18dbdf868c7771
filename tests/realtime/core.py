"""The sans-I/O service for tests: a service, its authority and a fake clock they share, and the frames a
connection would read."""

import json
from typing import Any

import msgpack

from ably_local.auth import ApiKey, Authority
from ably_local.capability import parse_capability
from ably_local.config import ServiceConfig
from ably_local.connection import Connection
from ably_local.limits import Limits
from ably_local.protocol import Action, Flag
from ably_local.realtime import RealtimeService
from tests.realtime.wire import Key, signed_jwt

KEY = ApiKey.parse("coreApp.coreKey:coreSecretValue_0123456789")
ALL_MODES = Flag.PUBLISH | Flag.SUBSCRIBE | Flag.PRESENCE | Flag.PRESENCE_SUBSCRIBE
# For tests of something else that send faster than one connection may (Ably's 50 publishes and 2,000
# protocol messages a second), all in one instant of the fake clock.
UNTHROTTLED = Limits(connection_publish_rate=1e9, inbound_protocol_message_rate=1e9)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class Core:
    """A service, its authority (with one key) and the clock they share."""

    def __init__(self, key: ApiKey = KEY, **config: Any) -> None:
        self.key = key
        self.clock = FakeClock()
        self.authority = Authority([key], clock=self.clock)
        self.service = RealtimeService(self.authority, ServiceConfig(**config), clock=self.clock)

    def token(self, client_id: str | None, capability: str = '{"*":["*"]}', ttl: int = 3_600_000) -> str:
        return self.authority.issue(self.key, client_id, parse_capability(capability), ttl).token

    def jwt(self, claims: dict[str, Any], ttl_s: int = 3600) -> str:
        """An Ably JWT of this core's key, issued now, signed with the standard library (tests/wire)."""
        now_s = self.clock.now // 1000
        return signed_jwt(Key(self.key.name, self.key.secret), {"iat": now_s, "exp": now_s + ttl_s, **claims})

    def connect(self, fmt: str = "json", **params: str) -> Connection:
        if "access_token" not in params:
            params.setdefault("key", self.key.value)
        return self.service.open({"v": "6", "format": fmt, **params})

    def send(self, connection: Connection, message: dict[str, Any]) -> bool:
        frame: str | bytes = (
            json.dumps(message) if connection.fmt == "json" else msgpack.packb(message, use_bin_type=True)
        )
        return self.service.receive(connection, frame)

    def attach(self, connection: Connection, channel: str, **fields: Any) -> list[dict[str, Any]]:
        self.send(connection, {"action": Action.ATTACH, "channel": channel, **fields})
        return drain(connection)

    def publish(self, connection: Connection, channel: str, serial: int, *names: str) -> None:
        messages = [{"name": name, "data": f"data-{name}"} for name in names]
        self.send(
            connection,
            {"action": Action.MESSAGE, "channel": channel, "msgSerial": serial, "messages": messages},
        )


def drain(connection: Connection) -> list[dict[str, Any]]:
    """Decode everything the service queued for a connection, as its client would read it."""
    decoded: list[dict[str, Any]] = []
    for frame in connection.take_outbox():
        assert isinstance(frame, str) == (connection.fmt == "json"), "wrong frame type for the format"
        decoded.append(json.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame, raw=False))
    return decoded


def actions(frames: list[dict[str, Any]]) -> list[int]:
    return [frame["action"] for frame in frames]

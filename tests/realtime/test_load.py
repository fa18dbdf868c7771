"""Bounded load and fault test on loopback: 1,000 raw protocol connections over 50 channels receive 100,000
messages while 200 of them lose their sockets mid-stream and resume; nothing is lost, duplicated or
reordered, and the service's memory goes back near its baseline once everyone has left.

The service runs in its own process (tests/realtime/traced_service.py) so clients and server do not share
one interpreter, and its memory is read with tracemalloc there.
"""

import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ably_local.testing import running_service
from tests.realtime.wire import (
    PROTOCOL_VERSION,
    Action,
    Flag,
    Format,
    WireClient,
    decode,
    encode,
    realtime_url,
)

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "loadTest.rootKey:loadTestSecretThatStaysLocal_0123456789"
CONNECTIONS = 1000
CHANNELS = 50
PER_CHANNEL = CONNECTIONS // CHANNELS  # 20 connections per channel, one of which publishes
DROPPED = 200
PUBLISH_WINDOW = 16
DEADLINE_S = 120.0
MiB = 1024 * 1024

# Every connection on a channel receives every message published on it (the publisher with echo), so
# deliveries = CHANNELS * PER_CHANNEL * PUBLISHED_PER_CHANNEL = 100,000.
PUBLISHED_PER_CHANNEL = 100_000 // (CHANNELS * PER_CHANNEL)


class TracedService:
    """The service in a child process, probed for its Python heap (tracemalloc) over stdin/stdout."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.realtime.traced_service", API_KEY],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = json.loads(self._stdout.readline())
        self.host: str = ready["host"]
        self.port: int = ready["port"]

    @property
    def _stdout(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def probe(self) -> dict[str, int]:
        assert self.process.stdin is not None
        self.process.stdin.write("probe\n")
        self.process.stdin.flush()
        measured: dict[str, int] = json.loads(self._stdout.readline())
        return measured

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def traced_service() -> Iterator[TracedService]:
    service = TracedService()
    try:
        yield service
    finally:
        service.stop()


def raise_fd_limit(needed: int) -> None:
    """Each loopback connection costs a descriptor in this process; lift the soft limit when it is short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@dataclass
class LoadClient:
    """One connection speaking the Ably protocol the way ably-js does, including resume after a drop."""

    index: int
    channel: str
    fmt: Format
    websocket: ClientConnection | None = None
    connection_id: str = ""
    connection_key: str = ""
    channel_serial: str | None = None
    received: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    resumed_flag: bool | None = None
    acked: int = 0
    _reader: asyncio.Task[None] | None = None
    _events: dict[int, asyncio.Event] = field(default_factory=dict)
    _window: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PUBLISH_WINDOW))

    async def open(self, host: str, port: int, resume: bool = False) -> None:
        params = {"key": API_KEY, "format": self.fmt, "v": PROTOCOL_VERSION, "heartbeats": "true"}
        if resume:
            params["resume"] = self.connection_key
        self.websocket = await connect(
            f"ws://{host}:{port}/?{urlencode(params)}", compression=None, max_size=None, open_timeout=30
        )
        connected = decode(await asyncio.wait_for(self.websocket.recv(), 30))
        if connected.get("action") != Action.CONNECTED:
            raise AssertionError(f"client {self.index}: expected CONNECTED, got {connected}")
        if resume and (connected["connectionId"] != self.connection_id or connected.get("error")):
            self.problems.append(f"resume failed: {connected}")
        self.connection_id = connected["connectionId"]
        self.connection_key = connected["connectionDetails"]["connectionKey"]
        self._reader = asyncio.create_task(self._read(self.websocket))
        attach: dict[str, Any] = {"action": Action.ATTACH, "channel": self.channel}
        if resume and self.channel_serial is not None:
            attach["channelSerial"] = self.channel_serial
        await self._await(Action.ATTACHED, attach)

    async def _await(self, action: Action, request: dict[str, Any]) -> None:
        event = self._events[action] = asyncio.Event()
        assert self.websocket is not None
        await self.websocket.send(encode(request, self.fmt))
        await asyncio.wait_for(event.wait(), 30)

    async def _read(self, websocket: ClientConnection) -> None:
        try:
            async for frame in websocket:
                self._handle(decode(frame))
        except ConnectionClosed:
            pass

    def _handle(self, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == Action.MESSAGE:
            self.received.extend(int(m["data"]) for m in message["messages"])
            self.channel_serial = message.get("channelSerial", self.channel_serial)
            return
        if action == Action.ACK:
            for _ in range(message.get("count", 1)):
                self.acked += 1
                self._window.release()
            return
        if action == Action.ATTACHED:
            self.channel_serial = message.get("channelSerial", self.channel_serial)
            self.resumed_flag = bool(message.get("flags", 0) & Flag.RESUMED)
        elif action in (Action.HEARTBEAT, Action.CLOSED):
            pass
        else:
            self.problems.append(f"unexpected {message}")
        if action in self._events:
            self._events.pop(action).set()

    async def publish(self, count: int) -> None:
        assert self.websocket is not None
        for serial in range(count):
            await self._window.acquire()
            message = {"name": "seq", "data": str(serial)}
            frame = {
                "action": Action.MESSAGE,
                "channel": self.channel,
                "msgSerial": serial,
                "messages": [message],
            }
            await self.websocket.send(encode(frame, self.fmt))

    def drop(self) -> None:
        """The socket dies without a close frame, as when a network goes away."""
        assert self.websocket is not None
        self.websocket.transport.abort()

    async def close(self) -> None:
        assert self.websocket is not None
        await self._await(Action.CLOSED, {"action": Action.CLOSE})
        await self.websocket.close()
        if self._reader is not None:
            await self._reader


async def until(check: Any, what: str, seconds: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def gather_in_batches(coroutines: list[Any], batch: int = 100) -> None:
    """Open connections a batch at a time: a thousand simultaneous handshakes only measure the backlog."""
    for start in range(0, len(coroutines), batch):
        await asyncio.gather(*coroutines[start : start + batch])


async def settle(service: TracedService, ceiling: int, seconds: float = 10.0) -> dict[str, int]:
    """Probe until the heap is under `ceiling` (cleanup may lag the last CLOSED a little)."""
    deadline = time.monotonic() + seconds
    while True:
        measured = await asyncio.to_thread(service.probe)
        if measured["current"] <= ceiling or time.monotonic() > deadline:
            return measured
        await asyncio.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_thousand_connections_with_drops_and_resumes(traced_service: TracedService) -> None:
    raise_fd_limit(4 * CONNECTIONS)
    host, port = traced_service.host, traced_service.port
    channels = [f"load:{n}" for n in range(CHANNELS)]

    # Warm-up: the same number of messages on the same channels as the load, so what the service keeps
    # of them afterwards (bounded history, channel records) is measured once and allowed for once more.
    before_warm_up = await asyncio.to_thread(traced_service.probe)
    warm = [LoadClient(-1 - n, name, "json") for n, name in enumerate(channels)]
    await gather_in_batches([c.open(host, port) for c in warm])
    await asyncio.gather(*(c.publish(PUBLISHED_PER_CHANNEL) for c in warm))
    await until(lambda: all(c.acked == PUBLISHED_PER_CHANNEL for c in warm), "warm-up acks", 60)
    await asyncio.gather(*(c.close() for c in warm))
    baseline = await asyncio.to_thread(traced_service.probe)
    history_cost = max(0, baseline["current"] - before_warm_up["current"])

    clients = [
        LoadClient(i, channels[i % CHANNELS], "msgpack" if i % 2 else "json") for i in range(CONNECTIONS)
    ]
    started = time.monotonic()
    await gather_in_batches([c.open(host, port) for c in clients])
    connected_s = time.monotonic() - started
    at_peak = await asyncio.to_thread(traced_service.probe)

    publishers = clients[:CHANNELS]  # one per channel
    victims = clients[CHANNELS::4][:DROPPED]  # spread over every channel, never a publisher

    publishing = asyncio.gather(*(p.publish(PUBLISHED_PER_CHANNEL) for p in publishers))
    total = PUBLISHED_PER_CHANNEL * CHANNELS
    await until(lambda: sum(p.acked for p in publishers) >= total // 3, "a third of the publishes")
    for victim in victims:
        victim.drop()
    await until(lambda: sum(p.acked for p in publishers) >= total // 2, "half of the publishes")
    await gather_in_batches([v.open(host, port, resume=True) for v in victims], batch=50)
    await publishing
    await until(lambda: all(len(c.received) >= PUBLISHED_PER_CHANNEL for c in clients), "every delivery")
    await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive now
    delivered_s = time.monotonic() - started

    expected = list(range(PUBLISHED_PER_CHANNEL))
    wrong = [c for c in clients if c.received != expected]
    assert not wrong, (
        f"{len(wrong)} clients lost, duplicated or reordered messages; first: {wrong[0].received}"
    )
    assert sum(len(c.received) for c in clients) == 100_000
    problems = [(c.index, c.problems) for c in clients if c.problems]
    assert not problems, problems[:5]
    assert all(v.resumed_flag for v in victims), "every re-ATTACH after resume must carry the RESUMED flag"

    await gather_in_batches([c.close() for c in clients])
    growth_at_peak = at_peak["current"] - baseline["current"]
    allowed = baseline["current"] + history_cost + max(2 * MiB, growth_at_peak // 10)
    after = await settle(traced_service, allowed)
    print(
        f"\nconnect {CONNECTIONS} in {connected_s:.1f} s; 100,000 deliveries with {DROPPED} resumes in "
        f"{delivered_s:.1f} s; heap baseline {baseline['current'] / MiB:.1f} MiB, with "
        f"{CONNECTIONS} connections +{growth_at_peak / MiB:.1f} MiB, history of the load "
        f"+{history_cost / MiB:.1f} MiB, after close "
        f"+{(after['current'] - baseline['current']) / MiB:.2f} MiB; RSS {after['rss'] / MiB:.0f} MiB"
    )
    assert after["current"] <= allowed, (baseline, at_peak, after)


@pytest.mark.parametrize("old_transport", ["aborted", "half-open"])
async def test_resume_race_delivers_each_message_once(old_transport: str) -> None:
    """A message fanned out between the resumed CONNECTED and the client's re-ATTACH must arrive once.

    ably-js sends its re-ATTACH (with the channelSerial it last saw) as soon as it reads CONNECTED; anything
    the service had already sent live would be repeated by a replay from that serial. `half-open` is a
    network that died without a FIN: the service still holds the old socket when the resume arrives.
    """
    with running_service(api_key=API_KEY) as service:
        url = realtime_url(service.host, service.port, key=API_KEY)
        publisher, subscriber = await WireClient.open(url), await WireClient.open(url)
        await publisher.connected()
        connected = await subscriber.connected()
        channel = "race:resume"
        assert (await subscriber.attach(channel))["action"] == Action.ATTACHED
        await publisher.publish(channel, {"name": "seq", "data": "0"})
        last_serial = (await subscriber.expect(Action.MESSAGE))["channelSerial"]

        if old_transport == "aborted":
            subscriber.websocket.transport.abort()
        resume_url = realtime_url(service.host, service.port, key=API_KEY, resume=connected["connectionKey"])
        resumed = await WireClient.open(resume_url)
        assert (await resumed.connected())["connectionId"] == connected["connectionId"]
        serial = await publisher.publish(channel, {"name": "seq", "data": "1"})
        await publisher.acked(serial)  # fanned out before the re-ATTACH below
        await resumed.send({"action": Action.ATTACH, "channel": channel, "channelSerial": last_serial})
        assert (await resumed.expect(Action.ATTACHED))["flags"] & Flag.RESUMED
        serial = await publisher.publish(channel, {"name": "seq", "data": "2"})
        await publisher.acked(serial)

        data: list[str] = []
        while len(data) < 3:
            try:
                message = await resumed.expect(Action.MESSAGE, seconds=1.0)
            except TimeoutError:
                break
            data += [m["data"] for m in message["messages"]]
        assert data == ["1", "2"], f"after resuming from the serial of message 0, got {data}"

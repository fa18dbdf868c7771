"""Fan-out benchmark: the local Ably service against a plain `websockets` broadcast server (the floor).

In one run, for 1, 100 and 1,000 subscribers on one channel and for both servers:
  latency     - publish-to-receive time of every delivery at a steady publish rate (p50, p99);
  throughput  - deliveries per second while one publisher sends a burst as fast as the server takes it;
  memory      - growth of the server's resident memory per idle connection (1,000 connected, attached).
Each server runs in its own process pinned to one core and the clients run here, pinned to the other,
using a minimal WebSocket client (bench/lean_ws.py) so the clients cost less than the servers they measure.

Usage: .venv/bin/python bench/realtime_fanout.py [--subscribers 1,100,1000] [--runs 3]
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

if not __package__:  # run as a script (python bench/realtime_fanout.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lean_ws import LeanWebSocket, open_lean

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
API_KEY = "benchApp.fanout:benchFanoutSecretNotReal_0123456789"
CHANNEL = "bench:fanout"
PAYLOAD_PAD = "x" * 80
IDLE_CONNECTIONS = 1000
KiB = 1024

# Steady-rate latency runs (messages, seconds between publishes) and burst sizes per subscriber count;
# rates are chosen so deliveries stay well under capacity and the figures are latency, not queueing.
LATENCY_PLAN = {1: (1000, 0.002), 100: (300, 0.01), 1000: (100, 0.05)}
BURST_DELIVERIES = 200_000
# The publisher sends far more than Ably lets one connection send by default (50 publishes and 2,000
# protocol messages a second): the service runs with raised limits, as an account with higher ones would;
# the rate checks still run on every publish.
RAISED = ["--limit", "connection_publish_rate=1e9", "--limit", "inbound_protocol_message_rate=1e9"]
BURST_MAX_MESSAGES = 20_000

TARGETS = {
    "throughput": 50_000,
    "p99_at_100_ms": 10.0,
    "idle_kib": 40.0,
}
# Delivered msgs/s as a share of the floor's, per subscriber count (the median run's ratio).
RATIO_TARGETS = {1: 0.8, 100: 0.9, 1000: 0.9}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def rss(self) -> int:
        return resident_bytes(self.process.pid)

    @property
    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(name: str, command: list[str], port: int, cpu: int | None) -> Server:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Server(name, process, port)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {command}") from None
            time.sleep(0.1)


@dataclass
class Subscriber:
    """Counts deliveries; in latency mode also keeps (arrival time, frame) to decode after the run."""

    deliveries: Callable[[bytes], int]
    count: int = 0
    last_arrival: float = 0.0
    keep: bool = False
    kept: list[tuple[float, bytes]] = field(default_factory=list)
    socket: LeanWebSocket | None = None
    control: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)

    def on_frame(self, payload: bytes) -> None:
        delivered = self.deliveries(payload)
        if delivered:
            now = time.perf_counter()
            self.count += delivered
            self.last_arrival = now
            if self.keep:
                self.kept.append((now, payload))
        else:
            self.control.put_nowait(payload)

    async def next_control(self) -> bytes:
        return await asyncio.wait_for(self.control.get(), 30)


class Target:
    """How to subscribe and publish on one server; the two implementations differ only here."""

    name: str
    server: Server

    async def subscriber(self) -> Subscriber:
        raise NotImplementedError

    async def publisher(self) -> Callable[[int], None]:
        raise NotImplementedError

    def sequence(self, payload: bytes) -> int:
        raise NotImplementedError

    async def publishes_done(self, count: int) -> None:
        """Wait until the server has taken `count` publishes (the Ably service ACKs them)."""


def _ably_messages(payload: bytes) -> int:
    """1 for a MESSAGE frame, told apart from control frames without decoding it (any JSON spacing)."""
    return 1 if b'"action":15' in payload or b'"action": 15' in payload else 0


def _acked(payload: bytes) -> int:
    """How many publishes an ACK frame acknowledges (0 for any other frame)."""
    message = json.loads(payload)
    return int(message.get("count", 1)) if message.get("action") == 1 else 0


async def _expect(subscriber: Subscriber, action: int) -> None:
    """The next control frame with this action; HEARTBEATs (sent to every connection) are skipped."""
    while True:
        message = json.loads(await subscriber.next_control())
        if message["action"] == action:
            return
        if message["action"] != 0:
            raise RuntimeError(f"expected action {action}, got {message}")


class AblyTarget(Target):
    def __init__(self, server: Server) -> None:
        self.name, self.server = "ably_local", server
        self.acks: Subscriber | None = None

    def _target(self, **params: str) -> str:
        return "/?" + urlencode({"key": API_KEY, "format": "json", "v": "6", "heartbeats": "true", **params})

    async def _attached(self, subscriber: Subscriber, **params: str) -> Subscriber:
        subscriber.socket = await open_lean(
            "127.0.0.1", self.server.port, self._target(**params), subscriber.on_frame
        )
        await _expect(subscriber, 4)  # CONNECTED
        subscriber.socket.send_text(json.dumps({"action": 10, "channel": CHANNEL}))
        await _expect(subscriber, 11)  # ATTACHED
        return subscriber

    async def subscriber(self) -> Subscriber:
        return await self._attached(Subscriber(_ably_messages))

    async def publisher(self) -> Callable[[int], None]:
        acks = self.acks = await self._attached(Subscriber(_acked), echo="false")
        serial = 0

        def publish(seq: int) -> None:
            nonlocal serial
            frame = {
                "action": 15,
                "channel": CHANNEL,
                "msgSerial": serial,
                "messages": [{"name": "tick", "data": f"{seq}:{time.perf_counter()}:{PAYLOAD_PAD}"}],
            }
            serial += 1
            assert acks.socket is not None
            acks.socket.send_text(json.dumps(frame, separators=(",", ":")))

        return publish

    def sequence(self, payload: bytes) -> int:
        return int(json.loads(payload)["messages"][0]["data"].split(":", 1)[0])

    async def publishes_done(self, count: int) -> None:
        assert self.acks is not None
        await wait_until(lambda: self.acks is not None and self.acks.count >= count, 60)


class PlainTarget(Target):
    def __init__(self, server: Server) -> None:
        self.name, self.server = "plain websockets", server

    async def subscriber(self) -> Subscriber:
        subscriber = Subscriber(lambda payload: 1)
        subscriber.socket = await open_lean("127.0.0.1", self.server.port, "/sub", subscriber.on_frame)
        return subscriber

    async def publisher(self) -> Callable[[int], None]:
        socket_ = await open_lean("127.0.0.1", self.server.port, "/pub", lambda payload: None)

        def publish(seq: int) -> None:
            socket_.send_text(json.dumps({"seq": seq, "data": f"{seq}:{time.perf_counter()}:{PAYLOAD_PAD}"}))

        return publish

    def sequence(self, payload: bytes) -> int:
        seq: int = json.loads(payload)["seq"]
        return seq


async def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


async def all_delivered(subscribers: list[Subscriber], count: int, seconds: float) -> bool:
    return await wait_until(lambda: all(s.count >= count for s in subscribers), seconds)


async def in_batches(
    factories: list[Callable[[], Awaitable[Subscriber]]], batch: int = 100
) -> list[Subscriber]:
    opened: list[Subscriber] = []
    for start in range(0, len(factories), batch):
        opened += await asyncio.gather(*(make() for make in factories[start : start + batch]))
    return opened


@dataclass
class Figures:
    p50_ms: dict[int, float] = field(default_factory=dict)
    p99_ms: dict[int, float] = field(default_factory=dict)
    throughput: dict[int, float] = field(default_factory=dict)
    lost: dict[int, int] = field(default_factory=dict)
    server_busy: dict[int, float] = field(default_factory=dict)
    client_busy: dict[int, float] = field(default_factory=dict)
    idle_kib: float = 0.0


async def measure(target: Target, counts: list[int]) -> Figures:
    figures = Figures()
    publish = await target.publisher()
    published = 0
    # Warm-up: code paths, caches and allocator arenas are hot before anything is measured.
    warm = await in_batches([target.subscriber for _ in range(10)])
    for seq in range(200):
        publish(seq)
    published += 200
    await target.publishes_done(published)
    await wait_until(lambda: all(s.count >= 200 for s in warm), 30)
    for subscriber in warm:
        assert subscriber.socket is not None
        subscriber.socket.abort()
    await asyncio.sleep(1)

    # Most subscribers first: the idle-memory figure is then taken before other phases have grown the heap
    # (whose freed memory a later phase would reuse without growing the resident size).
    for count in sorted(counts, reverse=True):
        rss_before = target.server.rss
        subscribers = await in_batches([target.subscriber for _ in range(count)])
        if count == IDLE_CONNECTIONS:
            await asyncio.sleep(1)
            figures.idle_kib = (target.server.rss - rss_before) / count / KiB

        messages, gap = LATENCY_PLAN.get(count, (300, 0.01))
        sent_at: dict[int, float] = {}
        for subscriber in subscribers:
            subscriber.keep, subscriber.count = True, 0
        for seq in range(messages):
            sent_at[seq] = time.perf_counter()
            publish(seq)
            await asyncio.sleep(gap)
        published += messages
        await all_delivered(subscribers, messages, 30)
        latencies = [
            (arrival - sent_at[target.sequence(payload)]) * 1000
            for s in subscribers
            for arrival, payload in s.kept
        ]
        figures.p50_ms[count] = statistics.median(latencies)
        figures.p99_ms[count] = percentile(latencies, 0.99)

        burst = min(BURST_MAX_MESSAGES, max(1, BURST_DELIVERIES // count))
        for subscriber in subscribers:
            subscriber.keep, subscriber.kept, subscriber.count = False, [], 0
        server_cpu, client_cpu = target.server.cpu_seconds, time.process_time()
        started = time.perf_counter()
        for seq in range(burst):
            publish(seq)
            if seq % 100 == 99:
                await asyncio.sleep(0)
        published += burst
        complete = await all_delivered(subscribers, burst, 120)
        finished = max(s.last_arrival for s in subscribers)
        delivered = sum(s.count for s in subscribers)
        figures.throughput[count] = delivered / (finished - started)
        figures.server_busy[count] = (target.server.cpu_seconds - server_cpu) / (finished - started)
        figures.client_busy[count] = (time.process_time() - client_cpu) / (time.perf_counter() - started)
        figures.lost[count] = 0 if complete else burst * count - delivered
        await target.publishes_done(published)

        for subscriber in subscribers:
            assert subscriber.socket is not None
            subscriber.socket.abort()
        await asyncio.sleep(1)
    return figures


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def median_figures(runs: list[Figures]) -> Figures:
    """Each figure's median over the runs (a run is one measurement of each server)."""
    counts = list(runs[0].throughput)

    def per_count(name: str) -> dict[int, float]:
        return {n: statistics.median(getattr(run, name)[n] for run in runs) for n in counts}

    return Figures(
        p50_ms=per_count("p50_ms"),
        p99_ms=per_count("p99_ms"),
        throughput=per_count("throughput"),
        lost={n: max(run.lost[n] for run in runs) for n in counts},
        server_busy=per_count("server_busy"),
        client_busy=per_count("client_busy"),
        idle_kib=statistics.median(run.idle_kib for run in runs),
    )


def ratio_text(ratios: list[float]) -> str:
    """The median ratio, and the spread over the runs when there were several."""
    median = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{median:.2f}x"
    return f"{median:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def report(ours_runs: list[Figures], floor_runs: list[Figures], counts: list[int]) -> str:
    ours, floor = median_figures(ours_runs), median_figures(floor_runs)
    pairs = list(zip(ours_runs, floor_runs, strict=True))
    rows = [
        f"| measure (median of {len(pairs)} runs) | ably_local | plain websockets (floor) | "
        "ably_local / floor (range) | target |",
        "|---|---:|---:|---:|---|",
    ]
    for count in counts:
        label = f"{count} subscriber{'s' if count > 1 else ''}"
        for name, pick in (("p50 latency", "p50_ms"), ("p99 latency", "p99_ms")):
            mine, theirs = getattr(ours, pick)[count], getattr(floor, pick)[count]
            ratios = [getattr(a, pick)[count] / getattr(b, pick)[count] for a, b in pairs]
            target = ""
            if name == "p99 latency" and count == 100:
                target = f"< {TARGETS['p99_at_100_ms']:.0f} ms: {verdict(mine < TARGETS['p99_at_100_ms'])}"
            rows.append(
                f"| {name}, {label} | {mine:.2f} ms | {theirs:.2f} ms | {ratio_text(ratios)} | {target} |"
            )
        mine, theirs = ours.throughput[count], floor.throughput[count]
        ratios = [a.throughput[count] / b.throughput[count] for a, b in pairs]
        target = ""
        if count in RATIO_TARGETS:
            wanted = RATIO_TARGETS[count]
            ok = statistics.median(ratios) >= wanted and (count == 1 or mine >= TARGETS["throughput"])
            target = f">= {wanted}x: {verdict(ok)}"
        lost = f" ({ours.lost[count]} lost)" if ours.lost[count] else ""
        figures = f"{mine:,.0f}{lost} | {theirs:,.0f} | {ratio_text(ratios)}"
        rows.append(f"| delivered msgs/s, {label} | {figures} | {target} |")
    if IDLE_CONNECTIONS in counts:
        rows.append(
            f"| memory per idle connection | {ours.idle_kib:.1f} KiB | {floor.idle_kib:.1f} KiB | "
            f"{ours.idle_kib / max(floor.idle_kib, 0.1):.2f}x | "
            f"< 40 KiB: {verdict(ours.idle_kib < TARGETS['idle_kib'])} |"
        )
    return "\n".join(rows)


async def run(counts: list[int], pin: bool, runs: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 4 * max(counts) + 100
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    cores = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cores[0], cores[-1]) if pin and len(cores) > 1 else (None, None)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})

    servers = [
        (
            AblyTarget,
            [sys.executable, "-m", "ably_local", "--host", "127.0.0.1", "--key", API_KEY, *RAISED, "--port"],
        ),
        (PlainTarget, [sys.executable, str(BENCH_DIR / "plain_broadcast.py")]),
    ]
    results: dict[str, list[Figures]] = {}
    for run_index in range(runs):
        # Alternate which server goes first, so neither always meets a warmer or colder machine.
        for make_target, command in servers if run_index % 2 == 0 else servers[::-1]:
            port = free_port()
            server = start_server(make_target.__name__, [*command, str(port)], port, server_cpu)
            try:
                target = make_target(server)
                results.setdefault(target.name, []).append(await measure(target, counts))
            finally:
                server.stop()

    print(f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}")
    print(f"server pinned to cpu {server_cpu}, clients to cpu {client_cpu}\n")
    print(report(results["ably_local"], results["plain websockets"], counts))
    print("\nDelivered msgs/s per run, ably_local / floor:")
    for count in counts:
        pairs = zip(results["ably_local"], results["plain websockets"], strict=True)
        per_run = ", ".join(
            f"{ours.throughput[count]:,.0f} / {floor.throughput[count]:,.0f}"
            f" = {ours.throughput[count] / floor.throughput[count]:.2f}x"
            for ours, floor in pairs
        )
        print(f"  {count} subscribers: {per_run}")
    print(
        "\nCPU busy during the bursts (median; 1.0 = a core saturated; a saturated client bounds the figure):"
    )
    for name, runs_of in results.items():
        figures = median_figures(runs_of)
        busy = ", ".join(
            f"{n} subs: server {figures.server_busy[n]:.2f} / clients {figures.client_busy[n]:.2f}"
            for n in counts
        )
        print(f"  {name}: {busy}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subscribers", default="1,100,1000", help="comma-separated subscriber counts")
    parser.add_argument("--no-pin", action="store_true", help="let the OS place server and clients")
    parser.add_argument("--runs", type=int, default=3, help="measure each server this many times")
    args = parser.parse_args()
    asyncio.run(run([int(n) for n in args.subscribers.split(",")], pin=not args.no_pin, runs=args.runs))


if __name__ == "__main__":
    main()

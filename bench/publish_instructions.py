"""Machine instructions and wall-clock time the local service spends per publish, with no sockets.

Wall-clock figures on a shared machine swing by tens of percent; an instruction count does not: the same
code and input give the same count whatever else runs. The sans-I/O service is driven in-process (no
sockets) with one publisher and one subscriber on a channel, JSON frames, acknowledgements drained every
100 publishes; the count for N publishes minus the count for none, divided by N. The wall-clock time of the
same drive (median of five, in this process) is printed too, to set against the fan-out floor's per-message
time in bench/realtime_fanout.py.

Usage: .venv/bin/python bench/publish_instructions.py [--publishes 2000]
"""

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 2000


def drive(publishes: int) -> None:
    """What valgrind runs: the service, its two clients, and `publishes` MESSAGE frames."""
    sys.path.insert(0, str(ROOT))
    from tests.realtime.core import Core

    core = Core()
    publisher, subscriber = core.connect(echo="false"), core.connect()
    for connection in (publisher, subscriber):
        core.attach(connection, "bench:x")
        connection.take_outbox()
    frames = [
        json.dumps(
            {
                "action": 15,
                "channel": "bench:x",
                "msgSerial": serial,
                "messages": [{"name": "tick", "data": f"{serial}:12345.678:" + "x" * 80}],
            },
            separators=(",", ":"),
        )
        for serial in range(FRAMES)
    ]
    for serial in range(publishes):
        core.service.receive(publisher, frames[serial % FRAMES])
        if serial % 100 == 99:
            publisher.take_outbox()
            subscriber.take_outbox()


def instructions(publishes: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--drive",
        str(publishes),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    match = re.search(r"Collected : (\d+)", output)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{output}")
    return int(match.group(1))


def microseconds_per_publish(publishes: int, runs: int = 5) -> float:
    def timed(count: int) -> float:
        started = time.perf_counter()
        drive(count)
        return time.perf_counter() - started

    return statistics.median((timed(publishes) - timed(0)) / publishes * 1e6 for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--publishes", type=int, default=FRAMES)
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive is not None:
        drive(args.drive)
        return
    wall = microseconds_per_publish(max(args.publishes, 20_000))
    print(f"local service: {wall:.1f} µs per publish (wall clock, in process, median of 5)")
    if shutil.which("valgrind") is None:
        print("publish instructions: valgrind is not installed (apt-get install valgrind); skipped")
        return
    per_publish = (instructions(args.publishes) - instructions(0)) / args.publishes
    counted = f"callgrind, {args.publishes:,} publishes"
    print(f"local service: {per_publish:,.0f} machine instructions per publish ({counted})")


if __name__ == "__main__":
    main()

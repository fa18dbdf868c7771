"""Machine instructions and wall-clock time the local service spends per publish, with no sockets.

Wall-clock figures on a shared machine swing by tens of percent; an instruction count does not: the same
code and input give the same count whatever else runs. The sans-I/O service is driven in-process (no
sockets) with one publisher and one subscriber on a channel, JSON frames, acknowledgements drained every
100 publishes; the count for N publishes minus the count for none, divided by N. The wall-clock time of the
same drive (median of five) is printed too, to set against the fan-out floor's per-message time in
bench/realtime_fanout.py. Both are measured for the core as installed (compiled by setup.py where a C
compiler is at hand) and, as the baseline in the same run, for its plain Python sources.

Usage: .venv/bin/python bench/publish_instructions.py [--publishes 2000]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "src" / "ably_local"
FRAMES = 2000


def drive(publishes: int) -> None:
    """What valgrind runs: the service, its two clients, and `publishes` MESSAGE frames."""
    sys.path.insert(0, str(ROOT))
    from tests.realtime.core import UNTHROTTLED, Core

    # One publisher sends far more than the 50 publishes a second Ably allows a connection (the clock
    # does not move): raised limits, so every publish takes the whole path, rate checks included.
    core = Core(limits=UNTHROTTLED)
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


def instructions(publishes: int, env: dict[str, str]) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--drive",
        str(publishes),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stderr
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


def measured(publishes: int, env: dict[str, str], count_instructions: bool) -> tuple[float, float | None]:
    """µs per publish (in a fresh process) and, with valgrind, machine instructions per publish."""
    command = [sys.executable, __file__, "--time", str(max(publishes, 20_000))]
    wall = float(subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout)
    if not count_instructions:
        return wall, None
    return wall, (instructions(publishes, env) - instructions(0, env)) / publishes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--publishes", type=int, default=FRAMES)
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--time", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive is not None:
        drive(args.drive)
        return
    if args.time is not None:
        print(microseconds_per_publish(args.time))
        return
    valgrind = shutil.which("valgrind") is not None
    compiled = any(CORE.glob("*.so"))
    with tempfile.TemporaryDirectory() as plain:
        # The same sources without their compiled modules, first on the path: the plain Python baseline.
        shutil.copytree(CORE, Path(plain, "ably_local"), ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        installed = "installed (compiled)" if compiled else "installed (plain Python: no compiled core)"
        builds = {installed: dict(os.environ), "plain Python sources": {**os.environ, "PYTHONPATH": plain}}
        figures = {name: measured(args.publishes, env, valgrind) for name, env in builds.items()}
    print(f"local service, per publish (in process; {args.publishes:,} publishes counted by callgrind):")
    for name, (wall, counted) in figures.items():
        count = f"{counted:,.0f} machine instructions" if counted is not None else "instructions not counted"
        print(f"  {name}: {wall:.1f} µs (wall clock, median of 5), {count}")
    (wall, counted), (plain_wall, plain_counted) = figures.values()
    ratio = f"plain Python / installed: {plain_wall / wall:.2f}x the time"
    if counted is not None and plain_counted is not None:
        ratio += f", {plain_counted / counted:.2f}x the instructions"
    print(f"  {ratio}")
    if not valgrind:
        print("  (valgrind is not installed: apt-get install valgrind to count instructions)")


if __name__ == "__main__":
    main()

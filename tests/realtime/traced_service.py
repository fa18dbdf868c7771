"""Run the local service in a child process with tracemalloc on, so a test can read its memory honestly.

The parent reads one JSON line `{"host", "port"}` on stdout when the service is up, then writes `probe`
lines on stdin; each is answered with `{"current": bytes, "peak": bytes, "rss": bytes}` measured after a
full garbage collection. EOF on stdin stops the service. Run: python -m tests.realtime.traced_service KEY
"""

import asyncio
import gc
import json
import sys
import tracemalloc
from pathlib import Path

from ably_local import LocalAbly
from ably_local.limits import Limits

# The load test's publishers each send a channel's share at several hundred publishes a second: more than
# Ably lets one connection publish by default (50 a second), as an account with raised limits could.
LOAD_LIMITS = Limits(connection_publish_rate=100_000.0)


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def probe() -> dict[str, int]:
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    return {"current": current, "peak": peak, "rss": resident_bytes()}


async def serve(api_key: str) -> None:
    loop = asyncio.get_running_loop()
    async with LocalAbly(api_key, limits=LOAD_LIMITS) as service:
        print(json.dumps({"host": service.host, "port": service.port}), flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "probe":
                print(json.dumps(probe()), flush=True)


if __name__ == "__main__":
    tracemalloc.start()
    asyncio.run(serve(sys.argv[1]))

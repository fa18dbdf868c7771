"""The local service with small limits, in a process of its own so that a test can read its memory.

Run: python -m tests.realtime.hostile_service HOST PORT KEY  (prints `ready` once it listens)
"""

import asyncio
import sys

from ably_local.limits import KiB, Limits, MiB
from ably_local.server import LocalAbly

# Small enough that each attack reaches its limit in a second or two.
HOSTILE_LIMITS = Limits(
    history_events_per_channel=1_000,
    history_bytes_per_channel=1 * MiB,
    history_bytes_total=4 * MiB,
    presence_members_per_channel=100,
    presence_bytes_per_channel=256 * KiB,
    presence_bytes_total=1 * MiB,
    connections_per_app=200,
    channels_per_connection=100,
    outbound_buffer_bytes=512 * KiB,
    tokens_per_app=1_000,
    # The floods below must reach the history, presence and outbound budgets from a connection or two; the
    # publish rate limits have attacks of their own (a JWT's rate), and Ably's protocol message rate stays.
    connection_publish_rate=1_000_000.0,
)


async def serve(host: str, port: int, key: str) -> None:
    async with LocalAbly(key, host=host, port=port, limits=HOSTILE_LIMITS):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2]), sys.argv[3]))

"""The dev server with the local service under small limits, in a process of its own so that a test can read
its memory: the page, the token function, the REST API, sandbox provisioning and the realtime WebSocket on
one origin, as `make dev` serves them.

Run: python -m tests.realtime.hostile_service HOST PORT KEY  (prints `ready` once it listens; all other
output goes to stderr)
"""

import asyncio
import os
import socket
import sys

import uvicorn

from ably_local.limits import KiB, Limits, MiB
from ably_local.server import LocalAbly
from devserver.app import DevConfig, create_app
from devserver.serving import server_config
from tests.client.devserver_process import ROOT

# Small enough that each attack reaches its limit in a second or two.
HOSTILE_LIMITS = Limits(
    history_events_per_channel=1_000,
    history_bytes_per_channel=1 * MiB,
    history_bytes_total=4 * MiB,
    presence_members_per_channel=100,
    presence_bytes_per_channel=256 * KiB,
    presence_bytes_total=1 * MiB,
    connections_per_app=200,
    connections_total=300,
    channels_per_connection=100,
    channels_total=2_000,
    outbound_buffer_bytes=512 * KiB,
    outbound_bytes_total=2 * MiB,
    tokens_per_app=1_000,
    token_bytes_per_app=1 * MiB,
    token_bytes_total=2 * MiB,
    sandbox_apps=20,
    sandbox_bytes_total=2 * MiB,
    stats_bytes_total=1 * MiB,
    idempotency_bytes_total=1 * MiB,
    revocation_bytes_total=1 * MiB,
    # The floods below must reach the history, presence and outbound budgets from a connection or two; the
    # publish rate limits have attacks of their own (a JWT's rate), and Ably's protocol message rate stays.
    connection_publish_rate=1_000_000.0,
)
# Where messages may be updated, appended to and annotated.
MUTABLE_NAMESPACES = frozenset({"mutable"})


async def serve(host: str, port: int, key: str) -> None:
    listener = socket.create_server((host, port))
    realtime = LocalAbly(
        key, host=host, port=port, sandbox=True, limits=HOSTILE_LIMITS, mutable_namespaces=MUTABLE_NAMESPACES
    )
    os.environ["ABLY_API_KEY"] = realtime.api_key  # what the token function signs the page's tokens with
    app = create_app(DevConfig(ROOT / "dist", ROOT / "functions", realtime, host))
    server = uvicorn.Server(server_config(app, realtime))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    # Nobody reads stdout after `ready`: what the token function logs there goes to stderr (the test's log
    # file), so that a full pipe can never stop the service.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    await serving


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2]), sys.argv[3]))

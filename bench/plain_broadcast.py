"""The floor for the fan-out benchmark: a plain `websockets` broadcast server with no protocol at all.

Connections to /pub publish: every frame they send is forwarded as-is to every connection on /sub.
Run: python bench/plain_broadcast.py PORT (prints `ready` once listening).
"""

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve

subscribers: set[ServerConnection] = set()


async def handle(websocket: ServerConnection) -> None:
    path = websocket.request.path if websocket.request is not None else ""
    if path.startswith("/sub"):
        subscribers.add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            subscribers.discard(websocket)
        return
    async for frame in websocket:
        broadcast(subscribers, frame)


async def main(port: int) -> None:
    async with serve(handle, "127.0.0.1", port, compression=None, max_size=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

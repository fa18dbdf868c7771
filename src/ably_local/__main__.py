"""`python -m ably_local`: run the offline Ably service for other apps' development and CI."""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys

from ably_local import protocol
from ably_local.auth import ApiKey
from ably_local.limits import Limits, limits_with
from ably_local.listening import CannotListen, listen
from ably_local.server import LocalAbly, tune_gc_for_serving


def main() -> None:
    parser = argparse.ArgumentParser(prog="ably-local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ABLY_LOCAL_PORT", "8765")))
    parser.add_argument(
        "--key", default=os.environ.get("ABLY_API_KEY"), help="API key to accept (default: generate one)"
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="also provision apps through POST /apps, as Ably's test sandbox does (ABLY_LOCAL_SANDBOX_URL)",
    )
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one of the limits (Ably's defaults), e.g. connection_publish_rate=500; repeatable",
    )
    args = parser.parse_args()
    try:
        limits = limits_with(args.limit)
    except ValueError as error:
        sys.exit(f"--limit: {error}")
    try:
        key = ApiKey.parse(args.key) if args.key else None
        # Checked here so a busy port is one line, not uvicorn's error and a traceback.
        listen(args.host, args.port, other_port_hint=f"ably-local --port {args.port + 1}").close()
    except ValueError as error:
        sys.exit(f"--key / ABLY_API_KEY: {error} (or leave both unset and a key is generated).")
    except CannotListen as error:
        sys.exit(str(error))
    tune_gc_for_serving()
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C before the service is up
        asyncio.run(serve(args.host, args.port, key, args.sandbox, limits))


async def serve(host: str, port: int, key: ApiKey | None, sandbox: bool, limits: Limits) -> None:
    async with LocalAbly(
        key.value if key else None, host=host, port=port, sandbox=sandbox, limits=limits
    ) as service:
        print(f"Local Ably service on {service.http_url} (offline stand-in; production uses real Ably)")
        if key is None:  # a throwaway local key: the other app needs all of it
            print(f"Key: {service.api_key} (generated; pass --key or set ABLY_API_KEY to choose one)")
        else:
            print(f"Key name: {service.key_name} (the key you passed)")
        print(f"ably-js client options: {json.dumps(service.client_options())}")
        if sandbox:
            print(f"Sandbox: POST {service.http_url}/apps provisions an app (ABLY_LOCAL_SANDBOX_URL)")
        print(f"Core: {core_build()}")
        print("Press Ctrl-C to stop.", flush=True)
        await stop_signal()


async def stop_signal() -> None:
    """Ctrl-C, or `kill` (SIGTERM) from a CI script that started the service in the background, where
    Ctrl-C is ignored; either way the service then closes its connections and exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def core_build() -> str:
    """Which build of the core runs: an install compiles it where it can, and pip hides why it could not."""
    compiled = not (protocol.__file__ or "").endswith(".py")
    return "compiled (mypyc)" if compiled else "plain Python, not compiled (`pip install -v` shows why)"


if __name__ == "__main__":
    main()

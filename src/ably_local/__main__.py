"""`python -m ably_local`: run the offline Ably service for other apps' development and CI."""

import argparse
import asyncio
import json
import os

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
    args = parser.parse_args()
    tune_gc_for_serving()
    asyncio.run(serve(args.host, args.port, args.key, args.sandbox))


async def serve(host: str, port: int, key: str | None, sandbox: bool) -> None:
    async with LocalAbly(key, host=host, port=port, sandbox=sandbox) as service:
        print(f"Local Ably service on {service.http_url} (offline stand-in; production uses real Ably)")
        note = "" if key else " (generated; pass --key or set ABLY_API_KEY to use a key your app knows)"
        print(f"Key name: {service.key_name}{note}")
        print(f"ably-js client options: {json.dumps(service.client_options())}", flush=True)
        if sandbox:
            print(
                f"Sandbox: POST {service.http_url}/apps provisions an app (ABLY_LOCAL_SANDBOX_URL)",
                flush=True,
            )
        await asyncio.Event().wait()


if __name__ == "__main__":
    main()

"""`python -m devserver`: the page, the Python functions and the local realtime service on one origin.

Like `netlify dev` for this project's Python functions. With no ABLY_API_KEY (environment or .env) it runs
offline against the local realtime service; with a key, the page talks to the real Ably.
"""

import argparse
import contextlib
import logging
import os
import socket
from pathlib import Path

import uvicorn
from dotenv import load_dotenv

from ably_local import LocalAbly
from ably_local.server import tune_gc_for_serving
from devserver.app import DevConfig, create_app

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 8888  # netlify dev's default


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    parser.add_argument("--site", type=Path, default=ROOT / "dist")
    parser.add_argument("--functions", type=Path, default=ROOT / "functions")
    parser.add_argument(
        "--env-file", type=Path, default=ROOT / ".env", help="loaded without overriding the environment"
    )
    parser.add_argument(
        "--local", action="store_true", help="use the local realtime service even when ABLY_API_KEY is set"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    load_dotenv(args.env_file, override=False)
    real_key = os.environ.get("ABLY_API_KEY", "").strip()
    realtime = None
    if args.local or not real_key:
        realtime = LocalAbly(real_key or None, host=args.host, port=args.port)
        os.environ["ABLY_API_KEY"] = realtime.api_key  # what the token function signs with
    app = create_app(DevConfig(args.site.resolve(), args.functions.resolve(), realtime))

    listener = socket.create_server((args.host, args.port))
    port = listener.getsockname()[1]
    if realtime is not None:
        realtime.port = port
    mode = (
        f"local realtime service (offline, key {realtime.key_name})"
        if realtime is not None
        else "real Ably (ABLY_API_KEY is set)"
    )
    print(f"Dev server on http://{args.host}:{port}  realtime: {mode}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    tune_gc_for_serving()
    config = uvicorn.Config(app, ws=realtime.websocket_protocol if realtime else "none", log_level="warning")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before uvicorn took over the signal
        uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()

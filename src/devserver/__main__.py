"""`python -m devserver`: the page, the Python functions and the local realtime service on one origin.

Like `netlify dev` for this project's Python functions. With no ABLY_API_KEY (environment or .env) it runs
offline against the local realtime service; with a key, the page talks to the real Ably.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path

import uvicorn
from dotenv import load_dotenv

from ably_local import REST_PATH_PREFIXES, LocalAbly
from ably_local.listening import CannotListen, listen
from ably_local.server import tune_gc_for_serving
from devserver.ably_key import AblyRestHost, MalformedKey, check_key_form, check_key_with_ably
from devserver.app import FUNCTIONS_PREFIX, PAGE_PATHS, DevConfig, create_app
from devserver.function_config import UnreadableRateLimit, declared_rate_limits
from devserver.rate_limit import RateLimit
from devserver.request_log import RequestLog, RoutedStdout
from devserver.serving import server_config

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 8888  # netlify dev's default
log = logging.getLogger("devserver")


def parse_args() -> argparse.Namespace:
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
    parser.add_argument(
        "--json-logs",
        action="store_true",
        help="print the functions' JSON log lines as Netlify and AWS get them, not one line per request",
    )
    # Where the start-up key check asks (real-Ably mode): Ably itself; tests point it at a local service.
    parser.add_argument(
        "--ably-rest-url", type=AblyRestHost.from_url, default=AblyRestHost(), help=argparse.SUPPRESS
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the key check says what matters in one line
    logging.getLogger("websockets").setLevel(logging.WARNING)  # "connection open" for every socket
    if not args.json_logs:
        sys.stdout = RoutedStdout(sys.stdout)  # before any function is imported: see request_log
    try:
        real_key, rate_limits, listener = prepare(args)
    except (MalformedKey, UnreadableRateLimit, CannotListen) as error:
        sys.exit(str(error))  # one line on stderr, exit status 1, no traceback
    run(args, real_key, rate_limits, listener)


def prepare(args: argparse.Namespace) -> tuple[str, dict[str, RateLimit], socket.socket]:
    """Everything that can fail for a reason the user fixes, checked before anything claims to be serving."""
    source = "set in the environment" if "ABLY_API_KEY" in os.environ else f"from {_shown(args.env_file)}"
    load_dotenv(args.env_file, override=False)
    real_key = os.environ.get("ABLY_API_KEY", "").strip()
    if real_key:
        check_key_form(real_key, source)
    rate_limits = declared_rate_limits(args.functions.resolve())
    return real_key, rate_limits, listen(args.host, args.port, other_port_hint="PORT=9000 make dev")


def run(
    args: argparse.Namespace, real_key: str, rate_limits: dict[str, RateLimit], listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    realtime = None
    if args.local or not real_key:
        realtime = LocalAbly(real_key or None, host=args.host, port=port)
        os.environ["ABLY_API_KEY"] = realtime.api_key  # what the token function signs with
    config = DevConfig(args.site.resolve(), args.functions.resolve(), realtime, args.host, rate_limits)
    app = create_app(config)
    if isinstance(sys.stdout, RoutedStdout):
        app = RequestLog(
            app,
            sys.stdout.terminal,
            functions_prefix=FUNCTIONS_PREFIX,
            listed_prefixes=REST_PATH_PREFIXES if realtime is not None else (),
            listed_paths=PAGE_PATHS,
        )
    mode = (
        f"local realtime service (offline, key {realtime.key_name})"
        if realtime is not None
        else "real Ably (ABLY_API_KEY is set)"
    )
    print(f"Dev server on http://{args.host}:{port}  realtime: {mode}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    tune_gc_for_serving()
    key_check = None if realtime is not None else report_key_check(real_key, args.ably_rest_url)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn stops, then re-raises the signal
        asyncio.run(serve(uvicorn.Server(server_config(app, realtime)), listener, key_check))


async def serve(
    server: uvicorn.Server, listener: socket.socket, key_check: Coroutine[object, object, None] | None
) -> None:
    checking = asyncio.create_task(key_check, name="ably key check") if key_check is not None else None
    try:
        await server.serve(sockets=[listener])
    finally:
        if checking is not None:
            checking.cancel()


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


async def report_key_check(api_key: str, rest: AblyRestHost) -> None:
    accepted, line = await check_key_with_ably(api_key, rest)
    log.log(logging.INFO if accepted else logging.WARNING, line)


if __name__ == "__main__":
    main()

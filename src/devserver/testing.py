"""Run the dev server in a background thread on an ephemeral port, for tests that need no separate process.

The functions read ABLY_API_KEY from the process environment, as on Netlify, so while the server runs the
local service's generated key is set there and the previous value is restored afterwards.
"""

import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from ably_local import LocalAbly
from devserver.app import DevConfig, create_app
from devserver.function_config import declared_rate_limits
from devserver.rate_limit import RateLimit
from devserver.serving import server_config

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 10


@dataclass(frozen=True)
class RunningDevServer:
    url: str
    realtime: LocalAbly


class DevServerDidNotStart(RuntimeError):
    pass


@contextmanager
def running_devserver(
    site_dir: Path = ROOT / "dist",
    functions_dir: Path = ROOT / "functions",
    host: str = "127.0.0.1",
    rate_limits: Mapping[str, RateLimit] | None = None,
    **service_config: Any,
) -> Iterator[RunningDevServer]:
    """The functions' declared rate limits apply, as under `make dev`, unless `rate_limits` replaces them;
    `service_config`: ServiceConfig fields for the local service, e.g. `limits=Limits(...)`."""
    limits = declared_rate_limits(functions_dir) if rate_limits is None else rate_limits
    listener = socket.create_server((host, 0))
    port = listener.getsockname()[1]
    realtime = LocalAbly(None, host=host, port=port, **service_config)
    previous_key = os.environ.get("ABLY_API_KEY")
    os.environ["ABLY_API_KEY"] = realtime.api_key
    app = create_app(DevConfig(site_dir.resolve(), functions_dir.resolve(), realtime, host, limits))
    server = uvicorn.Server(server_config(app, realtime))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="devserver", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise DevServerDidNotStart(f"dev server on port {port} did not start")
            time.sleep(0.01)
        yield RunningDevServer(f"http://{host}:{port}", realtime)
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        listener.close()
        if previous_key is None:
            os.environ.pop("ABLY_API_KEY", None)
        else:
            os.environ["ABLY_API_KEY"] = previous_key

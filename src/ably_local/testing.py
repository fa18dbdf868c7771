"""Run the service in a background thread, for tests that are not async (Playwright, subprocess SDKs)."""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ably_local.server import LocalAbly

START_TIMEOUT_S = 10


@contextmanager
def running_service(**options: Any) -> Iterator[LocalAbly]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ably-local", daemon=True)
    thread.start()
    service = LocalAbly(**options)
    try:
        asyncio.run_coroutine_threadsafe(service.start(), loop).result(START_TIMEOUT_S)
        yield service
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT_S)
        loop.close()

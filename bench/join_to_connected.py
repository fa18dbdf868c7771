"""Join to Connected in Chromium, offline: the token function in JWT mode against TokenRequest mode.

Two dev servers run side by side on the local service, one with ABLY_TOKEN_FORMAT=token-request and one
with ABLY_TOKEN_FORMAT=jwt, and visits alternate between them. Each visit is a new browser context that
loads the page, types a name (the page warms the function up meanwhile, as for a visitor) and presses
Enter; the page's own clock times Join to the header turning Connected. The browser's network events,
from Join until the WebSocket's CONNECTED frame, give the round trips each mode needs: HTTP requests (the
token function; with a TokenRequest, ably-js's exchange of it at requestToken) and the WebSocket's opening
handshake (plus any frame the page sends before CONNECTED). The first visit to each server is not counted:
it imports the function.

Usage: .venv/bin/python bench/join_to_connected.py [--runs 15]
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Request, Response, WebSocket, sync_playwright

if not __package__:  # run as a script (python bench/join_to_connected.py): make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.client.browser import CHROMIUM, CHROMIUM_FLAGS

ROOT = Path(__file__).resolve().parents[1]
MODES = {"TokenRequest": "token-request", "JWT": "jwt"}
CONTENT_TYPES = {"token-request": "application/json", "jwt": "application/jwt"}
CONNECTED = 4
TYPING_DELAY_MS = 60
TIMEOUT_MS = 15_000
# The page's own clock: Join (the form's submit) to the status turning "connected".
MEASURE_JOIN = """() => {
  const status = document.getElementById('status');
  document.getElementById('join').addEventListener('submit', () => {
    window.__joinAt = performance.now();
  }, { capture: true });
  new MutationObserver(() => {
    if (status.dataset.state === 'connected' && window.__connectedAt === undefined) {
      window.__connectedAt = performance.now();
    }
  }).observe(status, { attributes: true });
}"""


@dataclass
class Visit:
    join_to_connected_ms: float
    http: list[str] = field(default_factory=list)  # "GET /path", each request from Join to CONNECTED
    websocket: list[str] = field(default_factory=list)  # "handshake", then "sent ..." for frames sent
    token_type: str = ""  # the function's Content-Type


@contextmanager
def dev_server(token_format: str) -> Iterator[str]:
    """`python -m devserver` offline on a free port, its function in `token_format`; yields its URL."""
    with tempfile.NamedTemporaryFile("w", suffix=".env") as env_file:
        env_file.write(f"ABLY_TOKEN_FORMAT={token_format}\n")
        env_file.flush()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ABLY_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "devserver", "--local", "--port", "0", "--env-file", env_file.name],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = re.search(r"http://[\d.]+:\d+", banner)
        try:
            if url is None:
                raise RuntimeError(f"the dev server did not start: {banner}{process.stdout.read()}")
            yield url.group(0)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(20)


def visit(browser: Browser, url: str) -> Visit:
    context = browser.new_context()
    page = context.new_page()
    seen = Visit(0.0)
    joined = connected = False

    def on_request(request: Request) -> None:
        if joined and not connected:
            path = re.sub(r"^/keys/[^/]+/", "/keys/{keyName}/", request.url.split("?")[0].removeprefix(url))
            seen.http.append(f"{request.method} {path}")

    def on_response(response: Response) -> None:
        if "ably-token-request?clientId" in response.url:
            seen.token_type = response.headers.get("content-type", "")

    def on_websocket(socket: WebSocket) -> None:
        seen.websocket.append("handshake")

        def received(payload: str | bytes) -> None:
            nonlocal connected
            if isinstance(payload, str) and json.loads(payload).get("action") == CONNECTED:
                connected = True

        socket.on("framereceived", received)
        socket.on("framesent", lambda payload: None if connected else seen.websocket.append("sent frame"))

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("websocket", on_websocket)
    page.goto(url)
    page.evaluate(MEASURE_JOIN)
    page.keyboard.type("visitor", delay=TYPING_DELAY_MS)  # the name field has focus on arrival
    page.wait_for_load_state("networkidle")  # the warm-up answered, as for a visitor who typed a name
    joined = True
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__connectedAt !== undefined", timeout=TIMEOUT_MS)
    seen.join_to_connected_ms = page.evaluate("window.__connectedAt - window.__joinAt")
    context.close()
    return seen


def check_mode(page_visit: Visit, token_format: str) -> None:
    expected = CONTENT_TYPES[token_format]
    if not page_visit.token_type.startswith(expected):
        answered = page_visit.token_type or "nothing"
        raise SystemExit(
            f"the function answered {answered} with ABLY_TOKEN_FORMAT={token_format}, not {expected}: "
            f"this checkout's token function has no {token_format} mode"
        )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="counted visits per mode")
    args = parser.parse_args()
    visits: dict[str, list[Visit]] = {label: [] for label in MODES}
    with ExitStack() as stack:
        urls = {label: stack.enter_context(dev_server(fmt)) for label, fmt in MODES.items()}
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        for label, token_format in MODES.items():  # each server's first visit imports the function
            check_mode(visit(browser, urls[label]), token_format)
        for _ in range(args.runs):
            for label in MODES:  # alternating, so that the machine's ups and downs fall on both
                visits[label].append(visit(browser, urls[label]))
        browser.close()

    print(
        f"Join to Connected in Chromium {browser.version}, offline (dev server + local service), "
        f"{args.runs} visits per mode, alternating"
    )
    print(f"{'mode':<14}{'median':>10}{'p10':>9}{'p90':>9}   round trips from Join to CONNECTED")
    medians = {}
    for label, runs in visits.items():
        times = [run.join_to_connected_ms for run in runs]
        medians[label] = statistics.median(times)
        shapes = {(tuple(run.http), tuple(run.websocket)) for run in runs}
        trips = "; ".join(
            f"{len(http)} HTTP ({', '.join(http)}) + {len(ws)} WebSocket ({', '.join(ws)})"
            f" = {len(http) + len(ws)}"
            for http, ws in sorted(shapes)
        )
        print(
            f"{label:<14}{medians[label]:>8.0f} ms{percentile(times, 0.1):>6.0f} ms"
            f"{percentile(times, 0.9):>6.0f} ms   {trips}"
        )
    print(f"JWT / TokenRequest, median Join to Connected: {medians['JWT'] / medians['TokenRequest']:.2f}x")


if __name__ == "__main__":
    main()

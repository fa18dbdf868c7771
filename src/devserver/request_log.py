"""The dev server's terminal: one short line per request, readable, instead of the functions' JSON logs.

On Netlify and AWS a function's log lines are JSON, read by machines; in a terminal that is noise, and JSON
escapes every name that is not ASCII. So here each request that matters (a function call, a call to the
local realtime service's REST API, the page itself, anything answered 400 or more) prints one line:

    14:03:07 GET ably-token-request 200 2.1 ms issued for 🦄 Ada

A function's output is kept apart per request (stdout is routed by a context variable, which
asyncio.to_thread carries into the worker thread); its JSON log lines are folded into that line (their
`outcome`, `client_id` and `error`), and anything else it printed follows the line unchanged. With
`--json-logs` none of this is installed and the functions' own JSON lines reach the terminal as in
production.
"""

import io
import json
import re
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devserver.limits import MAX_FUNCTION_OUTPUT_CHARS

# The request whose function output is being collected, in the task serving it and the threads it starts.
_collecting: ContextVar["FunctionOutput | None"] = ContextVar("devserver_function_output", default=None)
# Characters that would run a terminal's commands or reorder the rest of the line: controls, bidi marks.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_SUMMARY_CHARS = 300


class FunctionOutput:
    """What a function wrote to stdout while serving one request, up to a bound; anything past the bound,
    or written after the request was answered (a 504's function still running), goes to the terminal."""

    def __init__(self, terminal: TextIO, max_chars: int = MAX_FUNCTION_OUTPUT_CHARS) -> None:
        self._terminal = terminal
        self._room = max_chars
        self._parts: list[str] = []
        self._lock = threading.Lock()
        self._closed = False

    def write(self, text: str) -> None:
        with self._lock:
            if not self._closed and len(text) <= self._room:
                self._parts.append(text)
                self._room -= len(text)
                return
            self._closed = True  # in order: nothing later is held back once one write went through
        self._terminal.write(text)

    def close(self) -> str:
        with self._lock:
            self._closed = True
            return "".join(self._parts)


class RoutedStdout(io.TextIOBase):
    """sys.stdout for the dev server: a function's writes go to its request, everything else through.

    Installed before any function is imported, so a logger that keeps a reference to sys.stdout (as
    Powertools' does) writes here too.
    """

    def __init__(self, terminal: TextIO) -> None:
        super().__init__()
        self.terminal = terminal

    def write(self, text: str) -> int:
        output = _collecting.get()
        if output is None:
            return self.terminal.write(text)
        output.write(text)
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()

    def isatty(self) -> bool:
        return self.terminal.isatty()

    def fileno(self) -> int:
        return self.terminal.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.terminal.encoding


def printable(text: str) -> str:
    """`text` with terminal controls and bidi marks shown as escapes; names stay as they are typed."""
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def summary(output: str) -> tuple[str, list[str]]:
    """What a function's JSON log lines say about the request, and the rest of its output, line by line."""
    said: dict[str, Any] = {}
    rest = []
    for line in output.splitlines():
        record = _json_object(line)
        if record is None:
            rest.append(line)
            continue
        said |= {key: value for key, value in record.items() if value is not None}
        if "exception" in record:  # an unexpected error's traceback, already scrubbed of the key
            rest.extend(str(record["exception"]).splitlines())
    words = [str(said["outcome"])] if "outcome" in said else []
    if "client_id" in said:
        words.append(f"for {said['client_id']}")
    text = " ".join(words)
    if "error" in said:
        text = f"{text}: {said['error']}" if text else str(said["error"])
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 1] + "…"
    return printable(text), [printable(line) for line in rest]


def _json_object(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def request_line(
    method: str, target: str, status: int, seconds: float, said: str, at: float | None = None
) -> str:
    clock = time.strftime("%H:%M:%S", time.localtime(at))
    line = f"{clock} {method} {printable(target)} {status} {seconds * 1000:.1f} ms"
    return f"{line} {said}" if said else line


class RequestLog:
    """ASGI middleware printing one line per request that matters (see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        terminal: TextIO,
        *,
        functions_prefix: str,
        listed_prefixes: Iterable[str] = (),
        listed_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.terminal = terminal
        self.functions_prefix = functions_prefix.rstrip("/") + "/"
        self.listed_prefixes = tuple(listed_prefixes)
        self.listed_paths = frozenset(listed_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what uvicorn answers when the app raises before starting a response
        output = FunctionOutput(self.terminal)
        collecting = _collecting.set(output)

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            _collecting.reset(collecting)
            self._report(scope, status, time.perf_counter() - started, output.close())

    def _report(self, scope: Scope, status: int, seconds: float, output: str) -> None:
        path: str = scope["path"]
        is_function = path.startswith(self.functions_prefix)
        listed = is_function or path in self.listed_paths or path.startswith(self.listed_prefixes)
        if not (listed or status >= 400 or output):
            return
        target = path[len(self.functions_prefix) :] if is_function else path
        said, rest = summary(output)
        lines = [request_line(scope["method"], target, status, seconds, said), *rest]
        self.terminal.write("".join(f"{line}\n" for line in lines))
        self.terminal.flush()

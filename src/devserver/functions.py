"""Python functions under functions/<name>/handler.py, called the way Netlify calls Lambda-style functions.

Each call gets a Netlify-shaped event and a Lambda-like context, runs in a worker thread so a slow function
never stalls the WebSockets, and sees the current code: a changed source file reloads the function.
"""

import asyncio
import base64
import importlib.util
import logging
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from devserver.errors import error_response
from devserver.limits import FUNCTION_TIMEOUT_S

log = logging.getLogger("devserver.functions")

SEE_TERMINAL = "the traceback is in the dev server's terminal."
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


class FunctionNotFound(LookupError):
    pass


@dataclass
class LoadedFunction:
    name: str
    directory: Path
    module: ModuleType
    mtime: float
    # The modules under the function's directory that loading it imported: a reload forgets these, and only
    # these, so a process that imported the function's package itself (a test) keeps its own copy intact.
    imported: frozenset[str] = frozenset()


@dataclass
class FunctionRegistry:
    root: Path
    _loaded: dict[str, LoadedFunction] = field(default_factory=dict)
    # Loads run in worker threads; one at a time, so a function is never imported twice at once.
    _loading: threading.Lock = field(default_factory=threading.Lock)

    def names(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/handler.py"))

    def load(self, name: str) -> LoadedFunction:
        """The function's module, reloaded when any of its Python files changed since it was loaded."""
        with self._loading:
            return self._load(name)

    def _load(self, name: str) -> LoadedFunction:
        directory = self.root / name
        if "/" in name or name.startswith(".") or not (directory / "handler.py").is_file():
            raise FunctionNotFound(name)
        mtime = _newest_source(directory)
        loaded = self._loaded.get(name)
        if loaded is not None and loaded.mtime >= mtime:
            return loaded
        if loaded is not None:
            log.warning("reloading function %s (source changed)", name)
            for module_name in loaded.imported:
                sys.modules.pop(module_name, None)
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
        spec = importlib.util.spec_from_file_location(
            f"netlify_function_{name.replace('-', '_')}", directory / "handler.py"
        )
        if spec is None or spec.loader is None:
            raise FunctionNotFound(name)
        module = importlib.util.module_from_spec(spec)
        before = set(sys.modules)
        spec.loader.exec_module(module)
        imported = frozenset(set(sys.modules) - before) & _modules_under(directory)
        loaded = self._loaded[name] = LoadedFunction(name, directory, module, mtime, imported)
        return loaded

    async def respond(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            # In a worker thread: importing a cold function must not stall the WebSockets on this loop.
            function = await asyncio.to_thread(self.load, name)
        except FunctionNotFound:
            return error_response(404, f"No function named {name!r} under {self.root.name}/.")
        except Exception:
            log.exception("function %s failed to load", name)
            return error_response(500, f"Function {name!r} failed to load; {SEE_TERMINAL}")
        event = await netlify_event(request)
        context = lambda_context(name)
        try:
            result = await asyncio.wait_for(
                asyncio.to_thread(function.module.handler, event, context), FUNCTION_TIMEOUT_S
            )
            return to_response(result)
        except TimeoutError:
            return error_response(504, f"Function {name!r} did not answer within {FUNCTION_TIMEOUT_S} s.")
        except Exception:
            log.exception("function %s raised", name)
            return error_response(500, f"Function {name!r} raised an exception; {SEE_TERMINAL}")


async def netlify_event(request: Request) -> dict[str, Any]:
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    textual = not body or content_type.startswith(_TEXT_TYPES)
    if textual:
        try:
            text, is_base64 = body.decode(), False
        except UnicodeDecodeError:
            textual = False
    if not textual:
        text, is_base64 = base64.b64encode(body).decode(), True
    multi_headers: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        multi_headers.setdefault(key.lower(), []).append(value)
    multi_query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        multi_query.setdefault(key, []).append(value)
    return {
        "path": request.url.path,
        "httpMethod": request.method,
        "headers": {key: ", ".join(values) for key, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {key: ", ".join(values) for key, values in multi_query.items()},
        "multiValueQueryStringParameters": multi_query,
        "body": text if body else None,
        "isBase64Encoded": is_base64 if body else False,
        "rawUrl": str(request.url),
        "rawQuery": request.url.query,
    }


def lambda_context(name: str) -> SimpleNamespace:
    deadline = time.monotonic() + FUNCTION_TIMEOUT_S
    return SimpleNamespace(
        function_name=name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:local:000000000000:function:{name}",
        memory_limit_in_mb=1024,
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name="devserver",
        client_context=None,
        identity=None,
        get_remaining_time_in_millis=lambda: max(0, int((deadline - time.monotonic()) * 1000)),
    )


def to_response(result: Any) -> Response:
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise TypeError("a function must return a dict with an integer statusCode")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(key)] = ", ".join(str(v) for v in values)
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return Response(content, result["statusCode"], headers)


def _newest_source(directory: Path) -> float:
    return max(path.stat().st_mtime for path in directory.rglob("*.py"))


def _modules_under(directory: Path) -> frozenset[str]:
    prefix = str(directory.resolve())
    return frozenset(
        name
        for name, module in list(sys.modules.items())
        if (path := getattr(module, "__file__", None)) and str(Path(path).resolve()).startswith(prefix)
    )

"""Serve the real token function over HTTP for SDK clients that fetch tokens through authUrl.

The function is built exactly as its handler builds it (handler.create_function), fed the same
Netlify-style event the platform would send; only the HTTP shell is the test's.
"""

import base64
import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools import Logger

from handler import create_function

FUNCTION_PATH = "/.netlify/functions/ably-token-request"


def _event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    split = urlsplit(target)
    multi_query = parse_qs(split.query, keep_blank_values=True)
    return {
        "path": split.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: ", ".join(values) for name, values in multi_query.items()},
        "multiValueQueryStringParameters": multi_query,
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
        "rawUrl": f"http://{headers.get('host', '127.0.0.1')}{target}",
        "rawQuery": split.query,
    }


class TokenFunctionServer:
    """A threaded HTTP server answering FUNCTION_PATH with the token function; `log` keeps its lines."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.log = io.StringIO()
        logger = Logger(
            service="ably-token-request-realtime-tests", logger_handler=logging.StreamHandler(self.log)
        )
        function = create_function(logger, environ)

        class Handler(BaseHTTPRequestHandler):
            def _invoke(self) -> None:
                if urlsplit(self.path).path != FUNCTION_PATH:
                    self.send_error(404)
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                response = function(_event(self.command, self.path, headers, body), None)
                payload = response["body"].encode()
                self.send_response(response["statusCode"])
                for name, value in response["headers"].items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_OPTIONS = _invoke

            def log_message(self, format: str, *args: Any) -> None:
                """Requests are logged by the function itself."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{FUNCTION_PATH}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def token_function_server(environ: dict[str, str]) -> Iterator[TokenFunctionServer]:
    server = TokenFunctionServer(environ)
    server.start()
    try:
        yield server
    finally:
        server.stop()

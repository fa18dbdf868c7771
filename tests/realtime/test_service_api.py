"""The service's public face: the library API other code starts it with, and `python -m ably_local`."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ably_local import REST_PATH_PREFIXES, LocalAbly

ROOT = Path(__file__).resolve().parents[2]
KEY = "cliApp.cliKey:cliSecretThatMustNotBePrinted_0123456789"
TIMEOUT_S = 10


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (http only)
        return json.load(response)


def test_library_api_describes_a_live_service(local_ably: LocalAbly) -> None:
    app_id_key_id, secret = local_ably.api_key.split(":")
    assert local_ably.key_name == app_id_key_id
    assert re.fullmatch(r"[^.:]+\.[^.:]+", app_id_key_id)
    assert secret
    assert local_ably.client_options() == {"endpoint": "127.0.0.1", "port": local_ably.port, "tls": False}
    assert local_ably.port > 0
    assert local_ably.http_url == f"http://127.0.0.1:{local_ably.port}"
    [server_ms] = _get_json(f"{local_ably.http_url}/time")
    assert abs(server_ms - time.time() * 1000) < 60_000
    assert {"/time", "/keys/", "/channels/"} <= set(REST_PATH_PREFIXES)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_command_prints_what_clients_need_but_never_the_secret() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "ably_local", "--port", str(port), "--key", KEY]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(3)]
            [server_ms] = _get_json(f"http://127.0.0.1:{port}/time")
        finally:
            process.terminate()
            process.wait(TIMEOUT_S)
    assert server_ms > 0
    printed = "".join(lines)
    assert f"http://127.0.0.1:{port}" in printed
    assert "cliApp.cliKey" in printed
    assert KEY.split(":")[1] not in printed
    options = json.loads(lines[2].split(":", 1)[1])
    assert options == {"endpoint": "127.0.0.1", "port": port, "tls": False}


def test_unknown_rest_resources_get_ablys_not_found(local_ably: LocalAbly) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get_json(f"{local_ably.http_url}/channels/chat/unknown")
    assert refused.value.code == 404
    assert refused.value.headers["x-ably-errorcode"] == "40400"
    assert json.load(refused.value)["error"]["code"] == 40400

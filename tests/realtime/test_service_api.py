"""The service's public face: the library API other code starts it with, and `python -m ably_local`."""

import base64
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
        _rest(local_ably, "/channels/chat/unknown")
    assert refused.value.code == 404
    assert refused.value.headers["x-ably-errorcode"] == "40400"
    assert json.load(refused.value)["error"]["code"] == 40400


def test_unknown_rest_resources_ask_strangers_for_credentials_first(local_ably: LocalAbly) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get_json(f"{local_ably.http_url}/channels/chat/unknown")
    assert refused.value.code == 401
    assert json.load(refused.value)["error"]["code"] == 40101


def _rest(service: LocalAbly, path: str, body: Any = None) -> tuple[Any, str | None]:
    """Call the REST API with the key (plain urllib: ably-python refuses basic auth over plain HTTP)."""
    credentials = base64.b64encode(service.api_key.encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (http only)
        f"{service.http_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (http only)
        return json.load(response), response.headers.get("Link")


def _links(link: str | None) -> dict[str, str]:
    """A Link header's pages by rel (first, current and, until the last page, next)."""
    assert link is not None
    pages = dict((rel, path) for path, rel in re.findall(r'<\./(messages\?[^>]+)>; rel="(\w+)"', link))
    assert {"first", "current"} <= pages.keys(), link
    return {rel: f"/channels/paged/{path}" for rel, path in pages.items()}


@pytest.mark.parametrize("direction", ["backwards", "forwards"])
def test_history_pages_neither_repeat_nor_skip_while_messages_arrive(
    local_ably: LocalAbly, direction: str
) -> None:
    _rest(local_ably, "/channels/paged/messages", [{"name": "n", "data": str(n)} for n in range(5)])
    page, link = _rest(local_ably, f"/channels/paged/messages?limit=2&direction={direction}")
    seen = [item["data"] for item in page]
    first_page = [item["data"] for item in page]
    late: list[str] = []
    while "next" in _links(link):
        late.append(f"late-{len(late)}")
        _rest(local_ably, "/channels/paged/messages", {"name": "n", "data": late[-1]})
        page, link = _rest(local_ably, _links(link)["next"])
        seen += [item["data"] for item in page]
    assert late
    again, _ = _rest(local_ably, _links(link)["first"])
    if direction == "forwards":
        assert [item["data"] for item in again] == first_page
    if direction == "backwards":
        assert seen == ["4", "3", "2", "1", "0"]
    else:
        assert seen == ["0", "1", "2", "3", "4", *late]

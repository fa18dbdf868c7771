"""The Netlify deploy, checked offline with Netlify's own npm tools and against the Pyodide entry directly.

The entry runs handler.py in Pyodide; these tests prove Netlify's bundler ships it, Netlify's CLI serves it,
the local realtime service accepts what it signs, and it behaves like the Python handler the function tests
cover.
"""

import json
import os
import socket
import subprocess
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ably_local.testing import running_service
from tests.deploy.conftest import NETLIFY_ENTRY, NETLIFY_TOOLS, ROOT
from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET
from tests.function.events import netlify_event
from tests.function.signing import expected_mac

FUNCTION = "ably-token-request"
NETLIFY_SIZE_LIMIT = 50 * 1024 * 1024  # zipped function upload limit
DRIVER = ROOT / "tests" / "deploy" / "js" / "invoke_entry.mjs"
SERVE_START_TIMEOUT_S = 60


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment: no developer ABLY_* or Netlify variables leak into the function under test."""
    keep = {"PATH", "HOME", "LANG", "TMPDIR"}
    return {**{k: v for k, v in os.environ.items() if k in keep}, **extra}


@pytest.fixture(scope="module")
def zisi_bundle(
    pyodide_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    """zip-it-and-ship-it over functions/, with the function settings netlify.toml gives Netlify."""
    settings = tomllib.loads((ROOT / "netlify.toml").read_text())["functions"][FUNCTION]
    config = {
        FUNCTION: {
            "nodeBundler": settings["node_bundler"],
            "includedFiles": settings["included_files"],
            "includedFilesBasePath": str(ROOT),
        }
    }
    out = tmp_path_factory.mktemp("zisi")
    manifest = out / "manifest.json"
    subprocess.run(
        [
            str(NETLIFY_TOOLS / "zip-it-and-ship-it"),
            "functions",
            str(out),
            "--manifest",
            str(manifest),
            "--config",
            json.dumps(config),
        ],
        cwd=ROOT,
        env=base_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads(manifest.read_text()), out


def test_bundler_lists_the_function_within_netlifys_size_limit(
    zisi_bundle: tuple[dict[str, Any], Path],
) -> None:
    manifest, _ = zisi_bundle
    (function,) = [f for f in manifest["functions"] if f["name"] == FUNCTION]
    assert function["runtime"] == "js"
    archive = Path(function["path"])
    assert archive.stat().st_size < NETLIFY_SIZE_LIMIT
    names = set(zipfile.ZipFile(archive).namelist())
    shipped = {
        "functions/ably-token-request/handler.py",
        "functions/ably-token-request/ably_token_request/app.py",
        "functions/ably-token-request/pyodide-bundle/bundle.json",
        "node_modules/pyodide/pyodide.asm.wasm",
        "node_modules/pyodide/python_stdlib.zip",
    }
    assert shipped <= names
    bundle = json.loads(
        zipfile.ZipFile(archive).read("functions/ably-token-request/pyodide-bundle/bundle.json")
    )
    assert {
        f"functions/ably-token-request/pyodide-bundle/wheels/{wheel}" for wheel in bundle["wheels"]
    } <= names


def run_entry(
    entry: Path, calls: list[tuple[dict[str, Any], dict[str, Any]]], **env: str
) -> list[dict[str, Any]]:
    """Call the entry's handler in one Node process; the key secret must appear nowhere in its output."""
    result = subprocess.run(
        ["node", str(DRIVER), str(entry)],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        env=base_env(**env),
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert KEY_SECRET not in result.stdout + result.stderr
    last = result.stdout.rstrip().rsplit("\n", 1)[-1]
    assert last.startswith("RESULTS "), result.stdout[-2000:] + result.stderr[-2000:]
    responses: list[dict[str, Any]] = json.loads(last.removeprefix("RESULTS "))
    return responses


def signed_body(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(response["body"])
    assert body["keyName"] == KEY_NAME
    assert body["mac"] == expected_mac(body, KEY_SECRET)
    return body


def test_bundled_function_runs_from_its_zip(zisi_bundle: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    """What Netlify uploads works on its own: unzip it and call the entry inside."""
    _, out = zisi_bundle
    zipfile.ZipFile(out / f"{FUNCTION}.zip").extractall(tmp_path)
    entry = tmp_path / "functions" / FUNCTION / f"{FUNCTION}.js"
    (response,) = run_entry(entry, [(netlify_event(query={"clientId": "zipped"}), {})], ABLY_API_KEY=API_KEY)
    assert signed_body(response)["clientId"] == "zipped"


@pytest.fixture(scope="module")
def behaviour(pyodide_bundle: Path) -> list[dict[str, Any]]:
    """The handler's main behavioural cases, through the Pyodide entry, in one process (cold then warm)."""
    origin = {"origin": "https://example.netlify.app"}
    form = {"content-type": "application/x-www-form-urlencoded"}
    calls = [
        netlify_event(query={"clientId": "get-user"}),
        netlify_event("POST", headers=form, body="clientId=form-user"),
        netlify_event("POST", headers={"content-type": "application/json"}, body='{"clientId":"json-user"}'),
        netlify_event("OPTIONS", headers=origin),
        netlify_event("PUT"),
        netlify_event(query={"clientId": "*"}),
        netlify_event(query={"clientId": "a" * 129}),
        netlify_event(),
    ]
    identity = {"clientContext": {"user": {"sub": "identity-user"}}, "awsRequestId": "req-1"}
    contexts: list[dict[str, Any]] = [{}] * (len(calls) - 1) + [identity]
    return run_entry(NETLIFY_ENTRY, list(zip(calls, contexts, strict=True)), ABLY_API_KEY=API_KEY)


def test_entry_signs_get_form_and_json_requests(behaviour: list[dict[str, Any]]) -> None:
    assert signed_body(behaviour[0])["clientId"] == "get-user"
    assert signed_body(behaviour[1])["clientId"] == "form-user"
    assert signed_body(behaviour[2])["clientId"] == "json-user"
    assert signed_body(behaviour[7])["clientId"] == "identity-user"


def test_entry_answers_same_origin_preflight(behaviour: list[dict[str, Any]]) -> None:
    preflight = behaviour[3]
    assert preflight["statusCode"] == 204
    assert preflight["headers"]["Access-Control-Allow-Origin"] == "https://example.netlify.app"
    assert "GET" in preflight["headers"]["Access-Control-Allow-Methods"]


def test_entry_refuses_other_methods_and_bad_client_ids(behaviour: list[dict[str, Any]]) -> None:
    not_allowed, wildcard, too_long = behaviour[4], behaviour[5], behaviour[6]
    assert not_allowed["statusCode"] == 405
    assert not_allowed["headers"]["Allow"] == "GET, POST, OPTIONS"
    for refused in (wildcard, too_long):
        assert refused["statusCode"] == 400
        assert json.loads(refused["body"])["error"]["code"] == 40012
        assert refused["headers"]["x-ably-errorcode"] == "40012"


def test_entry_without_a_key_explains_the_fix(pyodide_bundle: Path) -> None:
    (response,) = run_entry(NETLIFY_ENTRY, [(netlify_event(), {})])
    assert response["statusCode"] == 500
    assert "ABLY_API_KEY" in json.loads(response["body"])["error"]["message"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def functions_serve(pyodide_bundle: Path) -> Iterator[str]:
    """`netlify functions:serve --offline` on a free port, stopped after the module's tests."""
    port = free_port()
    process = subprocess.Popen(
        [str(NETLIFY_TOOLS / "netlify"), "functions:serve", "--offline", "--port", str(port)],
        cwd=ROOT,
        env=base_env(ABLY_API_KEY=API_KEY, NETLIFY_TELEMETRY_DISABLED="1", BROWSER="none"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/.netlify/functions/{FUNCTION}"
    try:
        with httpx.Client(timeout=5) as client:
            for _ in range(SERVE_START_TIMEOUT_S * 4):
                if process.poll() is not None:
                    raise RuntimeError(f"netlify functions:serve exited with {process.returncode}")
                try:
                    client.options(url)
                    break
                except httpx.TransportError:
                    time.sleep(0.25)
            else:
                raise TimeoutError("netlify functions:serve did not start")
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def test_netlify_cli_serves_a_token_request_the_realtime_service_accepts(functions_serve: str) -> None:
    response = httpx.get(functions_serve, params={"clientId": "x"}, timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    token_request = response.json()
    assert token_request["clientId"] == "x"
    assert token_request["mac"] == expected_mac(token_request, KEY_SECRET)

    with running_service(api_key=API_KEY) as service:
        issued = httpx.post(
            f"{service.http_url}/keys/{KEY_NAME}/requestToken", json=token_request, timeout=10
        )
    assert issued.status_code in (200, 201), issued.text
    details = issued.json()
    assert details["token"]
    assert details["clientId"] == "x"

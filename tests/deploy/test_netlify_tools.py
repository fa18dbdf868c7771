"""The Netlify deploy, checked offline with Netlify's own npm tools.

The entry runs handler.py in Pyodide; these tests prove Netlify's bundler ships it within the size limit, the
uploaded zip runs on its own, Netlify's CLI serves it, and the local realtime service accepts what it signs.
test_netlify_entry.py holds its behaviour against the plain Python handler's.
"""

import json
import os
import re
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
from tests.deploy.conftest import NETLIFY_TOOLS, ROOT
from tests.deploy.drivers import base_env, driver_command, run_function, signed_body
from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET
from tests.function.events import netlify_event
from tests.function.signing import expected_mac

FUNCTION = "ably-token-request"
# AWS Lambda limits, which Netlify functions run under: zipped upload and unpacked size.
NETLIFY_SIZE_LIMIT = 50 * 1024 * 1024
NETLIFY_UNZIPPED_LIMIT = 250 * 1024 * 1024
# AWS Lambda's Node runtime the function is deployed on (nodejs20.x was deprecated on 2026-04-30).
SUPPORTED_LAMBDA_RUNTIME = "nodejs24.x"
SERVE_START_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def zisi_bundle(
    pyodide_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    """zip-it-and-ship-it over functions/, with the function settings netlify.toml gives Netlify."""
    netlify = tomllib.loads((ROOT / "netlify.toml").read_text())
    settings = netlify["functions"][FUNCTION]
    config = {
        FUNCTION: {
            "nodeBundler": settings["node_bundler"],
            "includedFiles": settings["included_files"],
            "includedFilesBasePath": str(ROOT),
            # What Netlify's build passes: AWS_LAMBDA_JS_RUNTIME from the build environment.
            "nodeVersion": netlify["build"]["environment"]["AWS_LAMBDA_JS_RUNTIME"],
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
    assert function["runtimeVersion"] == SUPPORTED_LAMBDA_RUNTIME
    archive = Path(function["path"])
    assert archive.stat().st_size < NETLIFY_SIZE_LIMIT
    assert sum(info.file_size for info in zipfile.ZipFile(archive).infolist()) < NETLIFY_UNZIPPED_LIMIT
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
    site_packages = f"functions/ably-token-request/pyodide-bundle/{bundle['sitePackages']}"
    assert f"{site_packages}/ably/types/tokenrequest.py" in names
    assert f"{site_packages}/aws_lambda_powertools/logging/logger.py" in names
    # --no-deps: ably's realtime dependencies are never loaded, so they are not shipped.
    unused = (f"{site_packages}/httpx/", f"{site_packages}/websockets/")
    assert not any(name.startswith(unused) for name in names)


def test_uploaded_zip_holds_no_key_secret(zisi_bundle: tuple[dict[str, Any], Path]) -> None:
    """The build sees the key (Netlify gives site variables to builds too); the memory snapshot and every
    other shipped file must still not carry it."""
    _, out = zisi_bundle
    with zipfile.ZipFile(out / f"{FUNCTION}.zip") as archive:
        for name in archive.namelist():
            assert KEY_SECRET.encode() not in archive.read(name), name


def test_bundled_function_runs_from_its_zip(zisi_bundle: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    """What Netlify uploads works on its own: unzip it and call the entry inside."""
    _, out = zisi_bundle
    zipfile.ZipFile(out / f"{FUNCTION}.zip").extractall(tmp_path)
    entry = tmp_path / "functions" / FUNCTION / f"{FUNCTION}.js"
    (response,) = run_function(
        driver_command("pyodide", entry),
        [(netlify_event(query={"clientId": "zipped"}), {})],
        ABLY_API_KEY=API_KEY,
    )
    assert signed_body(response)["clientId"] == "zipped"


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


def test_the_build_and_the_tools_run_on_the_node_the_function_is_deployed_on() -> None:
    """netlify.toml's NODE_VERSION, its Lambda runtime and the Makefile's Node agree; this run uses it."""
    netlify = tomllib.loads((ROOT / "netlify.toml").read_text())["build"]["environment"]
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^NODE_VERSION := (\d+)\.", makefile, re.MULTILINE)
    assert pinned is not None
    assert netlify["NODE_VERSION"] == pinned[1]
    assert netlify["AWS_LAMBDA_JS_RUNTIME"] == SUPPORTED_LAMBDA_RUNTIME == f"nodejs{pinned[1]}.x"
    running = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    assert running.startswith(f"v{pinned[1]}."), f"tests run on Node {running.strip()}; use make test"

"""The Netlify deploy, checked offline with Netlify's own npm tools.

The entry runs handler.py in Pyodide; these tests prove Netlify's bundler ships it within the size limit with
its per-address rate limit as a traffic rule, the uploaded zip runs on its own, Netlify's CLI serves it
through Netlify's own v2 bootstrap (Identity, one log line per request), and the local realtime service
accepts what it signs. test_netlify_entry.py holds its behaviour against the plain Python handler's.
"""

import base64
import json
import os
import re
import socket
import subprocess
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ably_local.testing import running_service
from devserver.function_config import declared_rate_limits
from tests.client.rate_limit_declarations import DECLARATIONS, NetlifyRule, write_function
from tests.deploy.conftest import NETLIFY_ENTRY, NETLIFY_TOOLS, ROOT
from tests.deploy.drivers import base_env, driver_command, run_function, signed_body
from tests.deploy.identity_service import IdentityService, identity_token, running_identity_service
from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET
from tests.function.events import FUNCTION_PATH, netlify_event
from tests.function.signing import expected_mac

FUNCTION = "ably-token-request"
# AWS Lambda limits, which Netlify functions run under: zipped upload and unpacked size.
NETLIFY_SIZE_LIMIT = 50 * 1024 * 1024
NETLIFY_UNZIPPED_LIMIT = 250 * 1024 * 1024
# AWS Lambda's Node runtime the function is deployed on (nodejs20.x was deprecated on 2026-04-30).
SUPPORTED_LAMBDA_RUNTIME = "nodejs24.x"
SERVE_START_TIMEOUT_S = 60


def zip_it_and_ship_it(functions: Path, out: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Netlify's bundler over a functions directory, as Netlify's build runs it; its manifest."""
    manifest = out / "manifest.json"
    subprocess.run(
        [
            str(NETLIFY_TOOLS / "zip-it-and-ship-it"),
            str(functions),
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
    written: dict[str, Any] = json.loads(manifest.read_text())
    return written


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
    return zip_it_and_ship_it(ROOT / "functions", out, config), out


def manifest_entry(manifest: dict[str, Any], name: str = FUNCTION) -> dict[str, Any]:
    (function,) = [f for f in manifest["functions"] if f["name"] == name]
    assert isinstance(function, dict)
    return function


def test_bundler_lists_the_function_within_netlifys_size_limit(
    zisi_bundle: tuple[dict[str, Any], Path],
) -> None:
    manifest, _ = zisi_bundle
    function = manifest_entry(manifest)
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


def test_the_manifest_carries_the_per_address_rate_limit_make_dev_applies(
    zisi_bundle: tuple[dict[str, Any], Path],
) -> None:
    """What Netlify's bundler read from the entry's `config`, as it hands it to Netlify: a v2 function at its
    default URL with a sliding-window rule per address and site domain, the very numbers make dev reads."""
    manifest, _ = zisi_bundle
    function = manifest_entry(manifest)
    assert function["buildData"]["runtimeAPIVersion"] == 2  # rate limits exist for v2 functions only
    assert function["routes"] == [{"pattern": FUNCTION_PATH, "literal": FUNCTION_PATH, "methods": []}]
    assert function["trafficRules"] == {
        "action": {
            "type": "rate_limit",
            "config": {
                "rateLimitConfig": {"windowLimit": 60, "windowSize": 60, "algorithm": "sliding_window"},
                "aggregate": {"keys": [{"type": "ip"}, {"type": "domain"}]},
            },
        }
    }
    (declared,) = declared_rate_limits(ROOT / "functions").values()
    rule = function["trafficRules"]["action"]["config"]
    assert rule["rateLimitConfig"]["windowLimit"] == declared.window_limit
    assert rule["rateLimitConfig"]["windowSize"] == declared.window_size_s
    assert tuple(key["type"] for key in rule["aggregate"]["keys"]) == declared.aggregate_by


def test_netlify_records_each_declared_rule_as_make_devs_table_says(tmp_path: Path) -> None:
    """Why the tests read the manifest: zip-it-and-ship-it drops or weakens a rule it cannot read without a
    word. Every declaration make dev's tests read (rate_limit_declarations.py) is bundled here, and the rule
    Netlify records for each, from the entry Netlify picks, is the one that table says; make dev applies
    exactly those rules, and refuses to start on the others."""
    functions = tmp_path / "functions"
    entries = {
        name: write_function(functions, name, declaration) for name, declaration in DECLARATIONS.items()
    }
    manifest = zip_it_and_ship_it(functions, tmp_path / "out", {})
    recorded = {
        name: netlify_rule(manifest_entry(manifest, name).get("trafficRules")) for name in DECLARATIONS
    }
    assert recorded == {name: declaration.netlify for name, declaration in DECLARATIONS.items()}
    for name, entry in entries.items():
        assert Path(manifest_entry(manifest, name)["mainFile"]).name == entry.name, name


def netlify_rule(traffic_rules: dict[str, Any] | None) -> NetlifyRule | None:
    if traffic_rules is None:
        return None
    action = traffic_rules["action"]
    numbers = action["config"]["rateLimitConfig"]
    assert numbers["algorithm"] == "sliding_window"
    keys = tuple(key["type"] for key in action["config"]["aggregate"]["keys"])
    return NetlifyRule(numbers["windowLimit"], numbers["windowSize"], keys, action["type"])


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
    entry = tmp_path / "functions" / FUNCTION / NETLIFY_ENTRY.name
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


@dataclass(frozen=True)
class FunctionsServe:
    url: str
    log: Path  # what `netlify functions:serve` printed, the function's own lines among it

    def call(self, **kwargs: Any) -> httpx.Response:
        """A request for the function, routed as `netlify dev` routes one to it.

        netlify-cli 27 refuses a function's default URL once the function declares a path, even when the
        path is that URL (its registry checks the default-URL pattern first); Netlify itself serves the
        declared path. `netlify dev` hands a matched request to the functions server naming the function in
        x-nf-function-name, and so do these tests.
        """
        headers = {"x-nf-function-name": FUNCTION, **kwargs.pop("headers", {})}
        return httpx.get(self.url, headers=headers, timeout=60, **kwargs)

    def function_lines(self) -> list[dict[str, Any]]:
        """The function's JSON log lines so far (the worker's output reaches the CLI's shortly after)."""
        time.sleep(0.5)
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"level"')]


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityService]:
    """The site's Identity API (a stand-in), at the site URL the functions get as URL."""
    with running_identity_service({"identity-user-7": {"email": "seven@example.com"}}) as service:
        yield service


@pytest.fixture(scope="module")
def functions_serve(
    pyodide_bundle: Path, identity: IdentityService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FunctionsServe]:
    """`netlify functions:serve --offline` on a free port, stopped after the module's tests.

    It runs the entry as Netlify runs a v2 function: built by zip-it-and-ship-it, called through Netlify's
    own bootstrap (from @netlify/serverless-functions-api), in a worker thread for each request.
    """
    port = free_port()
    log = tmp_path_factory.mktemp("functions-serve") / "output.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(NETLIFY_TOOLS / "netlify"), "functions:serve", "--offline", "--port", str(port)],
            cwd=ROOT,
            env=base_env(
                ABLY_API_KEY=API_KEY, NETLIFY_TELEMETRY_DISABLED="1", BROWSER="none", URL=identity.url
            ),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}{FUNCTION_PATH}"
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
        yield FunctionsServe(url, log)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def test_netlify_cli_serves_a_token_request_the_realtime_service_accepts(
    functions_serve: FunctionsServe,
) -> None:
    response = functions_serve.call(params={"clientId": "x"})
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


def identity_header(user: dict[str, Any]) -> dict[str, str]:
    """What Netlify sends a v2 function for a request with a valid Identity token: base64 JSON
    `{url, token, user}` in x-nf-identity-info (`token` being an operator token for the Identity API),
    which the bootstrap decodes for the function. Here the test sends it, as any client can."""
    info = {"url": "https://example.netlify.app/.netlify/identity", "token": "operator-jwt", "user": user}
    return {"x-nf-identity-info": base64.b64encode(json.dumps(info).encode()).decode()}


def test_an_identity_user_gets_their_own_client_id_through_the_v2_bootstrap(
    functions_serve: FunctionsServe,
) -> None:
    """Netlify's bootstrap turns x-nf-identity-info into the request's Identity context; the entry has the
    site's Identity API confirm the request's token and hands that user to the Python handler as
    context.clientContext.user, as Netlify did for the Lambda-style entry."""
    user = {
        **identity_header({"sub": "identity-user-7", "email": "seven@example.com"}),
        "authorization": f"Bearer {identity_token('identity-user-7')}",
    }
    signed = functions_serve.call(headers=user)
    assert signed.status_code == 200, signed.text
    assert signed.json()["clientId"] == "identity-user-7"
    impersonating = functions_serve.call(headers=user, params={"clientId": "someone-else"})
    assert impersonating.status_code == 403
    assert impersonating.json()["error"]["code"] == 40012


def test_a_client_sent_identity_header_is_not_an_identity(functions_serve: FunctionsServe) -> None:
    """netlify-cli hands a client's own x-nf-identity-info to Netlify's bootstrap, which decodes it without a
    check: a stranger could name any user (and, in JWT mode, any roles). Unconfirmed by Identity, it is
    ignored: the header alone, or with a token Identity did not issue, is an anonymous request."""
    forged = identity_header({"sub": "identity-user-7", "app_metadata": {"roles": ["moderator"]}})
    alone = functions_serve.call(headers=forged)
    assert alone.status_code == 200, alone.text
    assert alone.json()["clientId"] == "NO_CLIENT_ID"
    not_identitys = identity_token("identity-user-7", secret=b"not-the-identity-secret")
    with_a_made_up_token = functions_serve.call(
        headers={**forged, "authorization": f"Bearer {not_identitys}"}
    )
    assert with_a_made_up_token.json()["clientId"] == "NO_CLIENT_ID"


def test_an_unverified_bearer_token_is_not_an_identity(functions_serve: FunctionsServe) -> None:
    """The CLI decodes a bearer JWT into a Lambda clientContext without checking it; a v2 function never sees
    that, and this entry decodes nothing itself: only a user Identity confirms counts."""
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "forged"}).encode()).decode().rstrip("=")
    response = functions_serve.call(headers={"authorization": f"Bearer eyJhbGciOiJIUzI1NiJ9.{claims}.x"})
    assert response.status_code == 200
    assert response.json()["clientId"] == "NO_CLIENT_ID"


def test_every_request_logs_its_one_line_from_the_worker_thread(functions_serve: FunctionsServe) -> None:
    """functions:serve runs v2 functions in worker threads, which have no stdout file descriptor for
    Pyodide's default writes: the entry routes Python's output through Node's streams."""
    before = len(functions_serve.function_lines())
    for client_id in ("log-one", "log-two"):
        assert functions_serve.call(params={"clientId": client_id}).status_code == 200
    assert functions_serve.call(params={"clientId": "*"}).status_code == 400
    lines = functions_serve.function_lines()[before:]
    assert [(line.get("client_id"), line["status"]) for line in lines] == [
        ("log-one", 200),
        ("log-two", 200),
        (None, 400),
    ]
    assert all(line["message"] == "token request" for line in lines)


def test_the_cli_refuses_the_declared_default_url_without_its_routing(
    functions_serve: FunctionsServe,
) -> None:
    """netlify-cli's own router answers 404 at the declared default URL (see FunctionsServe.call): the
    project's local server is `make dev`, which serves it."""
    assert httpx.get(functions_serve.url, timeout=60).status_code == 404


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

"""The handler's behaviour, case for case, through the plain Python handler and the Netlify Pyodide entry.

Each runtime answers the same calls in one fresh process (cold start, then warm calls); the cases mirror
tests/function, and a last test holds the two runtimes' answers side by side.
"""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import FUNCTION_DIR, NETLIFY_ENTRY, ROOT
from tests.deploy.drivers import (
    NODE_DRIVER,
    RUNTIMES,
    Call,
    base_env,
    driver_command,
    run_function,
    run_logged,
    signed_body,
    signed_jwt,
)
from tests.function.conftest import API_KEY
from tests.function.events import netlify_event

ORIGIN = "https://example.netlify.app"
IDENTITY: dict[str, Any] = {"clientContext": {"user": {"sub": "identity-user"}}, "awsRequestId": "req-1"}
CASES: dict[str, Call] = {
    "get": (netlify_event(query={"clientId": "get-user"}), {}),
    "form": (
        netlify_event(
            "POST", headers={"content-type": "application/x-www-form-urlencoded"}, body="clientId=form-user"
        ),
        {},
    ),
    "json": (
        netlify_event("POST", headers={"content-type": "application/json"}, body='{"clientId":"json-user"}'),
        {},
    ),
    "preflight": (netlify_event("OPTIONS", headers={"origin": ORIGIN}), {}),
    "put": (netlify_event("PUT"), {}),
    "wildcard": (netlify_event(query={"clientId": "*"}), {}),
    "too-long": (netlify_event(query={"clientId": "a" * 129}), {}),
    "identity": (netlify_event(), IDENTITY),
    "impersonation": (netlify_event(query={"clientId": "not-me"}), IDENTITY),
    "repeated-query": (netlify_event(query={"clientId": ["one", "two"]}), {}),
    "base64-form": (
        netlify_event(
            "POST",
            headers={"content-type": "application/x-www-form-urlencoded"},
            body="clientId=b64-user",
            base64_body=True,
        ),
        {},
    ),
    "not-utf8": (
        netlify_event(
            "POST", headers={"content-type": "application/json"}, body=b"\xff\xfe{}", base64_body=True
        ),
        {},
    ),
}
MODERATOR: dict[str, Any] = {
    "clientContext": {"user": {"sub": "mod-1", "app_metadata": {"roles": ["moderator"]}}},
    "awsRequestId": "req-2",
}
JWT_ENV = {"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_FORMAT": "jwt", "ABLY_PUBLISH_MAX_RATE": "5"}
JWT_CASES: dict[str, Call] = {
    "get": CASES["get"],
    "moderator": (netlify_event(), MODERATOR),
    "identity": CASES["identity"],
    "impersonation": (netlify_event(query={"clientId": "someone-else"}), MODERATOR),
    "too-many-roles": (
        netlify_event(),
        {"clientContext": {"user": {"sub": "u", "app_metadata": {"roles": ["r"] * 11}}}},
    ),
    "preflight": CASES["preflight"],
}
Responses = dict[str, dict[str, Any]]
DEEP_JSON = '{"c":' + "[" * 3000 + "]" * 3000 + "}"


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, pyodide_bundle: Path) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def answers(runtime: str) -> Responses:
    responses = run_function(driver_command(runtime), list(CASES.values()), ABLY_API_KEY=API_KEY)
    return dict(zip(CASES, responses, strict=True))


@pytest.fixture(scope="module")
def jwt_answers(runtime: str) -> Responses:
    responses = run_function(driver_command(runtime), list(JWT_CASES.values()), **JWT_ENV)
    return dict(zip(JWT_CASES, responses, strict=True))


def test_signs_get_form_json_and_identity_requests(answers: Responses) -> None:
    assert signed_body(answers["get"])["clientId"] == "get-user"
    assert signed_body(answers["form"])["clientId"] == "form-user"
    assert signed_body(answers["base64-form"])["clientId"] == "b64-user"
    assert signed_body(answers["json"])["clientId"] == "json-user"
    assert signed_body(answers["identity"])["clientId"] == "identity-user"


def test_the_event_keeps_what_the_handler_checks(answers: Responses) -> None:
    """Through the v2 entry too: repeated parameters stay apart, bytes stay bytes, Identity stays binding."""
    assert answers["impersonation"]["statusCode"] == 403
    assert answers["repeated-query"]["statusCode"] == 400
    assert "more than once" in json.loads(answers["repeated-query"]["body"])["error"]["message"]
    assert answers["not-utf8"]["statusCode"] == 400
    assert "UTF-8" in json.loads(answers["not-utf8"]["body"])["error"]["message"]


def test_answers_same_origin_preflight(answers: Responses) -> None:
    preflight = answers["preflight"]
    assert preflight["statusCode"] == 204
    assert preflight["headers"]["access-control-allow-origin"] == ORIGIN
    assert "GET" in preflight["headers"]["access-control-allow-methods"]


def test_refuses_other_methods_and_bad_client_ids(answers: Responses) -> None:
    not_allowed = answers["put"]
    assert not_allowed["statusCode"] == 405
    assert not_allowed["headers"]["allow"] == "GET, POST, OPTIONS"
    for refused in (answers["wildcard"], answers["too-long"]):
        assert refused["statusCode"] == 400
        assert json.loads(refused["body"])["error"]["code"] == 40012
        assert refused["headers"]["x-ably-errorcode"] == "40012"


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        # Empty, not unset: an empty variable also keeps a developer's project .env out of the way.
        ({"ABLY_API_KEY": ""}, "ABLY_API_KEY"),
        ({"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_CAPABILITY": "{not json"}, "ABLY_TOKEN_CAPABILITY"),
        ({"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_TTL_MS": "soon"}, "ABLY_TOKEN_TTL_MS"),
        # These three crashed the start (an exception at import) before they were checked.
        ({"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_CAPABILITY": DEEP_JSON}, "ABLY_TOKEN_CAPABILITY"),
        ({"ABLY_API_KEY": API_KEY, "POWERTOOLS_LOG_LEVEL": "LOUD"}, "POWERTOOLS_LOG_LEVEL"),
        ({"ABLY_API_KEY": "", "ABLY_API_KEY_SSM_PARAMETER": API_KEY}, "ABLY_API_KEY_SSM_PARAMETER"),
    ],
    ids=["missing-key", "bad-capability", "bad-ttl", "deep-capability", "log-level", "key-in-ssm-variable"],
)
def test_misconfiguration_is_a_500_that_names_the_setting(
    runtime: str, environment: dict[str, str], named: str
) -> None:
    (response,) = run_function(driver_command(runtime), [CASES["get"]], **environment)
    assert response["statusCode"] == 500
    assert named in json.loads(response["body"])["error"]["message"]


def test_issues_jwts_with_rate_and_role_claims_in_jwt_mode(jwt_answers: Responses) -> None:
    get, moderator, identity = (signed_jwt(jwt_answers[case]) for case in ("get", "moderator", "identity"))
    assert get["x-ably-clientId"] == "get-user"
    assert get["exp"] - get["iat"] == 3600
    assert get["ably.limits.publish.perAttachment.maxRate.chat:*"] == 5
    assert "ably.channel.chat:*" not in get
    assert moderator["x-ably-clientId"] == "mod-1"
    assert moderator["ably.channel.chat:*"] == '{"roles":["moderator"]}'
    assert identity["x-ably-clientId"] == "identity-user"
    assert "ably.channel.chat:*" not in identity
    for case in ("get", "moderator", "identity"):
        assert jwt_answers[case]["headers"]["cache-control"] == "no-store", case


def test_refuses_impersonation_and_unusable_roles_in_jwt_mode(jwt_answers: Responses) -> None:
    impersonation, roles = jwt_answers["impersonation"], jwt_answers["too-many-roles"]
    assert (impersonation["statusCode"], json.loads(impersonation["body"])["error"]["code"]) == (403, 40012)
    assert roles["statusCode"] == 400
    assert "roles" in json.loads(roles["body"])["error"]["message"]
    assert jwt_answers["preflight"]["statusCode"] == 204


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"ABLY_TOKEN_FORMAT": "jwe"}, "ABLY_TOKEN_FORMAT"),
        ({"ABLY_TOKEN_FORMAT": "jwt", "ABLY_PUBLISH_MAX_RATE": "0"}, "ABLY_PUBLISH_MAX_RATE"),
        ({"ABLY_PUBLISH_MAX_RATE": "10"}, "ABLY_PUBLISH_MAX_RATE"),
        (
            {
                "ABLY_TOKEN_FORMAT": "jwt",
                "ABLY_TOKEN_CAPABILITY": json.dumps({f"room-{i}": ["publish"] for i in range(40)}),
            },
            "ABLY_TOKEN_CAPABILITY",
        ),
    ],
    ids=["unknown-format", "zero-rate", "rate-without-jwt", "capability-too-large-for-a-jwt"],
)
def test_jwt_misconfiguration_is_a_500_that_names_the_setting(
    runtime: str, environment: dict[str, str], named: str
) -> None:
    (response,) = run_function(driver_command(runtime), [CASES["get"]], ABLY_API_KEY=API_KEY, **environment)
    assert response["statusCode"] == 500
    assert named in json.loads(response["body"])["error"]["message"]


def comparable(response: dict[str, Any]) -> dict[str, Any]:
    """A response without what differs by design between calls: a TokenRequest's timestamp, nonce and mac,
    a JWT's iat and exp (and so its signature)."""
    if response["statusCode"] != 200:
        return response
    if response["headers"]["content-type"] == "application/jwt":
        body = {k: v for k, v in signed_jwt(response).items() if k not in {"iat", "exp"}}
    else:
        body = {
            k: v for k, v in json.loads(response["body"]).items() if k not in {"timestamp", "nonce", "mac"}
        }
    return {**response, "body": body}


def test_pyodide_entry_answers_exactly_like_the_python_handler(pyodide_bundle: Path) -> None:
    python, pyodide = (
        run_function(driver_command(runtime), list(CASES.values()), ABLY_API_KEY=API_KEY)
        for runtime in RUNTIMES
    )
    for case, expected, actual in zip(CASES, python, pyodide, strict=True):
        assert comparable(actual) == comparable(expected), case


def test_pyodide_entry_issues_the_same_jwts_as_the_python_handler(pyodide_bundle: Path) -> None:
    python, pyodide = (
        run_function(driver_command(runtime), list(JWT_CASES.values()), **JWT_ENV) for runtime in RUNTIMES
    )
    for case, expected, actual in zip(JWT_CASES, python, pyodide, strict=True):
        assert comparable(actual) == comparable(expected), case


def test_a_foreign_origin_is_refused_in_both_runtimes(runtime: str) -> None:
    call: Call = (netlify_event(headers={"origin": "https://evil.example"}), {})
    (response,) = run_function(driver_command(runtime), [call], ABLY_API_KEY=API_KEY)
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"]["code"] == 40300


def test_pyodide_runs_on_liftoff_only_without_a_command_line_flag(pyodide_bundle: Path) -> None:
    """The entry turns V8's TurboFan tier-up off from code: V8's own trace shows no TurboFan compilation
    through a cold start and warm calls (without it, CPython's eval loop is recompiled in the background)."""
    command = ["node", "--trace-wasm-compilation-times", str(NODE_DRIVER), str(NETLIFY_ENTRY)]
    result = subprocess.run(
        command,
        input=json.dumps([CASES["get"]] * 200),
        capture_output=True,
        text=True,
        env=base_env(ABLY_API_KEY=API_KEY),
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert "using Liftoff" in result.stdout
    assert "using TurboFan" not in result.stdout


# Restores the entry's memory snapshot and prints the modules it holds, before any configuration is read.
SNAPSHOT_MODULES = """
const { readFile } = require('node:fs/promises');
const { join } = require('node:path');
const runtime = require(process.argv[1]);
(async () => {
  const bundle = JSON.parse(await readFile(join(runtime.BUNDLE_DIR, 'bundle.json'), 'utf8'));
  const snapshot = readFile(join(runtime.BUNDLE_DIR, bundle.snapshot));
  const py = await runtime.loadPythonRuntime({ snapshot });
  process.stdout.write(py.runPython("import sys; ' '.join(sorted(sys.modules))"));
})();
"""


def test_the_snapshot_holds_both_formats_signers(pyodide_bundle: Path) -> None:
    """A restored instance has each format's signer imported already, whichever ABLY_TOKEN_FORMAT says."""
    runtime = NETLIFY_ENTRY.with_name("pyodide-runtime.js")
    result = subprocess.run(
        ["node", "-e", SNAPSHOT_MODULES, str(runtime)],
        capture_output=True,
        text=True,
        env=base_env(),
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    modules = set(result.stdout.split())
    assert {"ably_token_request.signer", "ably_token_request.jwt_signer", "ably_token_request.app"} <= modules
    assert "handler" not in modules  # its start-up reads the environment: never in the snapshot


def test_the_entry_also_starts_without_its_snapshot(pyodide_bundle: Path) -> None:
    """ABLY_PYODIDE_SNAPSHOT=off (to rule the snapshot out) imports everything from the shipped files."""
    (response,) = run_function(
        driver_command("pyodide"), [CASES["get"]], ABLY_API_KEY=API_KEY, ABLY_PYODIDE_SNAPSHOT="off"
    )
    assert signed_body(response)["clientId"] == "get-user"
    (response,) = run_function(
        driver_command("pyodide"), [CASES["get"]], **JWT_ENV, ABLY_PYODIDE_SNAPSHOT="off"
    )
    assert signed_jwt(response)["x-ably-clientId"] == "get-user"


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def other_node() -> str:
    """A Node of another major than the one that built the snapshot: the machine's own (Node 20 on a fresh
    machine), which the Makefile puts behind the project's Node 24 on PATH."""
    built = json.loads((FUNCTION_DIR / "pyodide-bundle" / "bundle.json").read_text())["builtWith"]
    for candidate in ("/usr/bin/node", "/usr/local/bin/node", shutil.which("node", path="/usr/bin:/bin")):
        if candidate and Path(candidate).is_file():
            modules = subprocess.run(
                [candidate, "-p", "process.versions.modules"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if modules != built["modules"]:
                return candidate
    pytest.skip(f"no Node of another major than the snapshot's ({built['node']}) on this machine")


def test_bundle_json_records_the_node_that_built_the_snapshot(pyodide_bundle: Path) -> None:
    built = json.loads((pyodide_bundle / "bundle.json").read_text())["builtWith"]
    node = subprocess.run(
        ["node", "-p", "JSON.stringify([process.version, process.versions.v8, process.versions.modules])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [built["node"], built["v8"], built["modules"]] == json.loads(node)


def test_on_another_node_the_entry_starts_without_the_snapshot_and_says_so_once(pyodide_bundle: Path) -> None:
    """Built on Node 24, run on Node 20: restoring the snapshot failed on every request ("table index is out
    of bounds"). The entry compares what built it with the running Node and starts from the shipped files."""
    command = [other_node(), str(NODE_DRIVER), str(NETLIFY_ENTRY)]
    responses, lines = run_logged(command, [CASES["get"], CASES["identity"]], ABLY_API_KEY=API_KEY)
    assert signed_body(responses[0])["clientId"] == "get-user"
    assert signed_body(responses[1])["clientId"] == "identity-user"
    logged = json_lines(lines)
    (skipped,) = [line for line in logged if "snapshot" in line["message"]]
    assert skipped["level"] == "WARNING"
    assert "built for another Node" in skipped["message"]
    assert [line["status"] for line in logged if line["message"] == "token request"] == [200, 200]


@pytest.fixture
def function_copy(pyodide_bundle: Path, tmp_path: Path) -> Path:
    """The function's directory as Netlify ships it, in a scratch place (node_modules linked) to break."""
    copy = tmp_path / "functions" / FUNCTION_DIR.name
    shutil.copytree(FUNCTION_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    return copy


def test_a_snapshot_that_fails_to_restore_is_left_aside_with_one_line(function_copy: Path) -> None:
    """A snapshot that claims the running Node's major but does not restore (the failure a Node 24 snapshot
    meets on Node 20) costs one log line and a slower start, not the function."""
    node = other_node()
    bundle_json = function_copy / "pyodide-bundle" / "bundle.json"
    bundle = json.loads(bundle_json.read_text())
    running = subprocess.run(
        [node, "-p", "process.versions.modules"], capture_output=True, text=True, check=True
    )
    bundle["builtWith"]["modules"] = running.stdout.strip()
    bundle_json.write_text(json.dumps(bundle))
    command = [node, str(NODE_DRIVER), str(function_copy / NETLIFY_ENTRY.name)]
    responses, lines = run_logged(command, [CASES["get"], CASES["get"]], ABLY_API_KEY=API_KEY)
    assert [signed_body(response)["clientId"] for response in responses] == ["get-user", "get-user"]
    (failed,) = [line for line in json_lines(lines) if "snapshot" in line["message"]]
    assert "failed to restore" in failed["message"]
    assert "table index is out of bounds" in failed["error"]


def test_a_start_that_fails_is_not_retried_on_every_request(function_copy: Path) -> None:
    """A start that cannot succeed (here: the shipped packages are missing) fails once; every request then
    gets a clear 500 in Ably's shape and its log line, without paying for another start."""
    shutil.rmtree(function_copy / "pyodide-bundle" / "site-packages")
    command = ["node", str(NODE_DRIVER), str(function_copy / NETLIFY_ENTRY.name)]
    responses, lines = run_logged(command, [CASES["get"]] * 3, ABLY_API_KEY=API_KEY)
    for response in responses:
        assert response["statusCode"] == 500
        assert response["headers"]["x-ably-errorcode"] == "50000"
        assert json.loads(response["body"])["error"] == {
            "message": "The token function failed to start; its log says why.",
            "code": 50000,
            "statusCode": 500,
        }
    logged = json_lines(lines)
    assert len([line for line in logged if line["message"] == "token function failed to start"]) == 1
    assert [line["outcome"] for line in logged if line["message"] == "token request"] == ["StartFailed"] * 3

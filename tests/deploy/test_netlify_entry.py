"""The handler's behaviour, case for case, through the plain Python handler and the Netlify Pyodide entry.

Each runtime answers the same calls in one fresh process (cold start, then warm calls); the cases mirror
tests/function, and a last test holds the two runtimes' answers side by side.
"""

import base64
import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ably_token_request.limits import MAX_BODY_BYTES
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
from tests.deploy.identity_service import IdentityService, identity_token, running_identity_service
from tests.function.conftest import API_KEY, KEY_SECRET
from tests.function.events import netlify_event

ORIGIN = "https://example.netlify.app"
# The users the site's Identity instance knows (tests/deploy/identity_service.py stands in for it).
IDENTITY_USERS: dict[str, dict[str, Any] | str] = {
    "identity-user": {"email": "user@example.com", "app_metadata": {"provider": "email"}},
    "mod-1": {"app_metadata": {"provider": "email", "roles": ["moderator"]}},
    "u": {"app_metadata": {"roles": ["r"] * 11}},
}


def bearer(sub: str) -> dict[str, str]:
    """The Authorization header of a request from a logged-in Identity user (an Identity JWT)."""
    return {"authorization": f"Bearer {identity_token(sub)}"}


# An Identity user's request: the token in Authorization, the user in the context (the Python handler reads
# it there; the Pyodide driver turns it into globalThis.netlifyIdentityContext, as Netlify's bootstrap does).
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
    "identity": (netlify_event(headers=bearer("identity-user")), IDENTITY),
    "impersonation": (netlify_event(query={"clientId": "not-me"}, headers=bearer("identity-user")), IDENTITY),
    "repeated-query": (netlify_event(query={"clientId": ["one", "two"]}), {}),
    # Far past the body limit, as text and as bytes that are not UTF-8: the same 413 from both runtimes.
    "huge-text": (
        netlify_event("POST", headers={"content-type": "application/json"}, body="a" * 1_000_000),
        {},
    ),
    "huge-binary": (
        netlify_event(
            "POST", headers={"content-type": "application/json"}, body=b"\xff" * 1_000_000, base64_body=True
        ),
        {},
    ),
    # Names an object already has: the entry collected parameters in a plain object and crashed on these.
    "prototype-names": (
        netlify_event(
            query={"constructor": "1", "__proto__": "2", "toString": "3", "clientId": "proto-user"}
        ),
        {},
    ),
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
    "moderator": (netlify_event(headers=bearer("mod-1")), MODERATOR),
    "identity": CASES["identity"],
    "impersonation": (netlify_event(query={"clientId": "someone-else"}, headers=bearer("mod-1")), MODERATOR),
    "too-many-roles": (
        netlify_event(headers=bearer("u")),
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
def identity() -> Iterator[IdentityService]:
    """The site's Identity API; the entry finds it from URL, the site address Netlify gives functions."""
    with running_identity_service(IDENTITY_USERS) as service:
        yield service


@pytest.fixture
def site(identity: IdentityService) -> Iterator[IdentityService]:
    identity.unavailable = False
    identity.requests.clear()
    yield identity
    identity.unavailable = False


@pytest.fixture(scope="module")
def answers(runtime: str, identity: IdentityService) -> Responses:
    responses = run_function(
        driver_command(runtime), list(CASES.values()), ABLY_API_KEY=API_KEY, URL=identity.url
    )
    return dict(zip(CASES, responses, strict=True))


@pytest.fixture(scope="module")
def jwt_answers(runtime: str, identity: IdentityService) -> Responses:
    responses = run_function(driver_command(runtime), list(JWT_CASES.values()), **JWT_ENV, URL=identity.url)
    return dict(zip(JWT_CASES, responses, strict=True))


def test_signs_get_form_json_and_identity_requests(answers: Responses) -> None:
    assert signed_body(answers["get"])["clientId"] == "get-user"
    assert signed_body(answers["form"])["clientId"] == "form-user"
    assert signed_body(answers["base64-form"])["clientId"] == "b64-user"
    assert signed_body(answers["json"])["clientId"] == "json-user"
    assert signed_body(answers["identity"])["clientId"] == "identity-user"
    assert signed_body(answers["prototype-names"])["clientId"] == "proto-user"


def test_the_event_keeps_what_the_handler_checks(answers: Responses) -> None:
    """Through the v2 entry too: repeated parameters stay apart, bytes stay bytes, Identity stays binding."""
    assert answers["impersonation"]["statusCode"] == 403
    assert answers["repeated-query"]["statusCode"] == 400
    assert "more than once" in json.loads(answers["repeated-query"]["body"])["error"]["message"]
    assert answers["not-utf8"]["statusCode"] == 400
    assert "UTF-8" in json.loads(answers["not-utf8"]["body"])["error"]["message"]
    for huge in ("huge-text", "huge-binary"):
        assert answers[huge]["statusCode"] == 413
        assert f"larger than {MAX_BODY_BYTES} bytes" in json.loads(answers[huge]["body"])["error"]["message"]


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


# The Identity a request claims (x-nf-identity-info, which Netlify's bootstrap decodes into
# globalThis.netlifyIdentityContext) counts only once the site's Identity API confirms the request's token.
CLAIMED_MODERATOR: dict[str, Any] = {
    "clientContext": {"user": {"sub": "mod-1", "app_metadata": {"roles": ["moderator"]}}}
}
CLAIMED_ROLES: dict[str, Any] = {
    "clientContext": {"user": {"sub": "identity-user", "app_metadata": {"roles": ["moderator"]}}}
}
ROLE_CLAIM = "ably.channel.chat:*"


def test_a_claimed_identity_counts_only_once_identity_confirms_the_requests_token(
    pyodide_bundle: Path, site: IdentityService
) -> None:
    """Anyone can send x-nf-identity-info where nothing strips it (netlify functions:serve passes it
    through: tests/deploy/test_netlify_tools.py), and nothing public says Netlify's edge does. Trusted as
    sent, it let a stranger mint a moderator's JWT. The entry asks the site's Identity API, as
    @netlify/identity's getUser() does: the user is the one the request's own token belongs to, with the
    roles Identity holds for them."""
    not_identitys = identity_token("mod-1", secret=b"someone-elses-secret")
    calls: list[Call] = [
        (netlify_event(), CLAIMED_MODERATOR),  # the header alone
        (netlify_event(headers={"authorization": f"Bearer {not_identitys}"}), CLAIMED_MODERATOR),
        (netlify_event(headers=bearer("identity-user")), CLAIMED_MODERATOR),  # another user's token
        (netlify_event(headers=bearer("identity-user")), CLAIMED_ROLES),  # roles the user does not have
        (netlify_event(headers=bearer("mod-1")), CLAIMED_MODERATOR),  # the real moderator
        (netlify_event(headers={"authorization": f"bearer {identity_token('mod-1')}"}), CLAIMED_MODERATOR),
    ]
    claims = [
        signed_jwt(response)
        for response in run_function(driver_command("pyodide"), calls, **JWT_ENV, URL=site.url)
    ]
    assert [token["x-ably-clientId"] for token in claims] == [
        "NO_CLIENT_ID",
        "NO_CLIENT_ID",
        "identity-user",
        "identity-user",
        "mod-1",
        "mod-1",
    ]
    assert [token.get(ROLE_CLAIM) for token in claims] == [None] * 4 + ['{"roles":["moderator"]}'] * 2
    # The header alone costs no call; each token is checked with Identity itself.
    assert len(site.requests) == len(calls) - 1
    assert site.requests[0] == f"Bearer {not_identitys}"


def test_an_anonymous_request_costs_no_identity_call(pyodide_bundle: Path, site: IdentityService) -> None:
    """No claimed user (Netlify found no valid token): a bearer token alone is not even checked."""
    (response,) = run_function(
        driver_command("pyodide"), [(netlify_event(headers=bearer("mod-1")), {})], **JWT_ENV, URL=site.url
    )
    assert signed_jwt(response)["x-ably-clientId"] == "NO_CLIENT_ID"
    assert site.requests == []


def test_when_identity_cannot_answer_the_request_is_a_503_not_an_anonymous_token(
    pyodide_bundle: Path, site: IdentityService
) -> None:
    """A claimed user Identity cannot confirm right now gets a transient error (ably-js retries through its
    authCallback), never a token without their identity; the instance goes on serving."""
    site.unavailable = True
    calls: list[Call] = [(netlify_event(headers=bearer("mod-1")), MODERATOR), CASES["get"]]
    responses, lines = run_logged(driver_command("pyodide"), calls, **JWT_ENV, URL=site.url)
    refused, anonymous = responses
    assert refused["statusCode"] == 503
    assert refused["headers"]["x-ably-errorcode"] == "50300"
    assert refused["headers"]["cache-control"] == "no-store"
    error = json.loads(refused["body"])["error"]
    assert (error["code"], error["statusCode"]) == (50300, 503)
    assert "Netlify Identity" in error["message"]
    assert signed_jwt(anonymous)["x-ably-clientId"] == "get-user"
    # The entry's own line goes to stderr, the handler's to stdout: compared in status order.
    logged = sorted((line for line in json_lines(lines) if line["message"] == "token request"), key=status)
    assert [(line["level"], line["status"], line["outcome"]) for line in logged] == [
        ("INFO", 200, "issued"),
        ("ERROR", 503, "IdentityUnavailable"),
    ]
    assert "503" in logged[1]["error"]


def test_without_the_sites_url_a_claimed_identity_cannot_be_confirmed(pyodide_bundle: Path) -> None:
    """Netlify gives every function URL; without it (another host) a claimed user is refused, not trusted."""
    claimed: Call = (netlify_event(headers=bearer("mod-1")), MODERATOR)
    (response,) = run_function(driver_command("pyodide"), [claimed], ABLY_API_KEY=API_KEY)
    assert response["statusCode"] == 503


def test_a_deep_identity_payload_is_never_handed_on(pyodide_bundle: Path, site: IdentityService) -> None:
    """A claimed user nested thousands deep (user_metadata is the user's own to write) crashed the entry
    (RangeError in JSON.stringify: a stack trace instead of an answer); the entry hands the handler only the
    confirmed user's id and roles."""
    deep = "[" * 5000 + "]" * 5000
    claimed = '{"clientContext":{"user":{"sub":"identity-user","user_metadata":' + deep + "}}}"
    text = f"[[{json.dumps(netlify_event(headers=bearer('identity-user')))},{claimed}]]"
    (response,) = run_function(driver_command("pyodide"), text, **JWT_ENV, URL=site.url)
    assert signed_jwt(response)["x-ably-clientId"] == "identity-user"


def test_whatever_fails_in_a_request_is_a_500_in_ablys_shape_and_one_line(
    pyodide_bundle: Path, site: IdentityService
) -> None:
    """Roles Identity holds nested thousands deep cannot be handed to Python (JSON.stringify overflows):
    the entry answers that request itself, logs its one line, and serves the next."""
    site.users["deep-roles"] = '{"id":"deep-roles","app_metadata":{"roles":' + "[" * 5000 + "]" * 5000 + "}}"
    claimed = {"clientContext": {"user": {"sub": "deep-roles"}}}
    calls: list[Call] = [(netlify_event(headers=bearer("deep-roles")), claimed), CASES["get"]]
    responses, lines = run_logged(driver_command("pyodide"), calls, **JWT_ENV, URL=site.url)
    failed, served = responses
    assert failed["statusCode"] == 500
    assert json.loads(failed["body"])["error"] == {
        "message": "The token function failed unexpectedly; see its logs.",
        "code": 50000,
        "statusCode": 500,
    }
    assert signed_jwt(served)["x-ably-clientId"] == "get-user"
    logged = sorted((line for line in json_lines(lines) if line["message"] == "token request"), key=status)
    assert [(line["status"], line["outcome"]) for line in logged] == [(200, "issued"), (500, "InternalError")]
    assert KEY_SECRET not in json.dumps(logged)


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


def test_pyodide_entry_answers_exactly_like_the_python_handler(
    pyodide_bundle: Path, identity: IdentityService
) -> None:
    python, pyodide = (
        run_function(driver_command(runtime), list(CASES.values()), ABLY_API_KEY=API_KEY, URL=identity.url)
        for runtime in RUNTIMES
    )
    for case, expected, actual in zip(CASES, python, pyodide, strict=True):
        assert comparable(actual) == comparable(expected), case


def test_pyodide_entry_issues_the_same_jwts_as_the_python_handler(
    pyodide_bundle: Path, identity: IdentityService
) -> None:
    python, pyodide = (
        run_function(driver_command(runtime), list(JWT_CASES.values()), **JWT_ENV, URL=identity.url)
        for runtime in RUNTIMES
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


def status(line: dict[str, Any]) -> int:
    return int(line["status"])


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


def test_on_another_node_the_entry_starts_without_the_snapshot_and_says_so_once(
    pyodide_bundle: Path, identity: IdentityService
) -> None:
    """Built on Node 24, run on Node 20: restoring the snapshot failed on every request ("table index is out
    of bounds"). The entry compares what built it with the running Node and starts from the shipped files."""
    command = [other_node(), str(NODE_DRIVER), str(NETLIFY_ENTRY)]
    responses, lines = run_logged(
        command, [CASES["get"], CASES["identity"]], ABLY_API_KEY=API_KEY, URL=identity.url
    )
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


# Stands in for handler.py to show what the entry hands the Python side (the snapshot is off, so the entry
# compiles this file rather than the one the snapshot holds).
ECHO_HANDLER = """
import json

def handler(event, context):
    seen = {"headers": sorted(event["headers"]), "body": len(event["body"] or "")}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(seen)}
"""


@pytest.mark.slow
def test_the_handler_is_handed_no_more_than_it_reads(function_copy: Path) -> None:
    """A 6 MB body (Netlify's largest) crossed into Python whole to be refused there: about 100-180 ms of
    CPU for a 413 that costs 4 ms, and a WebAssembly heap grown by 100 MB for good. Past the handler's limit
    it is now cut to one byte over (the same 413). The x-nf-identity-info header, whose operator token is an
    admin credential for the site's Identity, stays out of the event: the handler never reads it."""
    (function_copy / "handler.py").write_text(ECHO_HANDLER)
    info = {"url": "https://example.netlify.app/.netlify/identity", "token": "operator-jwt", "user": {}}
    identity_info = base64.b64encode(json.dumps(info).encode()).decode()
    six_mb = 6 * 1024 * 1024
    json_type = {"content-type": "application/json"}
    calls: list[Call] = [
        (
            netlify_event(
                "POST", headers={**json_type, "x-nf-identity-info": identity_info}, body="a" * six_mb
            ),
            {},
        ),
        (netlify_event("POST", headers=json_type, body=b"\xff" * six_mb, base64_body=True), {}),
        (netlify_event("POST", headers=json_type, body="é" * MAX_BODY_BYTES), {}),
    ]
    command = ["node", str(NODE_DRIVER), str(function_copy / NETLIFY_ENTRY.name)]
    text, binary, wide = (
        json.loads(response["body"]) for response in run_function(command, calls, ABLY_PYODIDE_SNAPSHOT="off")
    )
    assert text["body"] == MAX_BODY_BYTES + 1
    assert "x-nf-identity-info" not in text["headers"]
    assert binary["body"] == 4 * math.ceil((MAX_BODY_BYTES + 1) / 3)  # base64 of one byte over
    assert 0 < wide["body"] <= 4 * math.ceil((MAX_BODY_BYTES + 1) / 3)  # cut inside a character: base64

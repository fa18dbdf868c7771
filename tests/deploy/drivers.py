"""Run the token function in a fresh process, either as plain Python or through the Netlify Pyodide entry.

Both drivers take the same [event, context] pairs and print the handler's responses, so one set of
behavioural cases checks that the entry Netlify deploys behaves exactly like the Python handler. Answers are
compared as an HTTP client sees them: status, headers by lower-case name, body text.
"""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.deploy.conftest import FUNCTION_DIR, NETLIFY_ENTRY, ROOT
from tests.function.conftest import KEY_NAME, KEY_SECRET
from tests.function.signing import expected_mac, verified_jwt

Call = tuple[dict[str, Any], dict[str, Any]]
PYTHON_DRIVER = ROOT / "tests" / "deploy" / "invoke_handler.py"
NODE_DRIVER = ROOT / "tests" / "deploy" / "js" / "invoke_entry.mjs"
RUNTIMES = ("python", "pyodide")


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment: no developer ABLY_* or Netlify variables leak into the function under test."""
    keep = {"PATH", "HOME", "LANG", "TMPDIR"}
    return {**{k: v for k, v in os.environ.items() if k in keep}, **extra}


def driver_command(runtime: str, entry: Path = NETLIFY_ENTRY) -> list[str]:
    if runtime == "python":
        return [str(ROOT / ".venv" / "bin" / "python"), str(PYTHON_DRIVER), str(FUNCTION_DIR)]
    assert runtime == "pyodide", runtime
    return ["node", str(NODE_DRIVER), str(entry)]


def run_function(command: list[str], calls: list[Call], **env: str) -> list[dict[str, Any]]:
    """Call the handler once per pair in one process; the key secret must appear nowhere in its output."""
    responses, _ = run_logged(command, calls, **env)
    return responses


def run_logged(command: list[str], calls: list[Call], **env: str) -> tuple[list[dict[str, Any]], list[str]]:
    """run_function, with the process's other output lines (its log lines, stdout then stderr)."""
    result = subprocess.run(
        command,
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        env=base_env(**env),
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert KEY_SECRET not in result.stdout + result.stderr
    *logged, last = result.stdout.rstrip().split("\n")
    assert last.startswith("RESULTS "), result.stdout[-2000:] + result.stderr[-2000:]
    responses = [as_seen_by_a_client(response) for response in json.loads(last.removeprefix("RESULTS "))]
    return responses, [line for line in [*logged, *result.stderr.splitlines()] if line]


def as_seen_by_a_client(response: dict[str, Any]) -> dict[str, Any]:
    """Status, headers with lower-case names (HTTP's are case-insensitive; a web Response's are lower case)
    and the body as text (none is an empty body)."""
    headers = {str(name).lower(): str(value) for name, value in (response.get("headers") or {}).items()}
    return {"statusCode": response["statusCode"], "headers": headers, "body": response.get("body") or ""}


def signed_body(response: dict[str, Any]) -> dict[str, Any]:
    """The TokenRequest in a 200 answer, after checking it is signed with the test key."""
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"] == "application/json"
    body: dict[str, Any] = json.loads(response["body"])
    assert body["keyName"] == KEY_NAME
    assert body["mac"] == expected_mac(body, KEY_SECRET)
    return body


def signed_jwt(response: dict[str, Any]) -> dict[str, Any]:
    """The claims of the JWT in a 200 answer, after checking it is signed with the test key (by hand)."""
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"] == "application/jwt"
    header, claims = verified_jwt(response["body"], KEY_SECRET)
    assert header == {"alg": "HS256", "kid": KEY_NAME, "typ": "JWT"}
    return claims

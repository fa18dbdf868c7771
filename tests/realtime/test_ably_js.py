"""The unmodified ably-js SDK (npm `ably` 2.28) against the local service, in Node, JSON and msgpack.

Each suite under tests/realtime/js/ is a node:test script; this module starts one service and the real
token function behind HTTP endpoints (for authUrl: TokenRequests, and JWTs with the default capability and
with a subscribe-only one), runs each suite with the service's address in the environment and fails with
node's own report when any scenario fails.
"""

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ably_local.testing import running_service
from tests.realtime.function_endpoint import token_function_server

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"
SUITES = sorted(path.name for path in JS_DIR.glob("*.test.mjs"))
API_KEY = "jsTests.sdkKey:jsTestSecretThatStaysLocal_0123456789"
NODE_TIMEOUT_S = 240
SCENARIO_TIMEOUT_MS = 60_000
SUBSCRIBE_ONLY = '{"chat:*":["subscribe"]}'


@pytest.fixture(scope="module")
def service_env() -> Iterator[dict[str, str]]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ably").is_dir():
        pytest.fail("node and the root node_modules (npm ci) are required for the ably-js tests")
    with (
        running_service(api_key=API_KEY, sandbox=True, mutable_namespaces=frozenset({"mutable"})) as service,
        token_function_server({"ABLY_API_KEY": API_KEY}) as function,
        token_function_server({"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_FORMAT": "jwt"}) as jwt_function,
        token_function_server(
            {"ABLY_API_KEY": API_KEY, "ABLY_TOKEN_FORMAT": "jwt", "ABLY_TOKEN_CAPABILITY": SUBSCRIBE_ONLY}
        ) as subscribe_only,
    ):
        yield {
            "ABLY_LOCAL_HOST": service.host,
            "ABLY_LOCAL_PORT": str(service.port),
            "ABLY_LOCAL_KEY": API_KEY,
            "ABLY_TOKEN_URL": function.url,
            "ABLY_JWT_URL": jwt_function.url,
            "ABLY_JWT_SUBSCRIBE_ONLY_URL": subscribe_only.url,
        }
        for server in (function, jwt_function, subscribe_only):
            assert API_KEY.split(":")[1] not in server.log.getvalue(), (
                "the token function logged the key secret"
            )


@pytest.mark.parametrize("suite", SUITES)
def test_ably_js_suite(suite: str, service_env: dict[str, str]) -> None:
    command = [
        "node",
        "--test",
        "--test-reporter=spec",
        "--test-force-exit",
        f"--test-timeout={SCENARIO_TIMEOUT_MS}",
    ]
    # Its own process group, so a suite that hangs is killed with the children node:test spawned.
    with subprocess.Popen(
        [*command, str(JS_DIR / suite)],
        cwd=ROOT,
        env={**os.environ, **service_env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as node:
        try:
            report, _ = node.communicate(timeout=NODE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            report, _ = node.communicate()
            pytest.fail(f"node --test {suite} ran over {NODE_TIMEOUT_S} s:\n{report}")
    assert node.returncode == 0, f"node --test {suite} failed:\n{report}"
    summary = _summary(report)
    assert summary["fail"] == 0, report
    assert summary["pass"] > 0, f"no scenario ran:\n{report}"


def _summary(report: str) -> dict[str, int]:
    """The counts node's spec reporter prints last, e.g. `\N{INFORMATION SOURCE} pass 12`."""
    counts = dict.fromkeys(("pass", "fail", "skipped"), -1)
    for line in report.splitlines():
        words = line.split()
        if len(words) == 3 and words[1] in counts and words[2].isdigit():
            counts[words[1]] = int(words[2])
    return counts


def test_every_suite_is_collected() -> None:
    assert {
        "auth.test.mjs",
        "channel-options.test.mjs",
        "claims.test.mjs",
        "connection.test.mjs",
        "jwt.test.mjs",
        "mutable.test.mjs",
        "messaging.test.mjs",
        "presence.test.mjs",
        "rest.test.mjs",
        "resume.test.mjs",
    } <= set(SUITES)

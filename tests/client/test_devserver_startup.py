"""What the dev server says at start, in one line a newcomer can act on, and what it checks there."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ably_local.testing import running_service
from tests.client.devserver_process import ROOT, dev_server

START_TIMEOUT_S = 20


def start_failure(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the dev server expecting it to refuse to start; its environment has no ABLY_ variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ABLY_")} | env
    return subprocess.run(
        [sys.executable, "-m", "devserver", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )


def read_until(process: "subprocess.Popen[str]", needle: str) -> str:
    """The process's output up to and including the first line containing `needle` (or to its end)."""
    assert process.stdout is not None
    seen = ""
    while line := process.stdout.readline():
        seen += line
        if needle in line:
            break
    return seen


def test_a_port_in_use_is_one_line_naming_the_port_and_the_fix() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = start_failure("--port", str(port), "--env-file", os.devnull)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"Port {port} " in result.stderr
    assert "already in use" in result.stderr
    assert "PORT=9000 make dev" in result.stderr


def test_the_port_comes_from_PORT_as_the_readme_says() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = start_failure("--env-file", os.devnull, PORT=str(port))
    assert f"Port {port} " in result.stderr


@pytest.mark.parametrize(
    "malformed",
    [
        "onlyTheS3cretPart",
        "myApp.myKey",
        "myApp.myKey:s3cretA:s3cretB",
        "myApp:s3cretC",
        "my App.myKey:s3cretD",
    ],
)
def test_a_malformed_key_is_refused_before_the_banner(malformed: str) -> None:
    result = start_failure("--port", "0", "--env-file", os.devnull, ABLY_API_KEY=malformed)
    assert result.returncode == 1
    assert result.stdout == ""  # no banner, in particular none claiming "real Ably"
    assert result.stderr.count("\n") == 1, result.stderr
    assert "ABLY_API_KEY (set in the environment)" in result.stderr
    assert "appId.keyId:secret" in result.stderr
    assert "Ably dashboard" in result.stderr
    assert malformed not in result.stderr
    for part in malformed.split(":")[1:]:
        assert part not in result.stderr


def test_a_malformed_key_in_the_env_file_is_named_there(tmp_path: Path) -> None:
    env_file = tmp_path / "dev.env"
    env_file.write_text("ABLY_API_KEY=pasted-only-the-secret\n")
    result = start_failure("--port", "0", "--env-file", str(env_file))
    assert result.returncode == 1
    assert f"ABLY_API_KEY (from {env_file})" in result.stderr
    assert "pasted-only-the-secret" not in result.stderr


def test_a_malformed_key_is_refused_with_local_too() -> None:
    result = start_failure("--port", "0", "--env-file", os.devnull, "--local", ABLY_API_KEY="nonsense")
    assert result.returncode == 1
    assert "appId.keyId:secret" in result.stderr
    assert "Traceback" not in result.stderr


def key_check_output(api_key: str, rest_url: str) -> str:
    """Start in real-Ably mode with the key check pointed at `rest_url`; the terminal until the verdict."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ABLY_")} | {"ABLY_API_KEY": api_key}
    flags = ["--port", "0", "--env-file", os.devnull, "--ably-rest-url", rest_url]
    process = subprocess.Popen(
        [sys.executable, "-m", "devserver", *flags],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = read_until(process, "devserver:")  # the check's verdict is the dev server's first log line
    finally:
        process.send_signal(signal.SIGINT)
        output += process.communicate(timeout=START_TIMEOUT_S)[0]
    assert process.returncode == 0
    return output


def test_the_terminal_says_when_ably_refuses_the_key() -> None:
    with running_service() as standing_in_for_ably:
        wrong_secret = f"{standing_in_for_ably.key_name}:notTheSecretAblyHolds_0123456789"
        output = key_check_output(wrong_secret, standing_in_for_ably.http_url)
    assert "realtime: real Ably" in output
    assert f"Ably refused the key {standing_in_for_ably.key_name} (code 40101" in output
    assert "notTheSecretAblyHolds" not in output


def test_the_terminal_says_when_ably_accepts_the_key() -> None:
    with running_service() as standing_in_for_ably:
        output = key_check_output(standing_in_for_ably.api_key, standing_in_for_ably.http_url)
    assert f"Ably accepted the key {standing_in_for_ably.key_name}." in output
    assert "refused" not in output


def test_the_terminal_says_when_ably_cannot_be_reached() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    output = key_check_output("someApp.someKey:someSecretValue_0123456789", f"http://127.0.0.1:{port}")
    assert "Could not reach Ably at 127.0.0.1" in output
    assert "make dev ARGS=--local" in output
    assert "someSecretValue" not in output


def test_in_local_mode_the_terminal_says_when_the_service_refuses_a_token_request() -> None:
    with dev_server() as server, httpx.Client(base_url=server.url) as http:
        token_request = http.get("/.netlify/functions/ably-token-request").json()
        forged = token_request | {"nonce": "x" * 16}  # signed text changed: the mac no longer matches
        refused = http.post(f"/keys/{token_request['keyName']}/requestToken", json=forged)
        server.stop()
        terminal = server.terminal_output()
    assert refused.status_code == 401
    assert "refused the token function's TokenRequest (code 40101: Invalid mac in token request)" in terminal

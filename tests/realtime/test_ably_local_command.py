"""`ably-local` as another app's developer meets it: the documented commands and snippets, run as printed.

The only change made to what docs/local-service.md prints is the loopback address: each run of the suite
has its own (ABLY_PYTHON_TEST_HOST), so checkouts on one machine do not fight over a port. The `sudo` of the
ably-python command is dropped when the tests already run as root (port 80 needs root either way).
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.docs import snippet
from tests.realtime.wire import Action, open_connected, realtime_url

ROOT = Path(__file__).resolve().parents[2]
TEST_HOST = os.environ.get("ABLY_PYTHON_TEST_HOST", "127.0.0.41")
DOCUMENTED_HOSTS = re.compile(r"127\.0\.0\.[12]\b")
TIMEOUT_S = 30


def on_test_host(text: str) -> str:
    return DOCUMENTED_HOSTS.sub(TEST_HOST, text)


@contextmanager
def ably_local(
    command: str, cwd: Path = ROOT, stop: signal.Signals = signal.SIGINT, background: bool = False
) -> Iterator[str]:
    """Run an `ably-local` command line; yields what it printed up to "Press Ctrl-C", then Ctrl-C's it
    (or sends `stop`). `background`: started as a shell script's `&` starts it, with Ctrl-C ignored."""
    argv = shlex.split(on_test_host(command))
    if argv[0] == "sudo":
        if os.geteuid() != 0:
            pytest.fail("the ably-python snippet needs port 80: run the tests as root, as CI does")
        argv = argv[1:]
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=without_ably_vars(),
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None,
    )
    assert process.stdout is not None
    banner = ""
    while "Press Ctrl-C" not in banner and (line := process.stdout.readline()):
        banner += line
    try:
        assert "Press Ctrl-C" in banner, banner + process.stdout.read()
        yield banner
    finally:
        process.send_signal(stop)
        rest = process.communicate(timeout=TIMEOUT_S)[0]
    assert process.returncode == 0, rest
    assert "Traceback" not in rest


def without_ably_vars() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ABLY_")}


def test_the_documented_ably_js_snippet_runs_as_printed(tmp_path: Path) -> None:
    command = snippet("ably-local-command").text
    assert "--port 8765" in command  # the port the ably-js snippet connects to
    (tmp_path / "demo.mjs").write_text(on_test_host(snippet("ably-local-ably-js").text))
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    with ably_local(command) as banner:
        assert "local.demo" in banner
        result = subprocess.run(
            ["node", "demo.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "received: hello from ably-js"


def test_the_documented_ably_python_snippet_runs_as_printed(tmp_path: Path) -> None:
    command = snippet("ably-local-port-80").text
    assert command.startswith("sudo ")  # port 80 needs root, and the docs say so in the command
    python_snippet = snippet("ably-local-ably-python").text
    assert "127.0.0.2" in python_snippet  # the snippet names the address the service listens on
    (tmp_path / "demo.py").write_text(on_test_host(python_snippet))
    with ably_local(command):
        result = subprocess.run(
            [sys.executable, "demo.py"], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "received: hello from ably-python"


def test_a_generated_key_is_printed_whole_and_works() -> None:
    with ably_local(f"{ROOT}/.venv/bin/ably-local --host {TEST_HOST} --port 0") as banner:
        url = re.search(r"on (http://\S+)", banner)
        key = re.search(r"^Key: (\S+) \(generated", banner, flags=re.MULTILINE)
        assert url is not None
        assert key is not None, banner
        name, _, secret = key.group(1).partition(":")
        history = f"{url.group(1)}/channels/demo/messages"
        assert httpx.get(history, auth=(name, secret)).status_code == 200
        assert httpx.get(history, auth=(name, secret + "x")).status_code == 401


def test_a_key_that_was_passed_is_not_printed() -> None:
    with ably_local(
        f"{ROOT}/.venv/bin/ably-local --host {TEST_HOST} --port 0 --key mine.key:keepThisOut"
    ) as b:
        assert "Key name: mine.key" in b
        assert "keepThisOut" not in b


@pytest.mark.parametrize(
    ("stop", "background"), [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, True)]
)
async def test_kill_stops_it_and_its_clients_are_told(stop: signal.Signals, background: bool) -> None:
    """`kill` (SIGTERM), or Ctrl-C sent to a service a script started in the background (which inherits
    Ctrl-C ignored), closes the service's connections (1001, going away) and exits cleanly."""
    with ably_local(
        f"{ROOT}/.venv/bin/ably-local --host {TEST_HOST} --port 0", stop=stop, background=background
    ) as banner:
        address = re.search(r"on http://([\d.]+):(\d+)", banner)
        assert address is not None, banner
        key = re.search(r"^Key: (\S+) \(generated", banner, flags=re.MULTILINE)
        assert key is not None, banner
        client = await open_connected(realtime_url(address[1], int(address[2]), key=key[1]))
    assert await client.closed_by_server()
    assert client.websocket.close_code == 1001


def test_a_busy_port_is_one_line_naming_it() -> None:
    with socket.create_server((TEST_HOST, 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [ROOT / ".venv" / "bin" / "ably-local", "--host", TEST_HOST, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=without_ably_vars(),
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"Port {port} on {TEST_HOST} is already in use" in result.stderr
    assert f"ably-local --port {port + 1}" in result.stderr


def test_a_malformed_key_is_one_line_without_the_value() -> None:
    result = subprocess.run(
        [ROOT / ".venv" / "bin" / "ably-local", "--port", "0", "--key", "onlyAS3cretValue"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=without_ably_vars(),
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "appId.keyId:secret" in result.stderr
    assert "onlyAS3cretValue" not in result.stderr


async def test_the_documented_raised_limit_lets_one_connection_publish_faster() -> None:
    command = snippet("ably-local-raised-limit").text
    assert "--limit connection_publish_rate=500" in command
    publishes = 120  # more than the 50 at once Ably allows one connection by default
    with ably_local(command):
        client = await open_connected(realtime_url(TEST_HOST, 8765, key="local.demo:not-a-secret"))
        for _ in range(publishes):
            serial = await client.publish("raised", {"name": "n", "data": "d"})
        await client.acked(serial)
        assert not [message for message in client.backlog if message["action"] == Action.NACK]
        await client.close()


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("no_such_limit=1", "'no_such_limit' is not a limit"),
        ("connection_publish_rate=fast", "connection_publish_rate needs a number, not 'fast'"),
        ("channels_per_connection=0", "channels_per_connection must be a positive, finite number"),
        ("inbound_protocol_message_rate=inf", "must be a positive, finite number"),
    ],
)
def test_a_wrong_limit_is_one_line_naming_it(setting: str, said: str) -> None:
    result = subprocess.run(
        [ROOT / ".venv" / "bin" / "ably-local", "--port", "0", "--limit", setting],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=without_ably_vars(),
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("--limit: ")
    assert said in result.stderr

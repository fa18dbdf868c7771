"""Run `python -m devserver` as a user does, on a free port, and stop it with Ctrl-C (SIGINT)."""

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20


@dataclass
class DevServer:
    url: str
    banner: str  # the first line it printed: URL and which realtime service the page uses
    process: "subprocess.Popen[str]"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(START_TIMEOUT_S)

    def terminal_output(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.read()


@contextmanager
def dev_server(*args: str, local: bool = True, **env: str) -> Iterator[DevServer]:
    """A dev server with (by default) the local realtime service, whatever ABLY_API_KEY the user has set."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ABLY_")} | env
    flags = ["--port", "0", "--env-file", os.devnull, *(["--local"] if local else [])]
    process = subprocess.Popen(
        [sys.executable, "-m", "devserver", *flags, *args],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+", first_line)
    if match is None:
        process.kill()
        raise RuntimeError(f"dev server did not start: {first_line}{process.stdout.read()}")
    server = DevServer(match.group(0), first_line, process)
    try:
        yield server
    finally:
        if process.poll() is None:
            server.stop()

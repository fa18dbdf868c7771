"""A fresh copy of this repository and `make dev` run in it, as a newcomer's first minutes go.

Shared by the first-run benchmark (bench/first_run.py) and the test that proves the first run works
(tests/client/test_first_run.py). The copy holds what `git clone` of the working tree would: tracked and
new files, nothing git ignores (no .venv, node_modules, dist), so uncommitted edits are what is measured.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BANNER = re.compile(r"Dev server on (http://[\d.]+:\d+)")
STEP_PREFIX = "==> "
FIRST_RUN_TIMEOUT_S = 240


def fresh_checkout(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out, as in a commit
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@dataclass
class MakeDev:
    url: str
    seconds_to_banner: float
    output: list[str] = field(default_factory=list)  # every line up to and including the banner
    cpu_seconds: float = 0.0  # user + system time of make and everything it ran, known once it exited
    after_stop: str = ""  # what it printed from the banner until it exited on Ctrl-C

    @property
    def steps(self) -> list[str]:
        return [line.removeprefix(STEP_PREFIX) for line in self.output if line.startswith(STEP_PREFIX)]


class MakeDevFailed(RuntimeError):
    pass


@contextmanager
def make_dev(checkout: Path, *make_args: str) -> Iterator[MakeDev]:
    """`make dev` on an ephemeral port with no ABLY_ variables (offline mode); Ctrl-C'd on exit."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ABLY_")} | {"PORT": "0"}
    started = time.perf_counter()
    process = subprocess.Popen(
        ["make", "--no-print-directory", "dev", *make_args],
        cwd=checkout,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so Ctrl-C reaches make and the server as in a shell
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        banner = None
        while banner is None and time.perf_counter() - started < FIRST_RUN_TIMEOUT_S:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line.rstrip("\n"))
            banner = BANNER.search(line)
        if banner is None:
            raise MakeDevFailed("make dev did not start serving:\n" + "\n".join(output))
        run = MakeDev(banner.group(1), time.perf_counter() - started, output)
        yield run
        run.cpu_seconds = _stop(process)
        run.after_stop = process.stdout.read()
    finally:
        if process.returncode is None:
            _stop(process)


def _stop(process: "subprocess.Popen[str]") -> float:
    """Ctrl-C the process group as a terminal would; the CPU seconds the whole tree used."""
    os.killpg(process.pid, signal.SIGINT)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


LIST_DISTRIBUTIONS = "import importlib.metadata as m; print(*(d.metadata['Name'] for d in m.distributions()))"


def installed_distributions(checkout: Path) -> set[str]:
    """Normalised names of every distribution in the checkout's .venv."""
    listed = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), "-c", LIST_DISTRIBUTIONS],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {normalise(name) for name in listed.split()}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def tree_bytes(path: Path) -> int:
    """Disk use, as `du` counts it."""
    files = (entry for entry in path.rglob("*") if entry.is_file() and not entry.is_symlink())
    return sum(entry.stat().st_blocks * 512 for entry in files)

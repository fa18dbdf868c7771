"""Token function speed: our Python handler against a Node.js reference of the article's function.

Measures, in one run and on the same machine:
  cold start - a fresh process importing the function and answering one request (median of several);
  warm       - the handler called in-process many times (mean per call, median of several rounds).
The Python handler runs from a virtual environment holding only its deploy requirements, like a Lambda
package; the Node reference uses the ably npm package from the project's node_modules.

Usage: python bench/token_function.py [--cold-runs N] [--warm-calls N] [--rounds N]
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "ably-token-request"
BENCH_DIR = Path(__file__).resolve().parent
LAMBDA_VENV = ROOT / ".bench" / "lambda-venv"
EVENT = {
    "path": "/.netlify/functions/ably-token-request",
    "httpMethod": "GET",
    "headers": {"host": "localhost:8888"},
    "multiValueHeaders": {"host": ["localhost:8888"]},
    "queryStringParameters": {"clientId": "bench-user"},
    "multiValueQueryStringParameters": {"clientId": ["bench-user"]},
    "body": None,
    "isBase64Encoded": False,
    "rawUrl": "http://localhost:8888/.netlify/functions/ably-token-request?clientId=bench-user",
    "rawQuery": "clientId=bench-user",
}
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("ABLY_", "PYTHON"))},
    "ABLY_API_KEY": "benchApp.benchKey:benchSecretNotReal",
    "BENCH_EVENT": json.dumps(EVENT),
}


@dataclass(frozen=True)
class Implementation:
    name: str
    cold: list[str]
    warm: Callable[[int], list[str]]
    env: dict[str, str] = field(default_factory=dict)


def lambda_python() -> str:
    """A venv with only the function's requirements, rebuilt when they change."""
    requirements = FUNCTION_DIR / "requirements.txt"
    stamp = LAMBDA_VENV / ".requirements-sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    python = LAMBDA_VENV / "bin" / "python"
    if not stamp.is_file() or stamp.read_text() != digest:
        venv.create(LAMBDA_VENV, with_pip=True, clear=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", requirements], check=True, env=ENV)
        stamp.write_text(digest)
    return str(python)


def pyodide_bundle() -> None:
    """The Netlify entry's wheels and snapshot, as `npm run build:netlify-function` makes them."""
    subprocess.run(
        ["node", str(ROOT / "scripts" / "build-netlify-function.mjs")],
        check=True,
        cwd=ROOT,
        env=ENV | {"PYTHON": sys.executable},
        stdout=subprocess.DEVNULL,
    )


def implementations() -> list[Implementation]:
    python = lambda_python()
    pyodide_bundle()
    driver = str(BENCH_DIR / "invoke_python.py")
    node_driver = str(BENCH_DIR / "node_reference" / "invoke.mjs")
    node_entry = (BENCH_DIR / "node_reference" / "ably-token-request.mjs").as_uri()
    netlify_entry = (FUNCTION_DIR / "ably-token-request.js").as_uri()
    return [
        Implementation(
            "python handler",
            cold=[python, driver, "cold", str(FUNCTION_DIR)],
            warm=lambda n: [python, driver, "warm", str(FUNCTION_DIR), str(n)],
        ),
        Implementation(
            "python, no request log",
            cold=[python, driver, "cold", str(FUNCTION_DIR)],
            warm=lambda n: [python, driver, "warm", str(FUNCTION_DIR), str(n)],
            env={"POWERTOOLS_LOG_LEVEL": "WARNING"},
        ),
        Implementation(
            "node reference",
            cold=["node", node_driver, "cold", node_entry],
            warm=lambda n: ["node", node_driver, "warm", node_entry, str(n)],
        ),
        # The Netlify entry: the same Python handler in Pyodide, from its memory snapshot (as deployed)...
        Implementation(
            "netlify pyodide+snapshot",
            cold=["node", node_driver, "cold", netlify_entry],
            warm=lambda n: ["node", node_driver, "warm", netlify_entry, str(n)],
        ),
        # ...and without it (wheels unpacked and modules imported on every cold start).
        Implementation(
            "netlify pyodide, no snap",
            cold=["node", node_driver, "cold", netlify_entry],
            warm=lambda n: ["node", node_driver, "warm", netlify_entry, str(n)],
            env={"ABLY_PYODIDE_SNAPSHOT": "off"},
        ),
    ]


def time_to_first_response(subject: Implementation) -> float:
    """Milliseconds from spawning the process to reading its answer."""
    command = subject.cold
    started = time.perf_counter()
    env = ENV | subject.env
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("RESPONSE"):
                elapsed = (time.perf_counter() - started) * 1000
                if line.split()[1] != "200":
                    raise RuntimeError(f"{command[0]} answered {line.strip()}")
                process.stdout.read()
                return elapsed
    raise RuntimeError(f"{' '.join(command)} gave no response")


def warm_micros(subject: Implementation, calls: int) -> float:
    env = ENV | subject.env
    output = subprocess.run(
        subject.warm(calls), capture_output=True, text=True, check=True, env=env, cwd=ROOT
    )
    line = next(line for line in output.stdout.splitlines() if line.startswith("WARM_US"))
    return float(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--warm-calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    subjects = implementations()
    for subject in subjects:  # untimed: compiles bytecode and warms the page cache
        time_to_first_response(subject)
    cold: dict[str, list[float]] = {s.name: [] for s in subjects}
    warm: dict[str, list[float]] = {s.name: [] for s in subjects}
    for _ in range(args.cold_runs):  # interleaved, so drift on a shared machine hits all alike
        for subject in subjects:
            cold[subject.name].append(time_to_first_response(subject))
    for _ in range(args.rounds):
        for subject in subjects:
            warm[subject.name].append(warm_micros(subject, args.warm_calls))

    reference = "node reference"
    cold_ref = statistics.median(cold[reference])
    warm_ref = statistics.median(warm[reference])
    print(f"Token function, {args.cold_runs} cold starts and {args.rounds}x{args.warm_calls} warm calls each")
    print(f"{'implementation':<26}{'cold start ms':>15}{'vs node':>9}{'warm us/call':>14}{'vs node':>9}")
    for subject in subjects:
        cold_ms = statistics.median(cold[subject.name])
        warm_us = statistics.median(warm[subject.name])
        print(
            f"{subject.name:<26}{cold_ms:>15.1f}{cold_ms / cold_ref:>9.2f}"
            f"{warm_us:>14.1f}{warm_us / warm_ref:>9.2f}"
        )


if __name__ == "__main__":
    main()

"""Token function speed: our Python handler, native and in Pyodide, against the original as Netlify ships it.

Each Python row runs in both token formats: TokenRequests (the default) and JWTs (ABLY_TOKEN_FORMAT=jwt).

The reference is the article's TypeScript function bundled the way Netlify bundles it (esbuild, one CommonJS
file with ably-js inside), run on the Node the project deploys on. In one run, on the same machine:
  cold start - a fresh process answering its first request: from spawning it to reading the answer (the
               process is not timed past the answer; a Lambda worker stays alive), median of interleaved runs;
  warm       - the handler called in-process many times (mean per call, median of several rounds);
  key store  - the SSM Parameter Store path's extra start-up and first-request cost, against moto's server
               on loopback (on AWS add the SSM round trip, which cannot be measured here);
  instructions - with valgrind at hand, the machine instructions of a native cold start in each token
               format (callgrind, the whole process): the same on every run, whatever the machine's load.
The native handler runs from a venv holding what `sam build` packages (requirements.txt, no dependencies)
plus boto3, which the Lambda Python runtime provides.

Usage: python bench/token_function.py [--cold-runs N] [--warm-calls N] [--rounds N]
"""

import argparse
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "ably-token-request"
BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = ROOT / ".bench"
LAMBDA_VENV = WORK_DIR / "lambda-venv"
REFERENCE_BUNDLE = WORK_DIR / "node-reference" / "ably-token-request.js"
REGION = "eu-west-1"
SSM_PARAMETER = "/bench/ably-api-key"
# A secret as long as Ably's (43 characters): signing code may treat short HMAC keys differently.
API_KEY = "benchApp.benchKey:benchSecretNotReal_0123456789abcdefghijklmnop"
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
    **{k: v for k, v in os.environ.items() if not k.startswith(("ABLY_", "PYTHON", "AWS_"))},
    "BENCH_EVENT": json.dumps(EVENT),
}
KEY_IN_ENV = {"ABLY_API_KEY": API_KEY}
JWT = {"ABLY_TOKEN_FORMAT": "jwt"}
NATIVE_JWT = "native Python, JWT"
PYODIDE_ROWS = ("Netlify: Pyodide, JWT", "Netlify: Python in Pyodide")


@dataclass(frozen=True)
class Implementation:
    name: str
    cold: list[str]
    warm: Callable[[int], list[str]]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColdStart:
    total_ms: float
    # Python only: start-up ms, first request ms, peak RSS KiB, start-up CPU ms
    phases: tuple[float, float, float, float] | None


def lambda_python() -> str:
    """A venv with what `sam build` packages plus boto3 (the Lambda runtime's), rebuilt when they change."""
    requirements = FUNCTION_DIR / "requirements.txt"
    boto3_version = importlib.metadata.version("boto3")
    stamp = LAMBDA_VENV / ".requirements-sha256"
    digest = hashlib.sha256(requirements.read_bytes() + boto3_version.encode()).hexdigest()
    python = LAMBDA_VENV / "bin" / "python"
    if not stamp.is_file() or stamp.read_text() != digest:
        venv.create(LAMBDA_VENV, with_pip=True, clear=True)
        pip: list[str | Path] = [python, "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--no-deps", "-r", requirements], check=True, env=ENV)
        subprocess.run([*pip, f"boto3=={boto3_version}"], check=True, env=ENV)
        stamp.write_text(digest)
    return str(python)


def build_node_side() -> None:
    """The reference bundle, and the Netlify entry's bundle (`npm run build:netlify-function`)."""
    node = ["node"]
    subprocess.run(
        [*node, BENCH_DIR / "node_reference" / "build.mjs", REFERENCE_BUNDLE], check=True, cwd=ROOT
    )
    subprocess.run(
        [*node, ROOT / "scripts" / "build-netlify-function.mjs"],
        check=True,
        cwd=ROOT,
        env=ENV | {"PYTHON": sys.executable},
        stdout=subprocess.DEVNULL,
    )


def implementations(aws: dict[str, str]) -> list[Implementation]:
    python = lambda_python()
    build_node_side()
    driver = str(BENCH_DIR / "invoke_python.py")
    node_driver = str(BENCH_DIR / "node_reference" / "invoke.mjs")
    netlify_entry = str(FUNCTION_DIR / "ably-token-request.mjs")

    def native(name: str, env: dict[str, str]) -> Implementation:
        return Implementation(
            name,
            cold=[python, driver, "cold", str(FUNCTION_DIR)],
            warm=lambda n: [python, driver, "warm", str(FUNCTION_DIR), str(n)],
            env=env,
        )

    def node(name: str, entry: str, env: dict[str, str] = KEY_IN_ENV) -> Implementation:
        return Implementation(
            name,
            cold=["node", node_driver, "cold", entry],
            warm=lambda n: ["node", node_driver, "warm", entry, str(n)],
            env=env,
        )

    return [
        node("original: Node, esbuild bundle", str(REFERENCE_BUNDLE)),
        native("native Python (AWS Lambda)", KEY_IN_ENV),
        native("native Python, key from SSM", aws | {"ABLY_API_KEY_SSM_PARAMETER": SSM_PARAMETER}),
        node(PYODIDE_ROWS[1], netlify_entry),
        native(NATIVE_JWT, KEY_IN_ENV | JWT),
        node(PYODIDE_ROWS[0], netlify_entry, KEY_IN_ENV | JWT),
    ]


@contextmanager
def local_ssm() -> Iterator[dict[str, str]]:
    """moto's server on loopback holding the key as a SecureString; yields the environment that reaches it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    try:
        client = boto3.client(
            "ssm",
            region_name=REGION,
            endpoint_url=aws["AWS_ENDPOINT_URL"],
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106
        )
        client.put_parameter(Name=SSM_PARAMETER, Value=API_KEY, Type="SecureString", Overwrite=True)
        yield aws
    finally:
        server.stop()


def cold_start(subject: Implementation) -> ColdStart:
    """Milliseconds from spawning the process to reading its answer (and the driver's phases, if any)."""
    started = time.perf_counter()
    with subprocess.Popen(
        subject.cold,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV | subject.env,
        cwd=ROOT,
    ) as process:
        assert process.stderr is not None
        elapsed: float | None = None
        phases = None
        for line in process.stderr:
            if line.startswith("RESPONSE") and elapsed is None:
                elapsed = (time.perf_counter() - started) * 1000
                if line.split()[1] != "200":
                    raise RuntimeError(f"{subject.name} answered {line.strip()}")
            elif line.startswith("PHASES"):
                startup, first, rss, cpu = map(float, line.split()[1:])
                phases = (startup, first, rss, cpu)
    if elapsed is None:
        raise RuntimeError(f"{subject.name} gave no response")
    return ColdStart(elapsed, phases)


def cold_instructions(subject: Implementation) -> int:
    """Machine instructions of one cold start, interpreter start to exit, counted by callgrind."""
    output = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *subject.cold],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
        env=ENV | subject.env,
        cwd=ROOT,
    ).stderr
    match = re.search(r"Collected : (\d+)", output)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind for {subject.name}:\n{output[-2000:]}")
    return int(match.group(1))


def warm_micros(subject: Implementation, calls: int) -> tuple[float, float]:
    """Mean microseconds per warm call: wall time, and CPU time (which the machine's load stretches less)."""
    output = subprocess.run(
        subject.warm(calls),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
        env=ENV | subject.env,
        cwd=ROOT,
    )
    line = next(line for line in output.stderr.splitlines() if line.startswith("WARM_US"))
    wall, cpu = map(float, line.split()[1:])
    return wall, cpu


def spread(values: list[float]) -> str:
    quartiles = statistics.quantiles(values, n=4)
    return f"{quartiles[0]:.0f}-{quartiles[2]:.0f}"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, Node {node}, load {load:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--warm-calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with local_ssm() as aws:
        subjects = implementations(aws)
        for subject in subjects:  # untimed: compiles bytecode and warms the page cache
            cold_start(subject)
        cold: dict[str, list[ColdStart]] = {s.name: [] for s in subjects}
        warm: dict[str, list[tuple[float, float]]] = {s.name: [] for s in subjects}
        for _ in range(args.cold_runs):  # interleaved, so drift on a shared machine hits all alike
            for subject in subjects:
                cold[subject.name].append(cold_start(subject))
        for _ in range(args.rounds):
            for subject in subjects:
                warm[subject.name].append(warm_micros(subject, args.warm_calls))
        by_name = {subject.name: subject for subject in subjects}
        instructions = (
            [cold_instructions(by_name[name]) for name in (subjects[1].name, NATIVE_JWT)]
            if shutil.which("valgrind")
            else None
        )

    reference = subjects[0].name
    cold_ref = statistics.median(c.total_ms for c in cold[reference])
    warm_ref = statistics.median(wall for wall, _ in warm[reference])
    warm_cpu_ref = statistics.median(cpu for _, cpu in warm[reference])
    print(f"Token function on {machine()}")
    print(f"{args.cold_runs} interleaved cold starts each (median, interquartile range); warm: median of")
    print(f"{args.rounds} rounds of {args.warm_calls} in-process calls")
    print(
        f"{'implementation':<34}{'cold start ms':>14}{'IQR':>11}{'vs original':>13}{'warm µs':>10}{'vs':>7}"
        f"{'warm CPU µs':>13}{'vs':>7}"
    )
    for subject in subjects:
        totals = [c.total_ms for c in cold[subject.name]]
        cold_ms = statistics.median(totals)
        warm_us = statistics.median(wall for wall, _ in warm[subject.name])
        warm_cpu_us = statistics.median(cpu for _, cpu in warm[subject.name])
        print(
            f"{subject.name:<34}{cold_ms:>14.0f}{spread(totals):>11}{cold_ms / cold_ref:>12.2f}x"
            f"{warm_us:>10.1f}{warm_us / warm_ref:>6.2f}x"
            f"{warm_cpu_us:>13.1f}{warm_cpu_us / warm_cpu_ref:>6.2f}x"
        )
    env_key, ssm, jwt = (cold[name] for name in (subjects[1].name, subjects[2].name, NATIVE_JWT))

    def phase(runs: list[ColdStart], index: int) -> float:
        return statistics.median(c.phases[index] for c in runs if c.phases is not None)

    print(
        f"native start-up (imports, configuration, logger) {phase(env_key, 0):.0f} ms, then first request "
        f"{phase(env_key, 1):.1f} ms; with the key in SSM: start-up {phase(ssm, 0):.0f} ms (plus Powertools "
        f"Parameters and the boto3 client), first request {phase(ssm, 1):.1f} ms (GetParameter to moto on "
        f"loopback, decrypt, parse; on AWS add the SSM round trip). Under SnapStart the start-up runs before "
        "the snapshot and a restored instance pays only the first request. Peak RSS "
        f"{phase(env_key, 2) / 1024:.0f} MiB, {phase(ssm, 2) / 1024:.0f} MiB with SSM (medians)"
    )
    print(
        f"JWT mode, native, against TokenRequest mode: start-up {phase(jwt, 0):.0f} ms against "
        f"{phase(env_key, 0):.0f} ms ({phase(jwt, 0) / phase(env_key, 0):.2f}x), of which CPU "
        f"{phase(jwt, 3):.0f} ms against {phase(env_key, 3):.0f} ms "
        f"({phase(jwt, 3) / phase(env_key, 3):.2f}x); "
        f"first request {phase(jwt, 1):.1f} ms against {phase(env_key, 1):.1f} ms; peak RSS "
        f"{phase(jwt, 2) / 1024:.0f} MiB against {phase(env_key, 2) / 1024:.0f} MiB"
    )
    jwt_pyodide, pyodide = (statistics.median(c.total_ms for c in cold[name]) for name in PYODIDE_ROWS)
    print(f"JWT mode in Pyodide: cold start {jwt_pyodide / pyodide:.2f}x TokenRequest mode's (medians)")
    if instructions is None:
        print("(no valgrind: the cold starts' instruction counts were not measured)")
    else:
        token_request, jwt_mode = instructions
        print(
            f"native cold start in machine instructions (callgrind, whole process): TokenRequest mode "
            f"{token_request / 1e6:.1f} M, JWT mode {jwt_mode / 1e6:.1f} M ({jwt_mode / token_request:.3f}x)"
        )


if __name__ == "__main__":
    main()

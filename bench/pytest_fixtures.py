"""What the pytest plugin's fixtures cost a test run, and why the service is per session and the app per test.

Each figure is a median of several runs: starting and stopping a service on its own thread (what
`ably_local` does once per session, and what a service per test would cost every test: the baseline),
provisioning and deleting an app through the sandbox (what `ably_app` does every test), and the import of
the plugin module in a fresh interpreter (what every pytest run of an environment with the package
installed pays), against importing the service itself (what a plugin importing it up front would pay).

Usage: .venv/bin/python bench/pytest_fixtures.py [--services 10] [--apps 200]
"""

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def median_ms(action: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def import_ms(module: str, runs: int) -> float:
    """A fresh interpreter per run, pytest already imported, as pytest imports its plugins."""
    probe = (
        f"import time, pytest; t = time.perf_counter(); import {module}; "
        "print((time.perf_counter() - t) * 1000)"
    )
    timings = [float(subprocess.check_output([sys.executable, "-c", probe])) for _ in range(runs)]
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--apps", type=int, default=200)
    args = parser.parse_args()

    plugin_ms = import_ms("ably_local.pytest_plugin", 5)
    eager_ms = import_ms("ably_local.testing", 5)
    from ably_local.testing import provision_app, running_service

    def start_and_stop() -> None:
        with running_service(sandbox=True):
            pass

    service_ms = median_ms(start_and_stop, args.services)
    with running_service(sandbox=True) as service:
        app_ms = median_ms(lambda: provision_app(service).delete(), args.apps)

    rows = [
        ("plugin import (every pytest run)", plugin_ms),
        ("the service's import (a plugin importing it eagerly)", eager_ms),
        ("service start and stop (per session; the baseline)", service_ms),
        ("app provision and delete (per test)", app_ms),
    ]
    for label, ms in rows:
        print(f"{label:<52} {ms:8.2f} ms")
    print(f"the plugin's import costs {plugin_ms / eager_ms:.3f}x an eager one")
    print(f"a fresh app per test costs {app_ms / service_ms:.3f}x a fresh service per test")


if __name__ == "__main__":
    main()

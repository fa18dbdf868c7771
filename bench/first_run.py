"""A newcomer's first `make dev`: time from a fresh clone to the page being served, and what it installed.

For each of --runs fresh copies of the repository (bench/fresh_checkout.py): seconds from `make dev` to
the dev server's banner on the first run (venv, npm ci, build, start), the size of `.venv` and
`node_modules`, and the seconds to the banner on the next --later starts. The package downloads go to the
registries each time (pip keeps no cache of them here; npm's cache is whatever this machine has).

Usage: .venv/bin/python bench/first_run.py [--runs 3] [--later 3]
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

if not __package__:  # run as a script (python bench/first_run.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fresh_checkout import fresh_checkout, make_dev, tree_bytes

MB = 1_000_000


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} {unit} (min {low:.{digits}f}, max {high:.{digits}f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--later", type=int, default=3)
    args = parser.parse_args()
    first, first_cpu, later, venv, node = [], [], [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="first-run-") as directory:
            checkout = fresh_checkout(Path(directory) / "clone")
            with make_dev(checkout) as started:
                httpx.get(started.url, timeout=10).raise_for_status()
            first.append(started.seconds_to_banner)
            first_cpu.append(started.cpu_seconds)
            venv.append(tree_bytes(checkout / ".venv") / MB)
            node.append(tree_bytes(checkout / "node_modules") / MB)
            for _ in range(args.later):
                with make_dev(checkout) as again:
                    httpx.get(again.url, timeout=10).raise_for_status()
                later.append(again.seconds_to_banner)
            print(
                f"run {run + 1}: first start {started.seconds_to_banner:.1f} s "
                f"(CPU {started.cpu_seconds:.1f} s, load average {os.getloadavg()[0]:.1f}), "
                f".venv {venv[-1]:.0f} MB"
            )
    print(f"\nmachine: {platform.machine()}, Python {platform.python_version()}, {_cpus()} CPUs")
    print(f"first `make dev` to serving:  {spread(first, 's')}")
    print(f"  CPU time of that first run: {spread(first_cpu, 's')}")
    print(f"later `make dev` to serving:  {spread(later, 's', 2)}")
    print(f".venv after the first run:    {spread(venv, 'MB', 0)}")
    print(f"node_modules:                 {spread(node, 'MB', 0)}")


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()

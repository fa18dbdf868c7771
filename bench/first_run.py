"""A newcomer's first `make dev`: time from a fresh clone to the page being served, and what it installed.

For each of --runs fresh copies of the repository (bench/fresh_checkout.py): seconds from `make dev` to
the dev server's banner on the first run (venv, npm ci, build, start), the size of `.venv` and
`node_modules`, and the seconds to the banner on the next --later starts. The package downloads go to the
registries each time (pip keeps no cache of them here; npm's cache is whatever this machine has).

With --baseline REV, each run also measures a fresh copy whose Makefile is the one at git revision REV
(e.g. the commit before `make dev` stopped installing the test tools), in the same conditions.

Usage: .venv/bin/python bench/first_run.py [--runs 3] [--later 3] [--baseline REV]
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

if not __package__:  # run as a script (python bench/first_run.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fresh_checkout import ROOT, fresh_checkout, make_dev, tree_bytes

MB = 1_000_000


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} {unit} (min {low:.{digits}f}, max {high:.{digits}f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--later", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision whose Makefile is measured alongside")
    args = parser.parse_args()
    baseline_first, baseline_cpu, baseline_venv = [], [], []
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
            if args.baseline:
                with tempfile.TemporaryDirectory(prefix="first-run-baseline-") as other:
                    copy = fresh_checkout(Path(other) / "clone")
                    (copy / "Makefile").write_bytes(_file_at(args.baseline, "Makefile"))
                    with make_dev(copy) as old:
                        httpx.get(old.url, timeout=10).raise_for_status()
                    baseline_first.append(old.seconds_to_banner)
                    baseline_cpu.append(old.cpu_seconds)
                    baseline_venv.append(tree_bytes(copy / ".venv") / MB)
                print(
                    f"run {run + 1}, baseline: first start {old.seconds_to_banner:.1f} s "
                    f"(CPU {old.cpu_seconds:.1f} s), .venv {baseline_venv[-1]:.0f} MB"
                )
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
    if baseline_first:
        print(f"\nbaseline (Makefile at {args.baseline}):")
        print(f"first `make dev` to serving:  {spread(baseline_first, 's')}")
        print(f"  CPU time of that first run: {spread(baseline_cpu, 's')}")
        print(f".venv after the first run:    {spread(baseline_venv, 'MB', 0)}")
        ratio = statistics.median(first) / statistics.median(baseline_first)
        print(f"first run, this / baseline (medians): {ratio:.2f}")


def _file_at(revision: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True, capture_output=True
    ).stdout


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()

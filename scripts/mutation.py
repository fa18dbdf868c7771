"""Mutation testing (`make mutation`): how many deliberate small bugs the tests notice, per module.

Two targets, each with the tests that hold it:
  token-function  functions/ably-token-request (handler.py, ably_token_request/) against tests/function
  rate-limit      the dev server's reading and enforcing of a function's declared rate limit
                  (src/devserver/function_config.py, rate_limit.py) against its tests in tests/client

mutmut names a mutated module after its path below the directory it runs in, and that name must be the one
the tests import. The function lives in functions/ably-token-request/ (a hyphen: no package path reaches it)
and the tests import it as `handler` and `ably_token_request` through pytest's pythonpath, so mutmut runs in
build/mutation/<target>/, a copy laid out the way it expects: the code under src/ (imported as the tests
import it), the tests and what they read beside it. mutmut mutates the copy, runs the tests against each
mutant, and this script then prints the score per module and every mutant the tests let through.

mutmut mutates the bodies of functions and methods, not module-level constants: the limits and allow-lists
in limits.py and settings.py are held by tests at their edges, not measured here.
"""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGES = ROOT / "build" / "mutation"
# Half the machine's cores by default: the runs share it (MUTATION_JOBS overrides).
JOBS = int(os.environ.get("MUTATION_JOBS", max(1, (os.cpu_count() or 2) // 2)))


@dataclass(frozen=True)
class Target:
    title: str
    code: tuple[tuple[str, str], ...]  # (a path in the repository, where it goes in the copy)
    tests: tuple[str, ...]  # the tests run against each mutant
    support: tuple[str, ...] = ()  # what the tests read besides, copied as it is
    only: tuple[str, ...] = ()  # the files mutated, when not all of the code
    pythonpath: tuple[str, ...] = ()  # pytest's, in the copy (src/ is on sys.path already)


TARGETS = {
    "token-function": Target(
        "functions/ably-token-request",
        code=(
            ("functions/ably-token-request/ably_token_request", "src/ably_token_request"),
            ("functions/ably-token-request/handler.py", "src/handler.py"),
        ),
        tests=("tests/function",),
        # Some tests hold the docs to the code: what a JWT holds, the limits table.
        support=("tests/docs.py", "docs", "README.md"),
    ),
    "rate-limit": Target(
        "the dev server's rate limit",
        code=(("src/devserver", "src/devserver"),),
        tests=("tests/client/test_devserver_rate_limit.py",),
        support=("tests/client", "tests/docs.py", "functions/ably-token-request", "docs", "README.md"),
        only=("src/devserver/function_config.py", "src/devserver/rate_limit.py"),
        # tests/conftest.py imports the token function's handler, as pytest's pythonpath lets it.
        pythonpath=("functions/ably-token-request",),
    ),
}
IGNORED = shutil.ignore_patterns("__pycache__", "node_modules", "pyodide-bundle", "*.so")


def mutmut_config(target: Target) -> dict[str, object]:
    return {
        "source_paths": ["src"],
        # mutmut copies tests/ into its own folder by itself; what else the tests read has to be named.
        "also_copy": [path for path in target.support if not path.startswith("tests/")],
        "only_mutate": list(target.only),
        "pytest_add_cli_args_test_selection": list(target.tests),
        # A fixed hypothesis seed, so a fuzz test draws the same events for every mutant and every run.
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "--hypothesis-seed=0"],
        # A mutant make lint would refuse (mypy --strict) can never be committed: mypy sorts those out first.
        "type_check_command": [sys.executable, "-m", "mypy", "--output", "json"],
        "process_isolation": "fork",
    }


KILLED = {"killed", "timeout"}
# Mutants mypy --strict refuses: make lint stops them before a commit, so the score leaves them out.
REFUSED = "caught by type check"
# Not a verdict: the run stopped before it tried them.
UNTRIED = "not checked"


def stage(name: str) -> Path:
    """A fresh copy every run: mutmut keeps verdicts across runs, which a changed test would not revisit."""
    target, copy = TARGETS[name], STAGES / name
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for source, destination in target.code:
        _copy(ROOT / source, copy / destination)
    for path in ("tests/__init__.py", "tests/conftest.py", *target.tests, *target.support):
        _copy(ROOT / path, copy / path)
    with open(ROOT / "pyproject.toml", "rb") as file:
        tool = tomllib.load(file)["tool"]
    # The project's own pytest and mypy settings, for where the code is here: mutmut puts src/ on sys.path.
    pytest_options = {
        **{k: v for k, v in tool["pytest"]["ini_options"].items() if k not in {"pythonpath", "testpaths"}},
        "pythonpath": list(target.pythonpath),
    }
    # mutmut's trampolines carry `type: ignore`s that strict mode would report as unused.
    mypy_options = {**tool["mypy"], "mypy_path": ["src"], "files": ["src"], "warn_unused_ignores": False}
    (copy / "pyproject.toml").write_text(
        toml("tool.mutmut", mutmut_config(target))
        + toml("tool.pytest.ini_options", pytest_options)
        + toml("tool.mypy", mypy_options)
    )
    return copy


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, ignore=IGNORED, dirs_exist_ok=True)
    else:
        shutil.copy2(source, destination)


def toml(name: str, table: dict[str, Any]) -> str:
    """A TOML table of strings, numbers, booleans and lists of them (JSON spells those the same way)."""
    values = "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in table.items() if not _is_tables(value)
    )
    tables = "".join(
        f"[[{name}.{key}]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in item.items())
        for key, value in table.items()
        if _is_tables(value)
        for item in value
    )
    return f"[{name}]\n{values}{tables}\n"


def _is_tables(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


@contextmanager
def inside(copy: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(copy)
    try:
        yield
    finally:
        os.chdir(previous)


def run_mutmut(copy: Path) -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(JOBS)]
    environ = {**os.environ, "MUTATION_RUN": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if sys.stdout.isatty():
        return subprocess.run(command, cwd=copy, env=environ, check=False).returncode
    # mutmut redraws one status line with carriage returns; a log keeps only what each line ends as.
    with subprocess.Popen(command, cwd=copy, env=environ, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if shown := line.decode(errors="replace").rstrip("\n").rsplit("\r", 1)[-1].strip():
                print(shown, flush=True)
    return process.returncode


def report(name: str) -> None:
    """The score per module and overall, then each surviving mutant as a diff against the original."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    copy = STAGES / name
    with inside(copy):
        statuses: dict[str, Counter[str]] = {}
        survivors: list[tuple[str, Path, str]] = []
        for path in sorted(walk_mutatable_files()):
            data = SourceFileMutationData(path=path)
            data.load()
            module = str(path.relative_to("src").with_suffix("")).replace(os.sep, ".")
            counts = statuses.setdefault(module, Counter())
            for mutant, exit_code in sorted(data.exit_code_by_key.items()):
                status = status_by_exit_code[exit_code]
                counts[status] += 1
                if status not in KILLED | {REFUSED, UNTRIED}:
                    survivors.append((mutant, path, status))
        diffs = [
            (mutant, status, get_diff_for_mutant(mutant, path=where)) for mutant, where, status in survivors
        ]

    print(f"\nMutation score of {TARGETS[name].title} against {', '.join(TARGETS[name].tests)}")
    print("(tested: the mutants mypy --strict lets through; score: the share of those the tests kill)\n")
    header = (
        f"{'module':<32} {'mutants':>7} {'mypy':>6} {'tested':>6} {'killed':>6} {'survived':>8} {'score':>6}"
    )
    print(header)
    print("-" * len(header))
    total: Counter[str] = Counter()
    for module, counts in statuses.items():
        if counts:
            total.update(counts)
            print(_row(module, counts))
    print("-" * len(header))
    print(_row("overall", total))
    caught = sum(total[status] for status in KILLED | {REFUSED})
    mutants = sum(total.values()) - total[UNTRIED]
    if mutants:
        print(f"caught by mypy or the tests: {caught} of {mutants} mutants ({100 * caught / mutants:.1f}%)")
    if total[UNTRIED]:
        print(f"({total[UNTRIED]} mutants not tried: the run was stopped; they are left out)")
    others = sorted(set(total) - KILLED - {REFUSED, "survived", UNTRIED})
    if others:
        print("not killed, besides survivors: " + ", ".join(f"{total[status]} {status}" for status in others))
    print(f"\nSurviving mutants ({len(diffs)}); `cd {copy.relative_to(ROOT)} && mutmut show NAME` for one:\n")
    for mutant, status, diff in diffs:
        print(f"{mutant} ({status})")
        print(diff.rstrip() + "\n")


def _row(module: str, counts: Counter[str]) -> str:
    mutants = sum(counts.values()) - counts[UNTRIED]
    tested = mutants - counts[REFUSED]
    killed = sum(counts[status] for status in KILLED)
    score = f"{100 * killed / tested:.1f}%" if tested else "-"
    return (
        f"{module:<32} {mutants:>7} {counts[REFUSED]:>5} {tested:>6} {killed:>6} "
        f"{tested - killed:>8} {score:>6}"
    )


def main(argv: list[str]) -> int:
    """`mutation.py [TARGET...]` runs the targets (all by default); `mutation.py report [TARGET...]` prints
    the last run's results again."""
    reprint = argv[:1] == ["report"]
    names = argv[1:] if reprint else argv
    unknown = set(names) - set(TARGETS)
    if unknown:
        print(f"unknown target {', '.join(sorted(unknown))}; the targets are {', '.join(TARGETS)}")
        return 2
    for name in names or TARGETS:
        if not reprint and (status := run_mutmut(stage(name))) != 0:
            return status
        report(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

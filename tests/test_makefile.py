"""`make test` says what it is doing: every step of it prints one `==> ` line before its commands.

Traced on a fresh copy of the repository (nothing installed), where every step is due: `make -n --trace`
prints each rule it would run, headed by the rule's target, without running it.
"""

import re
import subprocess
from pathlib import Path

import pytest

from bench.fresh_checkout import fresh_checkout

RULE = re.compile(r"^Makefile:\d+: (?:update )?target '([^']+)'")
STEP = re.compile(r'^echo "==> .+"$')
# Creating .venv is the first half of the next step, the install into it, which says so.
SAID_BY_THE_NEXT_STEP = {".venv/bin/python"}


def traced_rules(checkout: Path, goal: str) -> dict[str, list[str]]:
    """The commands of each rule `make GOAL` would run, by target, in order."""
    traced = subprocess.run(
        ["make", "-n", "--trace", "--no-print-directory", goal],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    rules: dict[str, list[str]] = {}
    commands: list[str] = []
    for line in traced.splitlines():
        rule = RULE.match(line)
        if rule:
            commands = rules.setdefault(rule.group(1).removeprefix(f"{checkout}/"), [])
        elif not line.startswith("\t"):  # a command's continuation line belongs to the command
            commands.append(line)
    return rules


@pytest.mark.parametrize("goal", ["test", "test-fast"])
def test_every_step_of_make_test_says_what_it_does(tmp_path: Path, goal: str) -> None:
    rules = traced_rules(fresh_checkout(tmp_path / "clone"), goal)
    silent = [
        target
        for target, commands in rules.items()
        if commands and not STEP.match(commands[0]) and target not in SAID_BY_THE_NEXT_STEP
    ]
    assert not silent, f"these steps of make {goal} print no '==> ' line first: {silent}"
    steps = [commands[0] for commands in rules.values() if commands and STEP.match(commands[0])]
    assert len(steps) == len(set(steps))
    for expected in ("Installing Netlify's CLI", "Checking the Python", "Checking for Chromium", "Running"):
        assert any(expected in step for step in steps), (expected, steps)

"""What a newcomer reads: a short README, and every code block there or in docs/ run by a test."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.docs import README, ROOT, all_snippets, readme_commands

# What the README is for: what this is, the two commands, deploying, the configuration, where to read more.
README_MAX_LINES = 200


def test_the_readme_stays_short() -> None:
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to a page under docs/"


def test_every_code_block_is_named_for_the_test_that_runs_it() -> None:
    unnamed = [block.where for block in all_snippets() if block.name is None]
    assert not unnamed, f"name these blocks with <!-- snippet: NAME --> and run them in a test: {unnamed}"
    names = [block.name for block in all_snippets()]
    assert len(names) == len(set(names)), names


def test_every_named_block_is_run_by_a_test() -> None:
    test_sources = "\n".join(
        path.read_text() for path in (ROOT / "tests").rglob("*.py") if path != Path(__file__)
    )
    asked_for = set(re.findall(r"""snippet\(["']([\w-]+)["']\)""", test_sources))
    not_run = [block.where for block in all_snippets() if block.name not in asked_for]
    assert not not_run, f"no test runs these blocks: {not_run}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in script if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == [readme_commands()["test"]]


def docs_build_command() -> list[str]:
    """The command `make docs` runs (its recipe in the Makefile), with this interpreter."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\ndocs:") :].split("\n\n", 1)[0]
    (line,) = [line for line in recipe.splitlines() if "mkdocs" in line and not line.lstrip().startswith("#")]
    return [sys.executable, *shlex.split(line.split("$(PY)", 1)[1])]


def test_make_docs_fails_on_a_broken_link(tmp_path: Path) -> None:
    for name in ("mkdocs.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    assert subprocess.run(docs_build_command(), cwd=tmp_path, capture_output=True).returncode == 0

    with (tmp_path / "docs" / "index.md").open("a") as index:
        index.write("\nSee [the limits](local-service.md#no-such-section).\n")
    broken = subprocess.run(docs_build_command(), cwd=tmp_path, capture_output=True, text=True)
    assert broken.returncode != 0
    assert "no-such-section" in broken.stderr

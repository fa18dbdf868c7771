"""`pip install` as another project meets it: a clean clone of this repository (its committed HEAD),
installed into fresh virtual environments, then the `ably-local` command and the pytest plugin run from a
folder outside the repository, where no file of the checkout is at hand.

Slow: the wheel build compiles the core when this machine has a C compiler (a minute or more).
"""

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from tests.docs import ROOT, snippet
from tests.realtime.test_ably_local_command import TEST_HOST, ably_local

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
BUILD_TIMEOUT_S = 1200
# A compiler that is not there, as setuptools finds it (CC wins over Python's own configuration).
NO_COMPILER = {"CC": "/nonexistent/cc"}
# What the documented example installs besides the package, at the versions this project tests with.
EXAMPLE_PACKAGES = ("pytest", "pytest-asyncio", "ably")


def run(argv: list[str], cwd: Path, env: Mapping[str, str] = {}) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ABLY_"))}
    result = subprocess.run(
        argv, cwd=cwd, env={**environ, **env}, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def documented_commands(name: str, cwd: Path, env: Mapping[str, str] = {}) -> None:
    """Each line of a documented shell block, as printed (comments are the shell's)."""
    for line in snippet(name).text.splitlines():
        run(["bash", "-c", line], cwd, env)


def clean_clone(into: Path) -> Path:
    clone = into / "serverless-websockets"
    run(["git", "clone", "--quiet", str(ROOT), str(clone)], into)
    return clone


def example_pins(folder: Path) -> dict[str, str]:
    """PIP_CONSTRAINT holding this project's pins for the example's packages."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pins = [pin for pin in extras["test"] + extras["dev"] if pin.split("==")[0] in EXAMPLE_PACKAGES]
    (folder / "constraints.txt").write_text("\n".join(pins) + "\n")
    return {"PIP_CONSTRAINT": str(folder / "constraints.txt")}


def has_c_compiler() -> bool:
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")[0]
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(compiler) is not None and headers.is_file()


def core_file(python: Path, cwd: Path) -> str:
    return run([str(python), "-c", "import ably_local.protocol as p; print(p.__file__)"], cwd).strip()


class Installed(NamedTuple):
    wheel: Path
    venv: Path
    project: Path  # a folder outside the repository, with the venv as its .venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A wheel built with `pip wheel` from a clean clone, installed into a fresh venv."""
    work = tmp_path_factory.mktemp("wheel")
    clone = clean_clone(work)
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], work)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    run([*pip, "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(clone)], work)
    (wheel,) = (work / "dist").glob("*.whl")
    run([*pip, "install", str(wheel)], work)
    project = work / "project"
    project.mkdir()
    (project / ".venv").symlink_to(venv)
    return Installed(wheel, venv, project)


def test_the_wheel_has_the_compiled_core_where_the_machine_can_build_it(installed: Installed) -> None:
    compiled = has_c_compiler()
    assert installed.wheel.name.endswith("-py3-none-any.whl") is not compiled, installed.wheel.name
    assert core_file(installed.venv / "bin" / "python", installed.project).endswith(".so") is compiled


def test_the_command_runs_outside_the_repository(installed: Installed) -> None:
    command = f"{installed.venv}/bin/ably-local --host {TEST_HOST} --port 0"
    with ably_local(command, cwd=installed.project) as banner:
        url = banner.split(" on ", 1)[1].split()[0]
        assert httpx.get(f"{url}/time").status_code == 200
    assert ("Core: compiled (mypyc)" in banner) is has_c_compiler(), banner


def test_the_documented_example_runs_on_the_installed_plugin(installed: Installed) -> None:
    *_, install_example_packages = snippet("pip-install-ably-local").text.splitlines()
    run(["bash", "-c", install_example_packages], installed.project, example_pins(installed.project))
    (installed.project / "test_realtime.py").write_text(snippet("pytest-plugin-example").text)
    output = run(shlex.split(snippet("pytest-plugin-run").text), installed.project)
    assert "3 passed" in output


def test_every_way_of_installing_works_without_a_compiler(tmp_path: Path) -> None:
    """The documented install as printed, then from a git URL and editable: each a plain-Python install."""
    clone = clean_clone(tmp_path)
    documented_commands("pip-install-ably-local", tmp_path, {**NO_COMPILER, **example_pins(tmp_path)})
    python = tmp_path / ".venv" / "bin" / "python"
    assert core_file(python, tmp_path).endswith("/site-packages/ably_local/protocol.py")

    reinstall = [str(python), "-m", "pip", "install", "--force-reinstall", "--no-deps"]
    run([*reinstall, f"git+file://{clone}"], tmp_path, NO_COMPILER)
    assert core_file(python, tmp_path).endswith("/site-packages/ably_local/protocol.py")
    run([*reinstall, "-e", str(clone)], tmp_path, NO_COMPILER)
    assert core_file(python, tmp_path) == f"{clone}/src/ably_local/protocol.py"
    with ably_local(f"{tmp_path}/.venv/bin/ably-local --host {TEST_HOST} --port 0", cwd=tmp_path) as banner:
        assert "Core: plain Python, not compiled (`pip install -v` shows why)" in banner

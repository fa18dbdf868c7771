"""Compiles the local service's sans-I/O core with mypyc, when this machine can build C extensions.

The core (protocol, auth, channels, presence, history, fan-out) is plain, fully typed Python with no I/O;
mypyc turns each of its modules into a C extension that runs a publish about twice as fast. The network
layer, the REST API and the entry points stay Python.

An install never fails because of the compile. Without a C compiler or Python's headers, or with
ABLY_LOCAL_PURE_PYTHON=1, nothing is compiled; a type check or C build that fails anyway is reported on
stderr (pip shows it with -v) and the same modules install as plain Python. `make test` and `make bench`
set ABLY_LOCAL_REQUIRE_COMPILED=1: they measure the compiled core, so there a failed compile stops them.
"""

import os
import shlex
import shutil
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

PACKAGE = Path("src/ably_local")
# The modules that touch sockets, HTTP, pytest or the process: they gain little and stay plain Python.
NOT_COMPILED = {
    "__init__.py",
    "__main__.py",
    "listening.py",
    "pytest_plugin.py",
    "server.py",
    "testing.py",
    "websocket.py",
}
# The build's own type check, there only to give mypyc its types (`make lint` is the strict one): no config
# file, and nothing outside the compiled modules is analysed. The third-party modules they import must
# still be found (see build_requirements): mypyc calls into a module it found directly, and into one it
# did not through a dictionary look-up each time. The fallback import in frames.py redefines a name that
# is untyped here.
MYPY_OPTIONS = ["--config-file=", "--follow-imports=skip", "--disable-error-code=no-redef"]
# msgpack ships no types of its own; websockets and orjson do.
STUB_PACKAGES = ("msgpack-types",)


def core_modules() -> list[str]:
    return sorted(str(path) for path in PACKAGE.glob("*.py") if path.name not in NOT_COMPILED)


def build_requirements() -> list[str]:
    """What pip puts in its isolated build environment when the core is compiled: mypyc (with the mypy the
    lint uses, pinned in pyproject's test extra), the packages the service runs on, and msgpack's types."""
    with open("pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    test_extra = project["optional-dependencies"]["test"]
    mypy = next(requirement for requirement in test_extra if requirement.startswith("mypy=="))
    stubs = [requirement for requirement in test_extra if requirement.startswith(STUB_PACKAGES)]
    return [mypy, *project["dependencies"], *stubs]


def compiler_missing() -> str | None:
    """Why this machine cannot build C extensions, or None. CC in the environment wins, as in setuptools."""
    if os.environ.get("ABLY_LOCAL_PURE_PYTHON") == "1":
        return "ABLY_LOCAL_PURE_PYTHON=1"
    command = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if not command or shutil.which(command[0]) is None:
        return f"no C compiler ({command[0] if command else 'CC is empty'})"
    if not Path(sysconfig.get_paths()["include"], "Python.h").is_file():
        return "no Python headers (Python.h; on Debian, the python3-dev package)"
    return None


def plain_python(reason: str) -> None:
    if os.environ.get("ABLY_LOCAL_REQUIRE_COMPILED") == "1":
        sys.exit(f"The local service's core was not compiled, and ABLY_LOCAL_REQUIRE_COMPILED=1: {reason}")
    rule = "=" * 78
    print(
        f"{rule}\nserverless-websockets: the local service's core is NOT compiled: {reason}\n"
        f"It installs as plain Python, which runs a publish at about half the speed.\n{rule}",
        file=sys.stderr,
    )


class BuildCoreOrPlainPython(build_ext):
    """A core whose C build fails is left out whole (its modules share one library), not half-installed."""

    def run(self) -> None:
        try:
            super().run()
        except (CCompilerError, BaseError) as error:
            for built in self.get_outputs():
                Path(built).unlink(missing_ok=True)
            plain_python(f"the C build failed ({str(error)[:200]})")


def build_options() -> dict[str, Any]:
    if reason := compiler_missing():
        if reason != "ABLY_LOCAL_PURE_PYTHON=1":
            plain_python(reason)
        return {}
    try:
        from mypyc.build import mypycify
    except ImportError:  # pip first asks which packages the build needs: these only when it will compile
        return {"setup_requires": build_requirements()}
    try:
        extensions = mypycify([*MYPY_OPTIONS, *core_modules()], target_dir="build/mypyc")
    except SystemExit as failure:  # how mypyc stops, after printing mypy's messages
        plain_python(failure.code if isinstance(failure.code, str) else "mypyc's type check failed (above)")
        return {}
    return {"ext_modules": extensions, "cmdclass": {"build_ext": BuildCoreOrPlainPython}}


setup(**build_options())

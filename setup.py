"""Compiles the local service's sans-I/O core with mypyc, when this machine can build C extensions.

The core (protocol, auth, channels, presence, history, fan-out) is plain, fully typed Python with no I/O;
mypyc turns each of its modules into a C extension that runs a publish about twice as fast. The network
layer, the REST API and the entry points stay Python. Without a C compiler and Python's headers, or with
ABLY_LOCAL_PURE_PYTHON=1, nothing is compiled and the same modules run as Python.
"""

import os
import shlex
import shutil
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

from setuptools import setup

PACKAGE = Path("src/ably_local")
# The modules that touch sockets, HTTP or the process: they gain little and stay plain Python.
NOT_COMPILED = {"__init__.py", "__main__.py", "listening.py", "server.py", "testing.py", "websocket.py"}


def core_modules() -> list[str]:
    return sorted(str(path) for path in PACKAGE.glob("*.py") if path.name not in NOT_COMPILED)


def mypyc_requirement() -> str:
    """mypyc comes with mypy: the mypy the type checks use, pinned once in pyproject's test extra."""
    with open("pyproject.toml", "rb") as pyproject:
        test_extra = tomllib.load(pyproject)["project"]["optional-dependencies"]["test"]
    return next(requirement for requirement in test_extra if requirement.startswith("mypy=="))


def can_compile() -> bool:
    if os.environ.get("ABLY_LOCAL_PURE_PYTHON") == "1":
        return False
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")[:1]
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return bool(compiler) and shutil.which(compiler[0]) is not None and headers.is_file()


def build_options() -> dict[str, Any]:
    if not can_compile():
        return {}
    try:
        from mypyc.build import mypycify
    except ImportError:  # pip first asks which packages the build needs: mypyc only when it will compile
        return {"setup_requires": [mypyc_requirement()]}
    return {"ext_modules": mypycify(core_modules(), target_dir="build/mypyc")}


setup(**build_options())

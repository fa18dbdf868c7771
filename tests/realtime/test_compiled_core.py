"""The service's core runs compiled (setup.py, mypyc), and the tests never run an outdated build of it."""

import importlib
import os
import time
from pathlib import Path

import pytest

from tests.conftest import outdated_compiled_modules

# The publish path, end to end: a frame decoded, checked, stamped, recorded and fanned out.
PUBLISH_PATH = [
    "protocol",
    "inbound",
    "realtime",
    "rate_limits",
    "messaging",
    "claims",
    "history",
    "fanout",
    "connection",
    "stats",
]


@pytest.mark.skipif(
    os.environ.get("ABLY_LOCAL_PURE_PYTHON") == "1", reason="ABLY_LOCAL_PURE_PYTHON=1: plain Python asked for"
)
@pytest.mark.parametrize("name", PUBLISH_PATH)
def test_publish_path_runs_compiled(name: str) -> None:
    module = importlib.import_module(f"ably_local.{name}")
    assert module.__file__ is not None
    assert module.__file__.endswith(".so"), module.__file__


def test_an_edit_after_the_compile_is_caught(tmp_path: Path) -> None:
    (tmp_path / "realtime.py").write_text("")
    (tmp_path / "fanout.py").write_text("")
    (tmp_path / "realtime.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (tmp_path / "fanout.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert outdated_compiled_modules(tmp_path) == []

    later = time.time() + 10
    os.utime(tmp_path / "realtime.py", (later, later))
    assert outdated_compiled_modules(tmp_path) == ["realtime.py"]


def test_a_deleted_source_is_caught(tmp_path: Path) -> None:
    (tmp_path / "gone.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert outdated_compiled_modules(tmp_path) == ["gone.py"]

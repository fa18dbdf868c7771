"""The pytest plugin as another project meets it: installed with the package, loaded by pytest on its own,
in a run outside this repository (its own folder, no conftest, no config of ours)."""

import importlib.metadata
import os
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ably_local.server import LocalAbly
from ably_local.testing import ProvisioningFailed, provision_app, running_service
from tests.docs import ROOT, snippet

TIMEOUT_S = 120

FIXTURE_BEHAVIOUR = """
import asyncio

import httpx
import pytest
from ably import AblyRest

PORTS = set()


def test_one_service_for_the_session(ably_local):
    PORTS.add(ably_local.port)
    assert httpx.get(f"{ably_local.http_url}/time").status_code == 200


def test_still_the_same_service(ably_local):
    assert PORTS == {ably_local.port}


@pytest.mark.asyncio
async def test_an_app_of_its_own_on_that_service(ably_local, ably_app):
    assert (ably_app.host, ably_app.port) == (ably_local.host, ably_local.port)
    assert ably_app.key_name.startswith(ably_app.app_id + ".")
    client = AblyRest(**ably_app.ably_python_options())
    await client.channels.get("shared-name").publish("only", "in this app")
    assert len((await client.channels.get("shared-name").history()).items) == 1
    await client.close()


@pytest.mark.asyncio
async def test_the_next_app_starts_empty(ably_app):
    client = AblyRest(**ably_app.ably_python_options())
    assert (await client.channels.get("shared-name").history()).items == []
    await client.close()


def test_the_service_key_works_from_sync_code_too(ably_local):
    async def publish():
        client = AblyRest(**ably_local.ably_python_options())
        await client.channels.get("sync").publish("m", "from a sync test")
        await client.close()

    asyncio.run(publish())
"""

SPEC_OVERRIDE = """
import json

import pytest


@pytest.fixture
def ably_app_spec():
    return {"keys": [{}, {"capability": '{"news:*":["subscribe"]}'}]}


def test_the_app_has_the_keys_asked_for(ably_app):
    assert len(ably_app.keys) == 2
    assert json.loads(ably_app.keys[1].capability) == {"news:*": ["subscribe"]}
    assert ably_app.api_key == ably_app.keys[0].value
"""


def run_in(folder: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """A command in `folder`, a project of its own: only what the installed package registers is ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ABLY_"))}
    return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def run_pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return run_in(folder, [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"])


def test_the_documented_example_passes_as_printed(tmp_path: Path) -> None:
    """docs/local-service.md: the example test file and the command that runs it, in a project whose
    `.venv` is this checkout's (where the package is installed, as `pip install` would)."""
    (tmp_path / "test_realtime.py").write_text(snippet("pytest-plugin-example").text)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    result = run_in(tmp_path, shlex.split(snippet("pytest-plugin-run").text))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalAbly]:
    with running_service(sandbox=True) as service:
        yield service


def test_installing_the_package_registers_the_plugin() -> None:
    (plugin,) = [
        point for point in importlib.metadata.entry_points(group="pytest11") if point.name == "ably_local"
    ]
    assert plugin.value == "ably_local.pytest_plugin"


def test_the_plugin_loads_nothing_of_the_service_until_a_test_asks() -> None:
    """pytest imports an installed plugin in every run of the environment, including this repository's."""
    probe = (
        "import sys, pytest; before = set(sys.modules); import ably_local.pytest_plugin; "
        "print(sorted(set(sys.modules) - before))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "['ably_local', 'ably_local.pytest_plugin']"


def test_the_fixtures_in_another_project(tmp_path: Path) -> None:
    (tmp_path / "test_behaviour.py").write_text(FIXTURE_BEHAVIOUR)
    (tmp_path / "test_spec.py").write_text(SPEC_OVERRIDE)
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_a_port_that_is_not_a_number_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nably_local_port = eighty\n")
    (tmp_path / "test_port.py").write_text("def test_port(ably_local):\n    pass\n")
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    assert "ably_local_port must be a port number, not 'eighty'" in result.stdout + result.stderr


def test_the_configured_address_is_used(tmp_path: Path) -> None:
    host = os.environ.get("ABLY_PYTHON_TEST_HOST", "127.0.0.41")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\nably_local_host = {host}\n")
    (tmp_path / "test_host.py").write_text(
        textwrap.dedent(f"""
        def test_host(ably_local, ably_app):
            assert ably_local.host == ably_app.host == {host!r}
            assert ably_local.client_options()["endpoint"] == {host!r}
        """)
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_refused_spec_raises_with_ablys_code(sandbox: LocalAbly) -> None:
    with pytest.raises(ProvisioningFailed, match="keys must be a list") as refused:
        provision_app(sandbox, {"keys": "all"})
    assert (refused.value.status, refused.value.code) == (400, 40000)


def test_a_deleted_app_refuses_its_key(sandbox: LocalAbly) -> None:
    app = provision_app(sandbox)
    history = f"{app.http_url}/channels/x/messages"
    name, secret = app.keys[0].name, app.keys[0].secret
    assert httpx.get(history, auth=(name, secret)).status_code == 200
    app.delete()
    assert httpx.get(history, auth=(name, secret)).status_code == 401
    with pytest.raises(ProvisioningFailed):
        app.delete()


def test_limits_set_in_the_ini_apply_to_every_app(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nably_local_limits =\n    connection_publish_rate=500\n    channels_per_connection = 300\n"
    )
    (tmp_path / "test_limits.py").write_text(
        textwrap.dedent("""
        def test_limits(ably_local, ably_app):
            for limits in (ably_local.service.limits, ably_local.apps.for_key(ably_app.api_key).limits):
                assert (limits.connection_publish_rate, limits.channels_per_connection) == (500, 300)
                assert limits.inbound_protocol_message_rate == 2000, "the others stay Ably's"
        """)
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_limit_in_the_ini_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nably_local_limits = publish_rate=500\n")
    (tmp_path / "test_limits.py").write_text("def test_limits(ably_local):\n    pass\n")
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    assert "ably_local_limits: 'publish_rate' is not a limit" in result.stdout + result.stderr

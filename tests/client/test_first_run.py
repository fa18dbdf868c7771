"""A newcomer's first `make dev` on a fresh clone: it installs only what running needs, says each step,
serves the page, and the next start installs nothing."""

import re
import tomllib
from pathlib import Path

import httpx
import pytest

from bench.fresh_checkout import ROOT, fresh_checkout, installed_distributions, make_dev, normalise
from tests.docs import readme_commands


def tools_only_for_tests() -> set[str]:
    """The test extra's packages that running does not need too (the dependencies and the dev extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]

    def names(requirements: list[str]) -> set[str]:
        return {
            normalise(re.match(r"[A-Za-z0-9_.-]+", requirement).group(0))  # type: ignore[union-attr]
            for requirement in requirements
        }

    return names(extras["test"]) - names(project["dependencies"] + extras["dev"])


def node_version() -> str:
    """The Node the Makefile installs (its NODE_VERSION)."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    return makefile.split("NODE_VERSION := ", 1)[1].split()[0]


@pytest.mark.slow
def test_first_make_dev_on_a_fresh_clone_serves_the_page_without_the_test_tools(tmp_path: Path) -> None:
    assert readme_commands()["dev"] == "make dev"  # what make_dev runs
    checkout = fresh_checkout(tmp_path / "clone")

    with make_dev(checkout) as first:
        page = httpx.get(first.url, timeout=10)
        token_request = httpx.get(f"{first.url}/.netlify/functions/ably-token-request", timeout=10)
    assert page.status_code == 200
    assert '<meta name="ably-client-options"' in page.text
    assert token_request.status_code == 200, token_request.text
    assert "mac" in token_request.json()
    # One line per step; the Python and npm installs run side by side, so their order may vary.
    assert sorted(first.steps) == sorted(
        [
            "Installing the runtime Python packages into .venv (first run only)",
            f"Installing Node {node_version()} from npm into .node/ (first run only)",
            "Installing the page's npm packages (first run only)",
            "Building the page into dist/",
        ]
    ), first.output
    assert first.steps[-1] == "Building the page into dist/"

    installed = installed_distributions(checkout)
    assert {"ably", "starlette", "uvicorn"} <= installed
    assert not installed & tools_only_for_tests()
    assert {"pytest", "playwright", "moto", "cfn-lint", "mypy"} <= tools_only_for_tests()

    assert "Traceback" not in first.after_stop  # Ctrl-C stops it quietly

    # Dev-server options pass through ARGS, as the README says.
    (tmp_path / "other.env").write_text("DEFAULT_CLIENT_ID=from-the-other-env-file\n")
    with make_dev(checkout, f"ARGS=--local --env-file {tmp_path / 'other.env'}") as later:
        client_id = httpx.get(f"{later.url}/.netlify/functions/ably-token-request", timeout=10).json()[
            "clientId"
        ]
    assert client_id == "from-the-other-env-file"
    assert len(later.output) == 1, later.output  # the banner and nothing before it: nothing to install

    (checkout / "client" / "style.css").touch()  # an edited page source is rebuilt on the next start
    with make_dev(checkout) as edited:
        assert httpx.get(f"{edited.url}/style.css", timeout=10).status_code == 200
    assert edited.steps == ["Building the page into dist/"]

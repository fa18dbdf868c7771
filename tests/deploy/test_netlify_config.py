"""netlify.toml: what the Deploy button asks for, and a page CSP that admits Ably and nothing else."""

import re
import tomllib
from typing import Any

import pytest

from tests.deploy.conftest import ROOT

ABLY_JS = ROOT / "node_modules" / "ably" / "build" / "ably.js"
# ably-js 2.28's default endpoint `main` becomes this host; its fallbacks and connectivity check follow.
PRIMARY_TEMPLATE = "${endpoint}.realtime.ably.net"
ABLY_JS_HOSTS = [
    *(f"main.{letter}.fallback.ably-realtime.com" for letter in "abcde"),
    "internet-up.ably-realtime.com",
]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "netlify.toml").read_text())


@pytest.fixture(scope="module")
def csp(config: dict[str, Any]) -> dict[str, list[str]]:
    (page,) = [rule for rule in config["headers"] if rule["for"] == "/*"]
    policy: str = page["values"]["Content-Security-Policy"]
    directives = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def allows(sources: list[str], url: str) -> bool:
    """CSP host-source matching for the scheme://host forms the policy uses ('*.' covers any depth)."""
    parsed = re.fullmatch(r"(\w+)://([^/:]+).*", url)
    assert parsed is not None, url
    scheme, host = parsed[1], parsed[2]
    for source in sources:
        match = re.fullmatch(r"(\w+)://(\*\.)?([^/:]+)", source)
        if match and match[1] == scheme and (host.endswith("." + match[3]) if match[2] else host == match[3]):
            return True
    return False


def ably_hosts() -> list[str]:
    bundle = ABLY_JS.read_text()
    assert PRIMARY_TEMPLATE in bundle
    for host in ABLY_JS_HOSTS:
        assert host in bundle, f"ably-js no longer uses {host}: update the list and netlify.toml"
    return ["main.realtime.ably.net", *ABLY_JS_HOSTS]


def test_deploy_button_asks_for_the_key_with_a_description(config: dict[str, Any]) -> None:
    assert "API key" in config["template"]["environment"]["ABLY_API_KEY"]
    assert config["build"]["publish"] == "dist"
    assert config["functions"]["directory"] == "functions"
    assert "build:netlify-function" in config["build"]["command"]


def test_page_may_reach_every_ably_js_host_over_websocket_and_https(csp: dict[str, list[str]]) -> None:
    for host in ably_hosts():
        for scheme in ("wss", "https"):
            assert allows(csp["connect-src"], f"{scheme}://{host}/"), f"{scheme}://{host}"


def test_page_may_reach_nothing_else(csp: dict[str, list[str]]) -> None:
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert not any("'unsafe-inline'" in sources for sources in csp.values())
    for url in ("https://evil.example/", "wss://ably.io.evil.example/", "ws://main.realtime.ably.net/"):
        assert not allows(csp["connect-src"], url), url
    assert csp["frame-ancestors"] == ["'none'"]

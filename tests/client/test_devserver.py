"""The dev server as a user meets it: one process, one origin, Netlify-shaped function calls."""

import html
import importlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest

from devserver.functions import FunctionRegistry
from tests.client.devserver_process import ROOT, dev_server
from tests.docs import page
from tests.function.signing import expected_mac

ECHO_FUNCTION = """
import html
import json
import re

def handler(event, context):
    if event["queryStringParameters"].get("fail"):
        raise RuntimeError("boom: secret-internals")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"version": VERSION, "event": event, "request_id": context.aws_request_id}),
    }
"""


@pytest.fixture
def functions_dir(tmp_path: Path) -> Path:
    echo = tmp_path / "functions" / "echo"
    echo.mkdir(parents=True)
    (echo / "handler.py").write_text("VERSION = 1\n" + ECHO_FUNCTION)
    shutil.copytree(
        ROOT / "functions" / "ably-token-request",
        tmp_path / "functions" / "ably-token-request",
        ignore=shutil.ignore_patterns("__pycache__", "node_modules"),
    )
    return tmp_path / "functions"


def test_serves_page_functions_and_realtime_on_one_origin() -> None:
    with dev_server() as server, httpx.Client(base_url=server.url) as http:
        assert "realtime: local realtime service" in server.banner
        page = http.get("/")
        assert page.status_code == 200
        assert '<meta name="ably-client-options"' in page.text
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert http.get("/app.js").status_code == 200
        assert http.get("/style.css").headers["content-type"].startswith("text/css")

        token_request = http.get("/.netlify/functions/ably-token-request", params={"clientId": "dev"}).json()
        assert token_request["clientId"] == "dev"
        token = http.post(f"/keys/{token_request['keyName']}/requestToken", json=token_request)
        assert token.status_code == 200, token.text
        assert token.json()["clientId"] == "dev"
        assert isinstance(http.get("/time").json()[0], int)


def test_function_gets_a_netlify_shaped_event(functions_dir: Path) -> None:
    with dev_server("--functions", str(functions_dir)) as server, httpx.Client(base_url=server.url) as http:
        answer = http.post(
            "/.netlify/functions/echo?a=1&a=2&b=x",
            content="clientId=alice",
            headers={"content-type": "application/x-www-form-urlencoded", "x-custom": "yes"},
        ).json()
    event = answer["event"]
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/.netlify/functions/echo"
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["queryStringParameters"]["b"] == "x"
    assert event["headers"]["x-custom"] == "yes"
    assert event["multiValueHeaders"]["x-custom"] == ["yes"]
    assert event["body"] == "clientId=alice"
    assert event["isBase64Encoded"] is False
    assert event["rawQuery"] == "a=1&a=2&b=x"
    assert event["rawUrl"].endswith("/.netlify/functions/echo?a=1&a=2&b=x")
    assert answer["request_id"]


def test_binary_bodies_arrive_base64_encoded(functions_dir: Path) -> None:
    with dev_server("--functions", str(functions_dir)) as server, httpx.Client(base_url=server.url) as http:
        event = http.post(
            "/.netlify/functions/echo",
            content=b"\x00\xff",
            headers={"content-type": "application/octet-stream"},
        ).json()["event"]
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AP8="


def test_a_raising_function_is_a_500_with_the_traceback_only_in_the_terminal(functions_dir: Path) -> None:
    with dev_server("--functions", str(functions_dir)) as server, httpx.Client(base_url=server.url) as http:
        response = http.get("/.netlify/functions/echo", params={"fail": "1"})
        assert http.get("/.netlify/functions/echo").status_code == 200  # still serving
        server.stop()
        terminal = server.terminal_output()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert "terminal" in response.json()["error"]["message"]
    assert "secret-internals" not in response.text
    assert "Traceback" in terminal
    assert "boom: secret-internals" in terminal


def test_function_code_reloads_when_it_changes(functions_dir: Path) -> None:
    handler = functions_dir / "echo" / "handler.py"
    with dev_server("--functions", str(functions_dir)) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/.netlify/functions/echo").json()["version"] == 1
        time.sleep(0.02)
        handler.write_text("VERSION = 2\n" + ECHO_FUNCTION)
        assert http.get("/.netlify/functions/echo").json()["version"] == 2


def test_unknown_function_and_file_are_404s() -> None:
    with dev_server() as server, httpx.Client(base_url=server.url) as http:
        missing = http.get("/.netlify/functions/nope")
        assert missing.status_code == 404
        assert json.loads(missing.text)["error"]["statusCode"] == 404
        assert http.get("/no-such-file.txt").status_code == 404


def test_ctrl_c_stops_cleanly() -> None:
    with dev_server() as server:
        assert httpx.get(server.url).status_code == 200
        assert server.stop() == 0
        assert "Traceback" not in server.terminal_output()


def test_the_key_secret_never_reaches_the_page_or_the_terminal() -> None:
    secret = "devServerSecret_0123456789abcdef"
    with (
        dev_server(ABLY_API_KEY=f"devApp.devKey:{secret}") as server,
        httpx.Client(base_url=server.url) as http,
    ):
        pages = [http.get(path).text for path in ("/", "/app.js", "/.netlify/functions/ably-token-request")]
        token_request = json.loads(pages[-1])
        server.stop()
        terminal = server.terminal_output()
    assert token_request["mac"] == expected_mac(token_request, secret)
    assert all(secret not in text for text in [*pages, terminal])


def test_with_a_real_key_the_page_talks_to_real_ably() -> None:
    with (
        dev_server(local=False, ABLY_API_KEY="realApp.realKey:notARealSecret") as server,
        httpx.Client(base_url=server.url) as http,
    ):
        page = http.get("/")
        local_route = http.get("/time")
    assert "ably-client-options" not in page.text  # ably-js uses its production defaults
    assert local_route.status_code == 404
    assert "realtime: real Ably" in server.banner


def test_dotenv_configures_functions_without_overriding_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DEFAULT_CLIENT_ID=from-dotenv\nABLY_TOKEN_TTL_MS=not-used\n")
    with (
        dev_server("--env-file", str(env_file), ABLY_TOKEN_TTL_MS="120000") as server,
        httpx.Client(base_url=server.url) as http,
    ):
        token_request = http.get("/.netlify/functions/ably-token-request").json()
    assert token_request["clientId"] == "from-dotenv"
    assert token_request["ttl"] == 120000


def test_the_docs_list_the_client_options_the_dev_server_adds() -> None:
    with dev_server() as server:
        served = httpx.get(server.url).text
    match = re.search(r'<meta name="ably-client-options" content="([^"]*)">', served)
    assert match is not None
    options = json.loads(html.unescape(match.group(1)))
    documented = page("page")
    listed = documented[documented.index('<meta name="ably-client-options">') :]
    listed = listed[: listed.index(")")]
    named = set(re.findall(r"`(\w+)", listed))
    assert named == set(options), f"docs/page.md lists {sorted(named)}, the dev server adds {sorted(options)}"


def test_a_reload_forgets_what_loading_the_function_imported_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dev server reloads a function whose helper module changed; a module the process had imported
    itself (a test importing the function's package) stays the object it holds, so its classes still match."""
    greet = tmp_path / "greet"
    greet.mkdir()
    (greet / "preloaded_helper.py").write_text("KIND = 'preloaded'\n")
    (greet / "greeting_words.py").write_text("WORD = 'hello'\n")
    (greet / "handler.py").write_text(
        "import greeting_words, preloaded_helper\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': greeting_words.WORD + ' ' + preloaded_helper.KIND}\n"
    )
    monkeypatch.syspath_prepend(str(greet))
    for name in ("preloaded_helper", "greeting_words"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    preloaded = importlib.import_module("preloaded_helper")
    registry = FunctionRegistry(tmp_path)

    assert registry.load("greet").module.handler({}, None)["body"] == "hello preloaded"
    later = time.time() + 10
    (greet / "greeting_words.py").write_text("WORD = 'hi'\n")
    os.utime(greet / "greeting_words.py", (later, later))
    assert registry.load("greet").module.handler({}, None)["body"] == "hi preloaded"
    assert sys.modules["preloaded_helper"] is preloaded
    sys.modules.pop("greeting_words", None)

"""What `make dev` prints: one short readable line per request, names as text, JSON only when asked for."""

import io
import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from devserver.request_log import FunctionOutput, printable, summary
from tests.client.devserver_process import ROOT, DevServer, dev_server
from tests.docs import snippet

TOKEN_FUNCTION = "/.netlify/functions/ably-token-request"
UNICORN = "🦄 Ada"
LINE = r"\d\d:\d\d:\d\d {method} {target} {status} \d+\.\d ms"
# A function of the developer's own: prints a line, then logs JSON the way Powertools does.
CHATTY_FUNCTION = """
import json

def handler(event, context):
    print("plain words from the function")
    client_id = event["queryStringParameters"].get("as", "")
    print(json.dumps({"level": "INFO", "message": "done", "outcome": "greeted", "client_id": client_id}))
    return {"statusCode": 200, "body": "hi"}
"""


def terminal_lines(server: DevServer) -> list[str]:
    server.stop()
    return server.terminal_output().splitlines()


def open_a_realtime_connection(server: DevServer, http: httpx.Client) -> None:
    """What the page does: a TokenRequest from the function, a token for it, a WebSocket with the token."""
    token_request = http.get(TOKEN_FUNCTION, params={"clientId": UNICORN}).json()
    token = http.post(f"/keys/{token_request['keyName']}/requestToken", json=token_request).json()["token"]
    url = server.url.replace("http://", "ws://") + f"/?access_token={token}&format=json&v=6"
    with connect(url) as socket:
        assert json.loads(socket.recv(timeout=10))["action"] == 4  # CONNECTED


def test_one_readable_line_per_request_with_names_as_typed() -> None:
    with dev_server() as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/").status_code == 200
        assert http.get("/style.css").status_code == 200  # a page file: not listed
        assert http.get(TOKEN_FUNCTION, params={"warmup": "1"}).status_code == 204
        open_a_realtime_connection(server, http)
        assert http.get(TOKEN_FUNCTION, params={"clientId": "*"}).status_code == 400
        assert http.get("/no-such-file.txt").status_code == 404
        lines = terminal_lines(server)
    requests = lines[lines.index("Press Ctrl-C to stop.") + 1 :]
    expected = [
        LINE.format(method="GET", target="/", status=200),
        LINE.format(method="GET", target="ably-token-request", status=204) + " warmup",
        LINE.format(method="GET", target="ably-token-request", status=200) + f" issued for {UNICORN}",
        LINE.format(method="POST", target=r"/keys/[\w.]+/requestToken", status=200),
        LINE.format(method="GET", target="ably-token-request", status=400) + " InvalidClientId",
        LINE.format(method="GET", target="/no-such-file.txt", status=404),
    ]
    assert len(requests) == len(expected), requests  # no JSON, no "connection open" for the WebSocket
    for line, pattern in zip(requests, expected, strict=True):
        assert re.fullmatch(pattern, line), line


def test_the_documented_terminal_lines_have_the_printed_form() -> None:
    documented = snippet("devserver-terminal").text.splitlines()
    forms = [
        LINE.format(method="GET", target="/", status=200),
        LINE.format(method="GET", target="ably-token-request", status=204) + " warmup",
        LINE.format(method="GET", target="ably-token-request", status=200) + " issued for .+",
        LINE.format(method="POST", target=r"/keys/[\w.]+/requestToken", status=200),
    ]
    assert len(documented) == len(forms)
    for line, form in zip(documented, forms, strict=True):
        assert re.fullmatch(form, line), line


def test_json_logs_prints_the_functions_lines_as_netlify_gets_them() -> None:
    with dev_server("--json-logs") as server, httpx.Client(base_url=server.url) as http:
        open_a_realtime_connection(server, http)
        lines = terminal_lines(server)
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert [(line["message"], line["outcome"], line["client_id"]) for line in logged] == [
        ("token request", "issued", UNICORN)
    ]
    assert "\\ud83e\\udd84 Ada" in "\n".join(lines)  # JSON's own escapes: the machine form, untouched
    assert not any(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines)
    assert not any("connection open" in line for line in lines)


@pytest.fixture
def chatty_functions(tmp_path: Path) -> Path:
    (tmp_path / "chatty").mkdir()
    (tmp_path / "chatty" / "handler.py").write_text(CHATTY_FUNCTION)
    shutil.copytree(
        ROOT / "functions" / "ably-token-request",
        tmp_path / "ably-token-request",
        ignore=shutil.ignore_patterns("__pycache__", "node_modules"),
    )
    return tmp_path


def test_a_functions_own_output_follows_its_line_and_cannot_drive_the_terminal(
    chatty_functions: Path,
) -> None:
    hostile = "\x1b[2J\u202eevil"  # clears the screen; then reverses the rest of the line
    with (
        dev_server("--functions", str(chatty_functions)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        assert http.get("/.netlify/functions/chatty", params={"as": hostile}).text == "hi"
        lines = terminal_lines(server)
    at = next(i for i, line in enumerate(lines) if " chatty " in line)
    assert re.fullmatch(LINE.format(method="GET", target="chatty", status=200) + " greeted for .*", lines[at])
    assert lines[at].endswith("greeted for \\x1b[2J\\u202eevil")
    assert lines[at + 1] == "plain words from the function"
    assert "\x1b" not in "\n".join(lines)


def test_a_function_printing_without_end_is_held_only_up_to_the_bound() -> None:
    terminal = io.StringIO()
    output = FunctionOutput(terminal, max_chars=10)
    output.write("12345")
    output.write("67890")
    assert terminal.getvalue() == ""  # held: exactly the bound
    output.write("!")
    output.write("more")
    assert terminal.getvalue() == "!more"  # past it, through as written, in order
    assert output.close() == "1234567890"
    output.write("late")  # after the request was answered
    assert terminal.getvalue() == "!morelate"


def test_the_summary_folds_json_lines_and_keeps_everything_else() -> None:
    output = "\n".join(
        [
            json.dumps({"level": "ERROR", "outcome": "InternalError", "exception": "Traceback\n  boom"}),
            "not json {",
            '{"half": ',
            json.dumps({"level": "ERROR", "outcome": "ConfigurationError", "error": "Set X.", "x": None}),
        ]
    )
    said, rest = summary(output)
    assert said == "ConfigurationError: Set X."
    assert rest == ["Traceback", "  boom", "not json {", '{"half": ']
    assert summary(json.dumps({"client_id": "x" * 500}))[0] == f"for {'x' * 295}…"
    assert printable("\u200dok\x07\u2067") == "\u200dok\\x07\\u2067"  # an emoji's joiner stays

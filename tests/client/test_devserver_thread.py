"""The dev server in a background thread (devserver.testing): a slow function never stalls the others."""

import threading
from pathlib import Path

import httpx

from devserver.testing import running_devserver

# Blocks its worker thread until the test creates the release file, like a slow key-store lookup.
SLOW_FUNCTION = """
import pathlib, time

def handler(event, context):
    release = pathlib.Path(__file__).with_name("release")
    while not release.exists():
        time.sleep(0.01)
    return {"statusCode": 200, "body": "slow done"}
"""
# Blocks at import, until the test creates the release file, like a cold function importing its packages.
SLOW_IMPORT = """
import pathlib, time

_release = pathlib.Path(__file__).with_name("release")
while not _release.exists():
    time.sleep(0.01)


def handler(event, context):
    return {"statusCode": 200, "body": "imported"}
"""
FAST_FUNCTION = """
def handler(event, context):
    return {"statusCode": 200, "body": context.function_name}
"""


def test_a_blocked_function_does_not_stall_other_requests(tmp_path: Path) -> None:
    for name, source in (("slow", SLOW_FUNCTION), ("fast", FAST_FUNCTION)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "handler.py").write_text(source)
    slow_answers: list[httpx.Response] = []
    with (
        running_devserver(functions_dir=tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=5) as http,
    ):
        slow = threading.Thread(target=lambda: slow_answers.append(http.get("/.netlify/functions/slow")))
        slow.start()
        try:
            fast = http.get("/.netlify/functions/fast")
            realtime_time = http.get("/time")
            assert not slow_answers  # the slow call is still blocked while the others were answered
        finally:
            (tmp_path / "slow" / "release").touch()
            slow.join(10)
    assert fast.text == "fast"
    assert isinstance(realtime_time.json()[0], int)
    assert slow_answers[0].text == "slow done"


def test_a_function_still_importing_does_not_stall_the_realtime_service(tmp_path: Path) -> None:
    (tmp_path / "cold").mkdir()
    (tmp_path / "cold" / "handler.py").write_text(SLOW_IMPORT)
    cold_answers: list[httpx.Response] = []
    with (
        running_devserver(functions_dir=tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=5) as http,
    ):
        cold = threading.Thread(target=lambda: cold_answers.append(http.get("/.netlify/functions/cold")))
        cold.start()
        try:
            realtime_time = http.get("/time")
            assert not cold_answers  # still importing, yet the service answered
        finally:
            (tmp_path / "cold" / "release").touch()
            cold.join(10)
    assert isinstance(realtime_time.json()[0], int)
    assert cold_answers[0].text == "imported"


def test_functions_get_the_local_services_key(tmp_path: Path) -> None:
    (tmp_path / "key").mkdir()
    (tmp_path / "key" / "handler.py").write_text(
        "import os\n\ndef handler(event, context):\n"
        "    return {'statusCode': 200, 'body': os.environ['ABLY_API_KEY'].split(':')[0]}\n"
    )
    with running_devserver(functions_dir=tmp_path) as server:
        answer = httpx.get(f"{server.url}/.netlify/functions/key")
    assert answer.text == server.realtime.key_name

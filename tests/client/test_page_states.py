"""The page's header states are the documented ones: the list in client/status.js is the docs' table.

The browser tests check the other half on every page they open: the header never shows a state that the
docs do not list (the autouse fixture in conftest.py).
"""

import json
import subprocess

from tests.client.browser import documented_header_states
from tests.client.devserver_process import ROOT

PRINT_LABELS = (
    "const { STATUS_LABELS } = await import(process.argv[1]); console.log(JSON.stringify(STATUS_LABELS));"
)


def test_the_page_and_the_docs_list_the_same_header_states() -> None:
    printed = subprocess.run(
        ["node", "--input-type=module", "-e", PRINT_LABELS, (ROOT / "client" / "status.js").as_uri()],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert json.loads(printed.stdout) == documented_header_states()

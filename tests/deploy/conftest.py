"""Build the Netlify function's Pyodide bundle once per session, as `npm run build:netlify-function` does."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.function.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_DIR = ROOT / "functions" / "ably-token-request"
NETLIFY_ENTRY = FUNCTION_DIR / "ably-token-request.mjs"
NETLIFY_TOOLS = ROOT / "tools" / "netlify" / "node_modules" / ".bin"


@pytest.fixture(scope="session")
def pyodide_bundle() -> Path:
    """Wheels and snapshot next to the entry; the script skips the work when its inputs are unchanged.

    The key is in the build's environment, as on Netlify (site variables reach the build too).
    """
    # The caller's PATH first: `make test` puts the project's pinned Node there.
    path = os.environ.get("PATH", "") + os.pathsep + str(ROOT / ".venv" / "bin")
    subprocess.run(
        ["node", "scripts/build-netlify-function.mjs"],
        cwd=ROOT,
        env={"PATH": path, "PYTHON": "python", "ABLY_API_KEY": API_KEY},
        check=True,
        capture_output=True,
        timeout=300,
    )
    return FUNCTION_DIR / "pyodide-bundle"

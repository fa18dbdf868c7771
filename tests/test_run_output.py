"""What `make test` prints around the tests: nothing that looks like a failure, and where artifacts went."""

import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]


def test_collection_logs_no_error_line() -> None:
    result = subprocess.run(
        [*PYTEST, "--collect-only", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    output = result.stdout + result.stderr
    assert '"level":"ERROR"' not in output
    assert "token function misconfigured" not in output


def test_the_run_ends_by_naming_the_artifacts_it_wrote(tmp_path: Path) -> None:
    probe = f"probe-{uuid.uuid4().hex}.png"
    (tmp_path / "test_probe.py").write_text(
        "from tests.conftest import ARTIFACTS\n\n"
        "def test_writes_an_artifact():\n"
        "    ARTIFACTS.mkdir(exist_ok=True)\n"
        f"    (ARTIFACTS / {probe!r}).write_bytes(b'')\n"
    )
    try:
        result = subprocess.run(
            [
                *PYTEST,
                "--rootdir",
                str(ROOT),
                "-c",
                str(ROOT / "pyproject.toml"),
                "-p",
                "tests.conftest",
                str(tmp_path / "test_probe.py"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        (ARTIFACTS / probe).unlink(missing_ok=True)
    assert result.returncode == 0, result.stdout + result.stderr
    tail = result.stdout.splitlines()[-4:]
    assert any(f"are in {ARTIFACTS}/" in line for line in tail), result.stdout
    assert any(probe in line for line in tail), result.stdout

"""The README's limits table is `Limits`: every field is a row, so a new bound cannot go undocumented."""

import dataclasses
import re
from pathlib import Path

from ably_local.limits import Limits

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_limit_has_a_row_in_the_readme() -> None:
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert {field.name for field in dataclasses.fields(Limits)} <= documented

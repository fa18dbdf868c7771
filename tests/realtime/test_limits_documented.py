"""The documented limits table is `Limits`: every field is a row, so a new bound cannot go undocumented."""

import dataclasses
import re

from ably_local.limits import Limits
from tests.docs import page, section


def test_every_limit_has_a_row_in_the_documented_table() -> None:
    table = section(page("local-service"), "## Limits")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert {field.name for field in dataclasses.fields(Limits)} <= documented

"""Every limit in ably_token_request/limits.py has a row in the token function's documented limits table."""

import ably_token_request.limits as limits
from tests.docs import page, section


def test_every_limit_has_a_row_naming_it_with_its_value() -> None:
    table = section(page("token-function"), "## Limits")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`MAX_" in line]
    constants = {name: value for name, value in vars(limits).items() if name.startswith("MAX_")}
    assert constants
    for name, value in constants.items():
        (row,) = [row for row in rows if f"`{name}`" in row]
        assert f"{value:,}" in row, f"{name} = {value:,} is not in its documented row: {row}"

"""json.loads with its nesting bounded first: deep input is a ValueError like any other bad JSON.

Python's decoder recurses once per level, so 1,000 nested `[` raise RecursionError (not ValueError) and
would escape every `except ValueError`. Counting the depth first, outside strings, refuses such input in
one linear pass before the decoder sees it.
"""

import json
import re

from ably_token_request.limits import MAX_JSON_DEPTH

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class TooDeep(ValueError):
    pass


def parse_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> object:
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > max_depth:
            raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)

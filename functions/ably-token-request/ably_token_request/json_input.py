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
_DEPTH_CHANGE = {"[": 1, "{": 1, "]": -1, "}": -1}


class TooDeep(ValueError):
    """Nested deeper than MAX_JSON_DEPTH; each caller says so in its own terms."""


def parse_json(text: str) -> object:
    # Not mutated: replacing each string by any other text without brackets ("" or "XXXX") counts the same.
    outside_strings = _STRING.sub("", text)  # pragma: no mutate
    depth = 0
    for bracket in _NOT_BRACKET.sub("", outside_strings):
        depth += _DEPTH_CHANGE[bracket]
        if depth > MAX_JSON_DEPTH:
            raise TooDeep
    return json.loads(text)

"""Subscription filters: derived channels `[filter=<base64 expression>]name` that deliver only the messages
of `name` an expression accepts (ably-js `channels.getDerived(name, {filter})`).

The expression is the subset of JMESPath Ably documents for filters: the message's `name`, `clientId` and
`headers` (its `extras.headers`), literals in backticks (JSON) or single quotes (text), comparisons
(`==`, `!=`, `<`, `<=`, `>`, `>=`), `&&`, `||`, `!` and parentheses. An expression that does not parse is
refused at attach with 40010, as an invalid channel name.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from ably_local.errors import invalid_channel

Item = dict[str, Any]
Test = Callable[[Item], Any]
MAX_EXPRESSION_LENGTH = 2048
_TOKEN = re.compile(
    r"\s*(?:(?P<literal>`(?:[^`\\]|\\.)*`)|(?P<text>'(?:[^'\\]|\\.)*')|(?P<op>==|!=|<=|>=|&&|\|\||[<>!().])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<quoted>\"(?:[^\"\\]|\\.)*\"))"
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: _ordered(a, b) and a < b,
    "<=": lambda a, b: _ordered(a, b) and a <= b,
    ">": lambda a, b: _ordered(a, b) and a > b,
    ">=": lambda a, b: _ordered(a, b) and a >= b,
}


FILTER_QUALIFIER = "[filter="


def is_filtered(name: str) -> bool:
    """Whether a (valid) channel name is a derived channel, `[filter=...]base`."""
    return name.startswith(FILTER_QUALIFIER)


def split_qualified(name: str) -> tuple[str, str] | None:
    """`[filter=...]base` into (expression, base); None for a name without a filter qualifier."""
    if not is_filtered(name):
        return None
    end = name.find("]")
    if end < 0 or end == len(name) - 1:
        raise invalid_channel(f"Malformed channel qualifier in {name!r}")
    encoded = name[len(FILTER_QUALIFIER) : end]
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True) if "-" not in padded and "_" not in padded else b""
        expression = (raw or base64.urlsafe_b64decode(padded)).decode()
    except (binascii.Error, ValueError):
        raise invalid_channel("A channel filter must be base64 of a filter expression") from None
    return expression, name[end + 1 :]


def compile_filter(expression: str) -> Test:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise invalid_channel(f"A channel filter may be at most {MAX_EXPRESSION_LENGTH} characters")
    tokens = _tokens(expression)
    parser = _Parser(tokens)
    test = parser.expression()
    if parser.position != len(tokens):
        raise invalid_channel(f"Unexpected {tokens[parser.position][1]!r} in channel filter")
    return test


def accepts(test: Test, item: Item) -> bool:
    extras = item.get("extras")
    headers = extras.get("headers") if isinstance(extras, dict) else None
    context = {"name": item.get("name"), "clientId": item.get("clientId"), "headers": headers or {}}
    return _truthy(test(context))


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    stripped = expression.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise invalid_channel(f"Channel filter not understood at {stripped[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over: or := and ('||' and)*; and := not ('&&' not)*; not := '!' not | compare."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise invalid_channel("Channel filter ends too soon")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self) -> Test:
        left = self._and()
        while self._peek() == "||":
            self._take()
            left = _either(left, self._and())
        return left

    def _and(self) -> Test:
        left = self._not()
        while self._peek() == "&&":
            self._take()
            left = _both(left, self._not())
        return left

    def _not(self) -> Test:
        if self._peek() == "!":
            self._take()
            inner = self._not()
            return lambda item: not _truthy(inner(item))
        return self._compare()

    def _compare(self) -> Test:
        left = self._operand()
        operator = self._peek()
        if operator not in _COMPARE:
            return left
        self._take()
        right = self._operand()
        compare = _COMPARE[operator]
        return lambda item: compare(left(item), right(item))

    def _operand(self) -> Test:
        kind, text = self._take()
        if text == "(":
            inner = self.expression()
            if self._take()[1] != ")":
                raise invalid_channel("Unbalanced parentheses in channel filter")
            return inner
        if kind == "literal":
            try:
                value = json.loads(text[1:-1].replace("\\`", "`"))
            except ValueError:
                raise invalid_channel(f"Channel filter literal {text} is not JSON") from None
            return lambda item: value
        if kind == "text":
            raw = text[1:-1].replace("\\'", "'")
            return lambda item: raw
        if kind in ("name", "quoted"):
            path = [json.loads(text) if kind == "quoted" else text]
            while self._peek() == ".":
                self._take()
                part_kind, part = self._take()
                if part_kind not in ("name", "quoted"):
                    raise invalid_channel("A channel filter field name must follow '.'")
                path.append(json.loads(part) if part_kind == "quoted" else part)
            return lambda item: _lookup(item, path)
        raise invalid_channel(f"Unexpected {text!r} in channel filter")


def _either(first: Test, second: Test) -> Test:
    def test(item: Item) -> Any:
        value = first(item)
        return value if _truthy(value) else second(item)

    return test


def _both(first: Test, second: Test) -> Test:
    def test(item: Item) -> Any:
        value = first(item)
        return second(item) if _truthy(value) else value

    return test


def _lookup(item: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    return item


def _truthy(value: Any) -> bool:
    """JMESPath truth: false, null, empty text, lists and objects are false; everything else (0 too) true."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def _ordered(a: Any, b: Any) -> bool:
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    return numbers and not isinstance(a, bool) and not isinstance(b, bool)

"""Subscription filters: derived channels `[filter=<base64 expression>]name` that deliver only the messages
of `name` an expression accepts (ably-js `channels.getDerived(name, {filter})`).

The expression is the subset of JMESPath Ably documents for filters: the message's `name`, `clientId` and
`headers` (its `extras.headers`), literals in backticks (JSON) or single quotes (text), comparisons
(`==`, `!=`, `<`, `<=`, `>`, `>=`), `&&`, `||`, `!` and parentheses. An expression that does not parse, or
that passes the limits on its terms or nesting, is refused at attach with 40010, as an invalid channel name.

A filter is evaluated for every message published on its source, so what one costs is bounded: its terms
(fields, literals and operators) and its nesting here, and the terms of all the filters following one
channel where derived channels are made (`channels`).
"""

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from ably_local.errors import invalid_channel
from ably_local.limits import Limits

Item = dict[str, Any]
# What an expression sees of a message: its name, clientId and headers, made once per message.
Context = dict[str, Any]
Test = Callable[[Context], Any]
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


class Filter:
    """A compiled expression and its cost: the terms one evaluation may visit."""

    def __init__(self, test: Test, terms: int) -> None:
        self.test = test
        self.terms = terms

    def accepts(self, context: Context) -> bool:
        return _truthy(self.test(context))


def is_filtered(name: str) -> bool:
    """Whether a (valid) channel name is a derived channel, `[filter=...]base`."""
    return name.startswith(FILTER_QUALIFIER)


def split_qualified(name: str) -> tuple[str, str] | None:
    """`[filter=...]base` into (expression, base); None for a name without a filter qualifier."""
    if not is_filtered(name):
        return None
    end = name.find("]")
    if end < 0 or end == len(name) - 1:
        raise invalid_channel(f"Malformed channel qualifier in {name[:80]!r}")
    encoded = name[len(FILTER_QUALIFIER) : end]
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True) if "-" not in padded and "_" not in padded else b""
        expression = (raw or base64.urlsafe_b64decode(padded)).decode()
    except (binascii.Error, ValueError):
        raise invalid_channel("A channel filter must be base64 of a filter expression") from None
    return expression, name[end + 1 :]


def compile_filter(expression: str, limits: Limits) -> Filter:
    tokens = _tokens(expression)
    parser = _Parser(tokens, limits)
    test = parser.expression()
    if parser.position != len(tokens):
        raise invalid_channel(f"Unexpected {tokens[parser.position][1][:40]!r} in channel filter")
    return Filter(test, parser.terms)


def filter_context(item: Item) -> Context:
    extras = item.get("extras")
    headers = extras.get("headers") if isinstance(extras, dict) else None
    return {"name": item.get("name"), "clientId": item.get("clientId"), "headers": headers or {}}


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
    """Recursive descent over: or := and ('||' and)*; and := not ('&&' not)*; not := '!' not | compare.

    It counts the terms it makes and refuses, as it goes, an expression past the limits on terms or on
    nesting (parentheses and `!`), so that no expression can run it out of stack."""

    def __init__(self, tokens: list[tuple[str, str]], limits: Limits) -> None:
        self.tokens = tokens
        self.position = 0
        self.terms = 0
        self.depth = 0
        self.max_terms = limits.filter_terms
        self.max_depth = limits.filter_nesting_depth

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise invalid_channel("Channel filter ends too soon")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _term(self) -> None:
        self.terms += 1
        if self.terms > self.max_terms:
            raise invalid_channel(f"A channel filter may have at most {self.max_terms} terms")

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise invalid_channel(f"A channel filter may nest at most {self.max_depth} levels")

    def expression(self) -> Test:
        tests = [self._and()]
        while self._peek() == "||":
            self._take()
            self._term()
            tests.append(self._and())
        return tests[0] if len(tests) == 1 else _any(tests)

    def _and(self) -> Test:
        tests = [self._not()]
        while self._peek() == "&&":
            self._take()
            self._term()
            tests.append(self._not())
        return tests[0] if len(tests) == 1 else _all(tests)

    def _not(self) -> Test:
        if self._peek() != "!":
            return self._compare()
        self._take()
        self._term()
        self._deeper()
        inner = self._not()
        self.depth -= 1
        return lambda context: not _truthy(inner(context))

    def _compare(self) -> Test:
        left = self._operand()
        operator = self._peek()
        if operator not in _COMPARE:
            return left
        self._take()
        self._term()
        right = self._operand()
        compare = _COMPARE[operator]
        return lambda context: compare(left(context), right(context))

    def _operand(self) -> Test:
        kind, text = self._take()
        if text == "(":
            self._deeper()
            inner = self.expression()
            self.depth -= 1
            if self._take()[1] != ")":
                raise invalid_channel("Unbalanced parentheses in channel filter")
            return inner
        self._term()
        if kind == "literal":
            value = self._literal(text[1:-1].replace("\\`", "`"))
            return lambda context: value
        if kind == "text":
            raw = text[1:-1].replace("\\'", "'")
            return lambda context: raw
        if kind in ("name", "quoted"):
            path = [json.loads(text) if kind == "quoted" else text]
            while self._peek() == ".":
                self._take()
                part_kind, part = self._take()
                if part_kind not in ("name", "quoted"):
                    raise invalid_channel("A channel filter field name must follow '.'")
                self._term()
                path.append(json.loads(part) if part_kind == "quoted" else part)
            return lambda context: _lookup(context, path)
        raise invalid_channel(f"Unexpected {text[:40]!r} in channel filter")

    def _literal(self, text: str) -> Any:
        """A JSON literal, nested no deeper than the expression may be (json.loads would recurse)."""
        if _json_depth(text) + self.depth > self.max_depth:
            raise invalid_channel(f"A channel filter may nest at most {self.max_depth} levels")
        try:
            return json.loads(text)
        except ValueError:
            raise invalid_channel(f"Channel filter literal `{text[:40]}` is not JSON") from None


def _json_depth(text: str) -> int:
    """How deeply JSON text nests arrays and objects (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _any(tests: list[Test]) -> Test:
    """`a || b || ...`: the first true value, else the last value (JMESPath)."""

    def test(context: Context) -> Any:
        value: Any = None
        for each in tests:
            value = each(context)
            if _truthy(value):
                return value
        return value

    return test


def _all(tests: list[Test]) -> Test:
    """`a && b && ...`: the first false value, else the last value (JMESPath)."""

    def test(context: Context) -> Any:
        value: Any = None
        for each in tests:
            value = each(context)
            if not _truthy(value):
                return value
        return value

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

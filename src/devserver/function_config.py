"""The rate limit a function's Netlify entry declares, read the way Netlify's bundler reads it.

A Python function runs on Netlify through a JavaScript entry beside it (`functions/<name>/<name>.mjs`), whose
`export const config` may carry `rateLimit`. zip-it-and-ship-it evaluates nothing: it parses the source and
keeps only what is written as a literal (anything else it reads as `undefined`), then checks the rule against
its schema. It silently drops a rule the schema refuses (a required number that is not a literal, an unknown
aggregator or action) and silently weakens one it accepts (an `aggregateBy` that is not an array counts per
site domain only, as does one that is not a literal). The dev server reads the same literal with a real
JavaScript parser and refuses what Netlify would not enforce as written, so a limit never silently differs
between `make dev` and a deploy.
"""

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

from devserver.rate_limit import AGGREGATORS, RateLimit

# A function directory's entry, in the order Netlify's bundler prefers them (its name, then index, each).
ENTRY_SUFFIXES = (".js", ".ts", ".mjs", ".cjs", ".tsx", ".mts", ".cts")
TYPESCRIPT_SUFFIXES = {".ts", ".tsx", ".mts", ".cts"}  # read by Netlify's bundler, not by this JavaScript one
CONFIG_EXPORTS = {"exports.config", "module.exports.config"}  # the CommonJS forms Netlify also reads
# The rule's optional settings: Netlify's bundler reads one that is not a literal as absent.
OPTIONAL_SETTINGS = ("aggregateBy", "action", "algorithm", "to")
# What `\b`, `\f`, `\n`, `\r`, `\t`, `\v` and `\0` stand for; any other character escapes to itself.
_ESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0"}


class UnreadableRateLimit(ValueError):
    """A declared rate limit Netlify would drop or weaken, or the dev server cannot apply."""


class _Undefined:
    """A value Netlify's bundler cannot read statically: `undefined` there."""


UNDEFINED = _Undefined()
_PARSER = Parser(Language(tree_sitter_javascript.language()))


def declared_rate_limits(functions_dir: Path) -> dict[str, RateLimit]:
    """Each function's declared rate limit, by function name; functions that declare none are left out."""
    limits: dict[str, RateLimit] = {}
    for directory in sorted(path for path in functions_dir.glob("*") if path.is_dir()):
        entry = entry_file(directory)
        if entry is not None and (limit := read_rate_limit(entry)) is not None:
            limits[directory.name] = limit
    return limits


def entry_file(directory: Path) -> Path | None:
    """The file Netlify's bundler takes as the function's entry."""
    for suffix in ENTRY_SUFFIXES:
        for stem in (directory.name, "index"):
            if (candidate := directory / f"{stem}{suffix}").is_file():
                return candidate
    return None


def read_rate_limit(entry: Path) -> RateLimit | None:
    source = entry.read_bytes()
    if b"rateLimit" not in source:
        return None
    if entry.suffix in TYPESCRIPT_SUFFIXES:
        raise UnreadableRateLimit(
            f"{entry} declares rateLimit in TypeScript, which make dev does not read: "
            "write the entry in JavaScript (.mjs) for make dev to apply the limit Netlify does."
        )
    root = _PARSER.parse(source).root_node
    if root.has_error:
        raise UnreadableRateLimit(
            f"{entry} does not parse as JavaScript, so Netlify's bundler reads no rateLimit from it: "
            "fix the syntax error."
        )
    config = exported_config(root)
    if config is None:
        raise UnreadableRateLimit(
            f"{entry} mentions rateLimit outside an `export const config = {{...}}` object literal, "
            "the one place make dev reads it: write the rule there."
        )
    if "rateLimit" not in config:
        return None
    return rate_limit(config["rateLimit"], entry)


def exported_config(module: Node) -> dict[str, Any] | None:
    """The `config` object literal a parsed module exports (ESM `export const config = {...}`, or
    CommonJS); the last one, as Netlify's bundler takes it."""
    config = None
    for statement in module.named_children:
        value = _config_value(statement)
        if value is not None and (value := _unwrapped(value)).type == "object":
            config = literal(value)
    return config


def _config_value(statement: Node) -> Node | None:
    if statement.type == "export_statement":
        declaration = statement.child_by_field_name("declaration")
        if declaration is not None and declaration.type in ("lexical_declaration", "variable_declaration"):
            for declarator in declaration.named_children:
                if declarator.type == "variable_declarator" and _text(_field(declarator, "name")) == "config":
                    return declarator.child_by_field_name("value")
    if statement.type == "expression_statement":
        expression = statement.named_children[0]
        if expression.type == "assignment_expression" and _text(_field(expression, "left")) in CONFIG_EXPORTS:
            return _field(expression, "right")
    return None


def literal(node: Node) -> Any:
    """The value of a literal, as zip-it-and-ship-it's parser takes it; UNDEFINED for anything else."""
    kind = node.type
    if kind == "parenthesized_expression":
        return literal(_unwrapped(node))
    if kind == "string":
        return _string(node)
    if kind == "number":
        return _number(_text(node))
    if kind in ("true", "false"):
        # No setting of a rate limit takes a boolean: which one it is never matters, only that it is one.
        return kind == "true"  # pragma: no mutate
    if kind == "null":
        return None
    if kind == "array":
        return list(_elements(node))
    if kind == "object":
        return dict(_properties(node))
    if kind == "unary_expression" and _text(_field(node, "operator")) == "!":
        argument = _field(node, "argument")
        if argument.type == "number":  # minifiers' !0 and !1
            return not _number(_text(argument))
    return UNDEFINED


def _unwrapped(node: Node) -> Node:
    """What parentheses hold: Netlify's parser reads `(5)` as 5."""
    while node.type == "parenthesized_expression":
        node = _content(node)
    return node


def _elements(node: Node) -> Iterator[Any]:
    """An array's elements; a hole (`[, 'ip']`, `['ip', , 'domain']`) is undefined, as Netlify's parser
    reads it."""
    previous = "["
    for child in node.children[1:-1]:  # between the brackets
        if child.type == "comment":
            continue
        if child.type != ",":
            yield literal(child)
        elif previous in ("[", ","):
            yield UNDEFINED
        previous = child.type


def _properties(node: Node) -> Iterator[tuple[str, Any]]:
    for child in node.named_children:
        if child.type == "shorthand_property_identifier":  # `{ windowLimit }`: a variable's value
            yield _text(child), UNDEFINED
        elif child.type == "pair" and isinstance(name := _key(_field(child, "key")), str):
            yield name, literal(_field(child, "value"))
        # Spreads and methods are not properties Netlify's parser reads.


def _key(key: Node) -> str | _Undefined:
    """A property's name as Netlify's parser takes it: a name or a string, written plainly or in brackets
    (`['rateLimit']`, and `[NAME]` as "NAME"). Netlify skips any other key (a number, an expression); read
    here as written, none of them spells a setting's name, so none sets one."""
    if key.type == "computed_property_name":
        key = _content(key)
    return _string(key) if key.type == "string" else _text(key)


def rate_limit(declared: Any, entry: Path) -> RateLimit:
    """Netlify's `rateLimit` as the dev server applies it, or why Netlify would not apply it as written."""

    def refuse(reason: str) -> UnreadableRateLimit:
        return UnreadableRateLimit(f"the rateLimit in {entry} {reason}")

    if not isinstance(declared, dict):
        raise refuse("is not an object literal: Netlify's bundler drops it")
    window_limit, window_size = _number_named(declared, "windowLimit"), _number_named(declared, "windowSize")
    if window_limit is None or window_size is None:
        missing = "windowLimit" if window_limit is None else "windowSize"
        raise refuse(f"has no literal finite number {missing}: Netlify's bundler drops the whole rule")
    if not (float(window_limit).is_integer() and window_limit >= 1) or window_size <= 0:
        raise refuse("needs a whole windowLimit of at least 1 and a windowSize above 0 seconds")
    for name in OPTIONAL_SETTINGS:
        if declared.get(name) is UNDEFINED:
            raise refuse(
                f"sets {name} to something other than a literal: Netlify's bundler reads it as absent"
            )
    aggregate_by = declared.get("aggregateBy", ["domain"])  # Netlify's default: one count per site domain
    if aggregate_by in AGGREGATORS:
        raise refuse(
            f"has aggregateBy {aggregate_by!r}, not an array: Netlify counts it per site domain only "
            "(write ['ip', 'domain'] to count per address)"
        )
    if not isinstance(aggregate_by, list) or any(item not in AGGREGATORS for item in aggregate_by):
        raise refuse("has an aggregateBy other than an array of 'ip' and 'domain': Netlify drops the rule")
    if not aggregate_by:
        raise refuse(
            "has an empty aggregateBy, which counts nothing: write ['ip', 'domain'] to count per address"
        )
    action = declared.get("action", "rate_limit")
    if action == "rewrite":
        raise refuse("asks for a rewrite: the dev server answers a rate limit with 429 only")
    if action != "rate_limit":
        raise refuse("has an action other than 'rate_limit' or 'rewrite': Netlify drops the rule")
    if declared.get("algorithm", "sliding_window") != "sliding_window":
        raise refuse(
            "has an algorithm other than 'sliding_window', the one Netlify has: Netlify drops the rule"
        )
    if not isinstance(declared.get("to", ""), str):
        raise refuse("has a `to` that is not a string: Netlify drops the rule")
    return RateLimit(int(window_limit), float(window_size), tuple(dict.fromkeys(aggregate_by)))


def _number_named(declared: dict[str, Any], name: str) -> int | float | None:
    """A setting that Netlify's schema takes as a number: a finite one, not a boolean."""
    value = declared.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _number(text: str) -> int | float | _Undefined:
    """A number literal's value; a BigInt (`5n`) is not a number Netlify's bundler takes."""
    try:
        return int(text, 0)  # decimal, 0x, 0o and 0b, with _ between digits
    except ValueError:
        pass
    try:
        return float(text)  # fractions and exponents
    except ValueError:
        return UNDEFINED


def _string(node: Node) -> str | _Undefined:
    """A string literal's value, its escapes read as JavaScript reads them."""
    try:
        return "".join(
            _unescape(_text(part)) if part.type == "escape_sequence" else _text(part)
            for part in node.named_children
        )
    except ValueError:  # \u{110000} and beyond: no character, a syntax error to Netlify's parser
        return UNDEFINED


def _unescape(escape: str) -> str:
    """One escape sequence: \\xHH, \\uHHHH, \\u{H...}, a line continuation, or one character."""
    body = escape[1:]
    if body.startswith(("x", "u")):  # the parser takes these only with their hex digits
        return chr(int(body[1:].removeprefix("{").removesuffix("}"), 16))
    if body in ("\n", "\r", "\r\n", "\u2028", "\u2029"):
        return ""
    return _ESCAPED.get(body, body)


def _field(node: Node, name: str) -> Node:
    """A child every node of its kind has once the module parsed without errors (read_rate_limit checks)."""
    return cast(Node, node.child_by_field_name(name))


def _content(node: Node) -> Node:
    """What brackets or parentheses hold, comments aside."""
    return next(child for child in node.named_children if child.type != "comment")


def _text(node: Node) -> str:
    return cast(bytes, node.text).decode()  # a tree parsed from source has its text

"""The rate limit a function's Netlify entry declares, read the way Netlify's bundler reads it.

A Python function runs on Netlify through a JavaScript entry beside it (`functions/<name>/<name>.mjs`), whose
`export const config` may carry `rateLimit`. zip-it-and-ship-it evaluates nothing: it parses the source and
keeps only what is written as a literal, and it silently drops a rule it cannot read (a constant, an
expression) or weakens one (an `aggregateBy` that is not an array counts per site domain only). The dev
server reads the same literal with a real JavaScript parser and refuses what Netlify would not enforce as
written, so a limit never silently differs between `make dev` and a deploy.
"""

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

from devserver.rate_limit import AGGREGATORS, RateLimit

# The JavaScript entry names Netlify looks for in a function's directory (TypeScript entries are not read).
ENTRY_SUFFIXES = (".mjs", ".js", ".cjs")
CONFIG_EXPORTS = {"exports.config", "module.exports.config"}  # the CommonJS forms Netlify also reads


class UnreadableRateLimit(ValueError):
    """A declared rate limit Netlify would drop or weaken, or the dev server cannot apply."""


class _NotLiteral:
    """A value Netlify's bundler cannot read statically (it becomes `undefined` there)."""


NOT_LITERAL = _NotLiteral()
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
    for stem in (directory.name, "index"):
        for suffix in ENTRY_SUFFIXES:
            if (candidate := directory / f"{stem}{suffix}").is_file():
                return candidate
    return None


def read_rate_limit(entry: Path) -> RateLimit | None:
    source = entry.read_bytes()
    config = exported_config(source)
    if config is None:
        if b"rateLimit" in source:
            raise UnreadableRateLimit(
                f"{entry} mentions rateLimit outside an `export const config = {{...}}` object literal: "
                "Netlify's bundler reads the rule only from that literal."
            )
        return None
    if "rateLimit" not in config:
        return None
    return rate_limit(config["rateLimit"], entry)


def exported_config(source: bytes) -> dict[str, Any] | None:
    """The `config` object literal a module exports (ESM `export const config = {...}`, or CommonJS)."""
    for node in _PARSER.parse(source).root_node.named_children:
        value = _config_value(node)
        if value is not None and value.type == "object":
            config: dict[str, Any] = literal(value)
            return config
    return None


def _config_value(statement: Node) -> Node | None:
    if statement.type == "export_statement":
        declaration = statement.child_by_field_name("declaration")
        if declaration is not None and declaration.type == "lexical_declaration":
            for declarator in declaration.named_children:
                name = declarator.child_by_field_name("name")
                if name is not None and _text(name) == "config":
                    return declarator.child_by_field_name("value")
    if statement.type == "expression_statement" and statement.named_children:
        expression = statement.named_children[0]
        if expression.type == "assignment_expression":
            left = expression.child_by_field_name("left")
            if left is not None and _text(left) in CONFIG_EXPORTS:
                return expression.child_by_field_name("right")
    return None


def literal(node: Node) -> Any:
    """The value of a literal, as zip-it-and-ship-it's parser takes it; NOT_LITERAL for anything else."""
    kind = node.type
    if kind == "string":
        return _string(node)
    if kind == "number":
        return _number(_text(node))
    if kind in ("true", "false"):
        return kind == "true"
    if kind == "null":
        return None
    if kind == "array":
        return [literal(element) for element in node.named_children if element.type != "comment"]
    if kind == "object":
        return dict(_properties(node))
    if kind == "unary_expression" and _text(node.child_by_field_name("operator")) == "!":
        argument = node.child_by_field_name("argument")
        if argument is not None and argument.type == "number":  # minifiers' !0 and !1
            return not _number(_text(argument))
    return NOT_LITERAL


def _properties(node: Node) -> Iterator[tuple[str, Any]]:
    for pair in node.named_children:
        if pair.type != "pair":
            continue  # shorthand, spread, methods: not literals
        key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
        if key is None or value is None or key.type not in ("property_identifier", "string"):
            continue  # computed keys
        yield (_string(key) if key.type == "string" else _text(key)), literal(value)


def rate_limit(declared: Any, entry: Path) -> RateLimit:
    """Netlify's `rateLimit` as the dev server applies it, or why Netlify would not apply it as written."""

    def refuse(reason: str) -> UnreadableRateLimit:
        return UnreadableRateLimit(f"the rateLimit in {entry} {reason}")

    if not isinstance(declared, dict):
        raise refuse("is not an object literal: Netlify's bundler drops it")
    window_limit, window_size = _number_named(declared, "windowLimit"), _number_named(declared, "windowSize")
    if window_limit is None or window_size is None:
        missing = "windowLimit" if window_limit is None else "windowSize"
        raise refuse(f"has no literal number {missing}: Netlify's bundler drops the whole rule")
    if not (float(window_limit).is_integer() and window_limit >= 1) or window_size <= 0:
        raise refuse("needs a whole windowLimit of at least 1 and a windowSize above 0 seconds")
    aggregate_by = declared.get("aggregateBy", ["domain"])  # Netlify's default: one count per site domain
    if not isinstance(aggregate_by, list):
        raise refuse(
            f"has aggregateBy {aggregate_by!r}, not an array: Netlify counts it per site domain only "
            "(write ['ip', 'domain'] to count per address)"
        )
    if not aggregate_by or any(item not in AGGREGATORS for item in aggregate_by):
        raise refuse(f"has aggregateBy {aggregate_by!r}: Netlify drops the rule (allowed: 'ip', 'domain')")
    if declared.get("action", "rate_limit") != "rate_limit":
        raise refuse("asks for a rewrite: the dev server answers a rate limit with 429 only")
    if declared.get("algorithm", "sliding_window") != "sliding_window":
        raise refuse("asks for an algorithm Netlify does not have: it counts in a sliding window")
    return RateLimit(int(window_limit), float(window_size), tuple(dict.fromkeys(aggregate_by)))


def _number_named(declared: dict[str, Any], name: str) -> int | float | None:
    value = declared.get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(text: str) -> int | float:
    digits = text.replace("_", "")
    try:
        return int(digits, 0)
    except ValueError:
        return float(digits)


def _string(node: Node) -> str:
    raw = _text(node)[1:-1]
    if "\\" not in raw:
        return raw
    try:
        return codecs.decode(raw, "unicode_escape")
    except UnicodeError:
        return raw


def _text(node: Node | None) -> str:
    return node.text.decode() if node is not None and node.text is not None else ""

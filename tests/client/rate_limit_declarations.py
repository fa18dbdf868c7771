"""Ways a function's entry may declare its rate limit: what Netlify's bundler records, and what make dev does.

Each declaration is held twice: tests/client reads it as make dev does (it applies the rule or refuses to
start with one line naming the file), and tests/deploy runs zip-it-and-ship-it over all of them and holds
each `netlify` column to the manifest it writes. Where make dev applies a rule it is the one Netlify records;
everything Netlify drops or weakens (or that make dev cannot apply) stops make dev instead.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from devserver.rate_limit import RateLimit

DEFAULT_EXPORT = "export default async () => new Response('hi');\n"


class NetlifyRule(NamedTuple):
    """A manifest's trafficRules, in short: its numbers, what it counts by, and its action."""

    window_limit: float
    window_size: float
    aggregate_by: tuple[str, ...]
    action: str = "rate_limit"


@dataclass(frozen=True)
class Declaration:
    source: str  # the entry's text after its default export
    netlify: NetlifyRule | None  # the rule Netlify's bundler records; None: it drops the rule
    # The rule make dev applies (None: it declares none), or its one-line refusal ({entry}: the entry's path).
    make_dev: RateLimit | str | None
    entry: str = "{name}.mjs"  # the entry's file name in the function's directory
    others: tuple[tuple[str, str], ...] = ()  # other files beside it: (name, source after the default export)


def rule(limit: str, after: str = "") -> str:
    """An entry exporting `config = { rateLimit: { <limit> } }`, with `after` below it."""
    return f"export const config = {{ rateLimit: {{ {limit} }} }};\n{after}"


# The end of a refusal of the rule itself; the refusals of the whole file begin with its path.
RULE = "the rateLimit in {entry} "
DROPS = "Netlify drops the rule"
NOT_LITERAL = "sets {} to something other than a literal: Netlify's bundler reads it as absent"

DECLARATIONS: dict[str, Declaration] = {
    # Read as written.
    "plain": Declaration(
        rule("windowLimit: 5, windowSize: 10, aggregateBy: ['ip']"),
        NetlifyRule(5, 10, ("ip",)),
        RateLimit(5, 10.0, ("ip",)),
    ),
    # Comments, double quotes, quoted keys, a trailing comma and an exponent are all still literals.
    "json-ish": Declaration(
        'export const config = {\n  // per address\n  "rateLimit": {windowLimit: 6e1, windowSize: 1.5,'
        ' aggregateBy: ["domain", /* and */ "ip",],},\n  path: "/api/x",\n};',
        NetlifyRule(60, 1.5, ("domain", "ip")),
        RateLimit(60, 1.5, ("domain", "ip")),
    ),
    # No aggregateBy: Netlify counts per site domain, everyone together.
    "default-aggregate": Declaration(
        rule("windowLimit: 5, windowSize: 10"),
        NetlifyRule(5, 10, ("domain",)),
        RateLimit(5, 10.0, ("domain",)),
    ),
    "explicit-defaults": Declaration(
        rule("windowLimit: 5, windowSize: 10, action: 'rate_limit', algorithm: 'sliding_window', to: '/x'"),
        NetlifyRule(5, 10, ("domain",)),
        RateLimit(5, 10.0, ("domain",)),
    ),
    "at-the-edges": Declaration(
        rule("windowLimit: 1, windowSize: 1, aggregateBy: ['ip', 'domain']"),
        NetlifyRule(1, 1, ("ip", "domain")),
        RateLimit(1, 1.0, ("ip", "domain")),
    ),
    "hex-and-separators": Declaration(
        rule("windowLimit: 0x10, windowSize: 1_000"),
        NetlifyRule(16, 1000, ("domain",)),
        RateLimit(16, 1000.0, ("domain",)),
    ),
    "octal-and-binary": Declaration(
        rule("windowLimit: 0o10, windowSize: 0b10"),
        NetlifyRule(8, 2, ("domain",)),
        RateLimit(8, 2.0, ("domain",)),
    ),
    "parenthesized": Declaration(
        "export const config = ({ rateLimit: { windowLimit: (5), windowSize: (/* s */ 10) } });",
        NetlifyRule(5, 10, ("domain",)),
        RateLimit(5, 10.0, ("domain",)),
    ),
    # JavaScript's string escapes, read as JavaScript reads them.
    "escapes": Declaration(
        rule(
            "windowLimit: 5, windowSize: 10, aggregateBy: ['\\x69p', 'd\\u{6F}\\u006Dain'],"
            " algorithm: 'sliding\\_window'"
        ),
        NetlifyRule(5, 10, ("ip", "domain")),
        RateLimit(5, 10.0, ("ip", "domain")),
    ),
    # A backslash before a line break (\n, \r, \r\n, U+2028, U+2029) continues the string: it stands for
    # nothing.
    "line-continuations": Declaration(
        rule("windowLimit: 5, windowSize: 10, aggregateBy: ['i\\\np', 'd\\\ro\\\r\nm\\\u2028a\\\u2029in']"),
        NetlifyRule(5, 10, ("ip", "domain")),
        RateLimit(5, 10.0, ("ip", "domain")),
    ),
    "repeated-aggregator": Declaration(
        rule("windowLimit: 5, windowSize: 10, aggregateBy: ['ip', 'ip']"),
        NetlifyRule(5, 10, ("ip", "ip")),
        RateLimit(5, 10.0, ("ip",)),
    ),
    "repeated-setting": Declaration(
        rule("windowLimit: 5, windowSize: 10, windowLimit: 7"),
        NetlifyRule(7, 10, ("domain",)),
        RateLimit(7, 10.0, ("domain",)),
    ),
    # Keys in brackets are read too (a name in brackets as that name); a number key is skipped.
    "bracketed-keys": Declaration(
        "const rateLimit = 'x';\n"
        "export const config = { [rateLimit]: { 0: 1, ['windowLimit']: 5, windowSize: 10 } };",
        NetlifyRule(5, 10, ("domain",)),
        RateLimit(5, 10.0, ("domain",)),
    ),
    "commonjs": Declaration(
        "exports.config = { rateLimit: { windowLimit: 7, windowSize: 20, aggregateBy: ['ip', 'domain'] } };",
        NetlifyRule(7, 20, ("ip", "domain")),
        RateLimit(7, 20.0, ("ip", "domain")),
    ),
    "module-exports": Declaration(
        "module.exports.config = { rateLimit: { windowLimit: 7, windowSize: 20 } };",
        NetlifyRule(7, 20, ("domain",)),
        RateLimit(7, 20.0, ("domain",)),
    ),
    "var": Declaration(
        "export var config = { rateLimit: { windowLimit: 5, windowSize: 10 } };",
        NetlifyRule(5, 10, ("domain",)),
        RateLimit(5, 10.0, ("domain",)),
    ),
    "let-after-another": Declaration(
        "export let path = '/x', config = { rateLimit: { windowLimit: 5, windowSize: 10 } };",
        NetlifyRule(5, 10, ("domain",)),
        RateLimit(5, 10.0, ("domain",)),
    ),
    # Of two config exports the last counts; other exported objects are not the config.
    "last-config": Declaration(
        rule(
            "windowLimit: 5, windowSize: 10",
            "exports.config = { rateLimit: { windowLimit: 7, windowSize: 10 } };",
        ),
        NetlifyRule(7, 10, ("domain",)),
        RateLimit(7, 10.0, ("domain",)),
    ),
    "other-exports": Declaration(
        rule(
            "windowLimit: 5, windowSize: 10",
            "export const defaults = { rateLimit: { windowLimit: 1, windowSize: 1 } };\n"
            "exports.options = { rateLimit: { windowLimit: 2, windowSize: 2 } };",
        ),
        NetlifyRule(5, 10, ("domain",)),
        RateLimit(5, 10.0, ("domain",)),
    ),
    # Another property that is not a literal drops only that property.
    "other-non-literal": Declaration(
        "const P = '/x';\nexport const config = { path: P, ...{}, rateLimit: { windowLimit: 3, windowSize: 9,"
        " aggregateBy: ['ip'] } };",
        NetlifyRule(3, 9, ("ip",)),
        RateLimit(3, 9.0, ("ip",)),
    ),
    "no-rule": Declaration("export const config = { path: '/x' };", None, None),
    "no-config": Declaration("", None, None),
    # The entry Netlify takes: its name or index, .js before .ts before .mjs.
    "index-entry": Declaration(
        rule("windowLimit: 3, windowSize: 10"),
        NetlifyRule(3, 10, ("domain",)),
        RateLimit(3, 10.0, ("domain",)),
        "index.mjs",
    ),
    "js-before-mjs": Declaration(
        rule("windowLimit: 7, windowSize: 10"),
        NetlifyRule(7, 10, ("domain",)),
        RateLimit(7, 10.0, ("domain",)),
        "index.js",
        (("{name}.mjs", rule("windowLimit: 5, windowSize: 10")),),
    ),
    # Dropped: a required number that is not a finite number literal.
    "constant": Declaration(
        "const LIMIT = 60;\n" + rule("windowLimit: LIMIT, windowSize: 60, aggregateBy: ['ip']"),
        None,
        RULE + "has no literal finite number windowLimit: Netlify's bundler drops the whole rule",
    ),
    "expression": Declaration(
        rule("windowLimit: 60, windowSize: 6 * 10, aggregateBy: ['ip']"),
        None,
        RULE + "has no literal finite number windowSize: Netlify's bundler drops the whole rule",
    ),
    "string-number": Declaration(
        rule("windowLimit: '60', windowSize: 60"),
        None,
        RULE + "has no literal finite number windowLimit: Netlify's bundler drops the whole rule",
    ),
    "bigint": Declaration(
        rule("windowLimit: 60n, windowSize: 60"),
        None,
        RULE + "has no literal finite number windowLimit: Netlify's bundler drops the whole rule",
    ),
    "infinite": Declaration(
        rule("windowLimit: 60, windowSize: 1e999"),
        None,
        RULE + "has no literal finite number windowSize: Netlify's bundler drops the whole rule",
    ),
    "minified-boolean": Declaration(
        rule("windowLimit: !1, windowSize: 60"),
        None,
        RULE + "has no literal finite number windowLimit: Netlify's bundler drops the whole rule",
    ),
    "no-window-size": Declaration(
        rule("windowLimit: 60"),
        None,
        RULE + "has no literal finite number windowSize: Netlify's bundler drops the whole rule",
    ),
    "rule-constant": Declaration(
        "const RULE = {};\nexport const config = { rateLimit: RULE };",
        None,
        RULE + "is not an object literal: Netlify's bundler drops it",
    ),
    "rule-null": Declaration(
        "export const config = { rateLimit: null };",
        None,
        RULE + "is not an object literal: Netlify's bundler drops it",
    ),
    # Dropped: a setting Netlify's schema refuses.
    "aggregate-unknown": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: ['ip', 'user']"),
        None,
        RULE + f"has an aggregateBy other than an array of 'ip' and 'domain': {DROPS}",
    ),
    "aggregate-unknown-string": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: 'user'"),
        None,
        RULE + f"has an aggregateBy other than an array of 'ip' and 'domain': {DROPS}",
    ),
    "aggregate-null": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: null"),
        None,
        RULE + f"has an aggregateBy other than an array of 'ip' and 'domain': {DROPS}",
    ),
    "aggregate-hole": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: [, 'ip']"),
        None,
        RULE + f"has an aggregateBy other than an array of 'ip' and 'domain': {DROPS}",
    ),
    "aggregate-hole-between": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: ['ip', , 'domain']"),
        None,
        RULE + f"has an aggregateBy other than an array of 'ip' and 'domain': {DROPS}",
    ),
    # A boolean is a literal Netlify's schema refuses where it wants a string or an array, minified
    # (`!0`, `!1`) or not: it drops the rule, where an expression would be read as absent.
    "aggregate-minified-boolean": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: !1"),
        None,
        RULE + f"has an aggregateBy other than an array of 'ip' and 'domain': {DROPS}",
    ),
    "action-boolean": Declaration(
        rule("windowLimit: 60, windowSize: 60, action: false"),
        None,
        RULE + f"has an action other than 'rate_limit' or 'rewrite': {DROPS}",
    ),
    "to-boolean": Declaration(
        rule("windowLimit: 60, windowSize: 60, to: true"),
        None,
        RULE + f"has a `to` that is not a string: {DROPS}",
    ),
    "aggregate-template": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: ['ip', `domain`]"),
        None,
        RULE + f"has an aggregateBy other than an array of 'ip' and 'domain': {DROPS}",
    ),
    "unknown-action": Declaration(
        rule("windowLimit: 60, windowSize: 60, action: 'block'"),
        None,
        RULE + f"has an action other than 'rate_limit' or 'rewrite': {DROPS}",
    ),
    "fixed-window": Declaration(
        rule("windowLimit: 60, windowSize: 60, algorithm: 'fixed_window'"),
        None,
        RULE + f"has an algorithm other than 'sliding_window', the one Netlify has: {DROPS}",
    ),
    "to-not-a-string": Declaration(
        rule("windowLimit: 60, windowSize: 60, to: 5"),
        None,
        RULE + f"has a `to` that is not a string: {DROPS}",
    ),
    # Weakened: counted per site domain only, everyone together.
    "aggregate-string": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: 'ip'"),
        NetlifyRule(60, 60, ("domain",)),
        RULE + "has aggregateBy 'ip', not an array: Netlify counts it per site domain only "
        "(write ['ip', 'domain'] to count per address)",
    ),
    "aggregate-constant": Declaration(
        "const BY = ['ip'];\n" + rule("windowLimit: 60, windowSize: 60, aggregateBy: BY"),
        NetlifyRule(60, 60, ("domain",)),
        RULE + NOT_LITERAL.format("aggregateBy"),
    ),
    "aggregate-shorthand": Declaration(
        "const aggregateBy = ['ip'];\n" + rule("windowLimit: 60, windowSize: 60, aggregateBy"),
        NetlifyRule(60, 60, ("domain",)),
        RULE + NOT_LITERAL.format("aggregateBy"),
    ),
    # Kept by Netlify as something else than written, or what make dev cannot apply.
    "action-constant": Declaration(
        "const ACTION = 'rewrite';\n" + rule("windowLimit: 60, windowSize: 60, action: ACTION, to: '/busy'"),
        NetlifyRule(60, 60, ("domain",)),
        RULE + NOT_LITERAL.format("action"),
    ),
    "aggregate-empty": Declaration(
        rule("windowLimit: 60, windowSize: 60, aggregateBy: []"),
        NetlifyRule(60, 60, ()),
        RULE + "has an empty aggregateBy, which counts nothing: write ['ip', 'domain'] to count per address",
    ),
    "rewrite": Declaration(
        rule("windowLimit: 5, windowSize: 60, aggregateBy: ['ip'], action: 'rewrite', to: '/busy.html'"),
        NetlifyRule(5, 60, ("ip",), "rewrite"),
        RULE + "asks for a rewrite: the dev server answers a rate limit with 429 only",
    ),
    "fraction": Declaration(
        rule("windowLimit: 1.5, windowSize: 60"),
        NetlifyRule(1.5, 60, ("domain",)),
        RULE + "needs a whole windowLimit of at least 1 and a windowSize above 0 seconds",
    ),
    "zero": Declaration(
        rule("windowLimit: 0, windowSize: 60"),
        NetlifyRule(0, 60, ("domain",)),
        RULE + "needs a whole windowLimit of at least 1 and a windowSize above 0 seconds",
    ),
    "zero-window": Declaration(
        rule("windowLimit: 5, windowSize: 0"),
        NetlifyRule(5, 0, ("domain",)),
        RULE + "needs a whole windowLimit of at least 1 and a windowSize above 0 seconds",
    ),
    # Read by Netlify's bundler, but not by make dev: it stops and says where to write the rule.
    "re-exported": Declaration(
        "const config = { rateLimit: { windowLimit: 5, windowSize: 10 } };\nexport { config };",
        NetlifyRule(5, 10, ("domain",)),
        "{entry} mentions rateLimit outside an `export const config = {...}` object literal, the one place "
        "make dev reads it: write the rule there.",
    ),
    "typescript": Declaration(
        rule("windowLimit: 4, windowSize: 10"),
        NetlifyRule(4, 10, ("domain",)),
        "{entry} declares rateLimit in TypeScript, which make dev does not read: write the entry in "
        "JavaScript (.mjs) for make dev to apply the limit Netlify does.",
        "{name}.ts",
        (("{name}.mjs", rule("windowLimit: 9, windowSize: 10")),),
    ),
}


def write_function(functions: Path, name: str, declaration: Declaration) -> Path:
    """A function directory holding the declaration's entry (and the files beside it); the entry's path."""
    directory = functions / name
    directory.mkdir(parents=True)
    for file, source in ((declaration.entry, declaration.source), *declaration.others):
        (directory / file.format(name=name)).write_text(DEFAULT_EXPORT + source + "\n", encoding="utf-8")
    return directory / declaration.entry.format(name=name)

"""Subscription filter expressions (derived channels), without sockets."""

import base64

import pytest

from ably_local.channels import validate_channel_name
from ably_local.errors import AblyError
from ably_local.filters import compile_filter, filter_context, split_qualified
from ably_local.limits import Limits
from ably_local.protocol import Action, Flag
from tests.realtime.core import Core, drain

LIMITS = Limits()


def message(name: str | None = None, client_id: str | None = None, **headers: object) -> dict[str, object]:
    item: dict[str, object] = {"name": name, "clientId": client_id}
    if headers:
        item["extras"] = {"headers": headers}
    return item


@pytest.mark.parametrize(
    ("expression", "item", "expected"),
    [
        ('name == `"a"`', message("a"), True),
        ('name == `"a"`', message("b"), False),
        ("name == 'a'", message("a"), True),
        ("headers.level >= `2` && headers.level < `5`", message(level=3), True),
        ("headers.level >= `2` && headers.level < `5`", message(level=5), False),
        ("headers.level > `1`", message(level="9"), False),  # text is not ordered against numbers
        ("headers.missing == `null`", message(), True),
        ("!(clientId == 'ada') || name == 'x'", message("x", "ada"), True),
        ("!(clientId == 'ada') || name == 'x'", message("y", "ada"), False),
        ("headers.flag", message(flag=True), True),
        ("headers.count", message(count=0), True),  # JMESPath: 0 is true, unlike an empty text
        ("headers.text", message(text=""), False),
        ('headers."odd key" == `1`', {"extras": {"headers": {"odd key": 1}}}, True),
    ],
)
def test_expressions(expression: str, item: dict[str, object], expected: bool) -> None:
    assert compile_filter(expression, LIMITS).accepts(filter_context(item)) is expected


@pytest.mark.parametrize(
    "expression", ["name ==", "(name == 'a'", "name === 'a'", "`{bad json`", "name == `1` )"]
)
def test_expressions_that_do_not_parse_are_40010(expression: str) -> None:
    with pytest.raises(AblyError) as refused:
        compile_filter(expression, LIMITS)
    assert refused.value.code == 40010


SMALL = Limits(filter_terms=7, filter_nesting_depth=3)


@pytest.mark.parametrize(
    ("expression", "terms"),
    [
        ("name == 'a'", 3),
        ("name == 'a' && clientId != 'b'", 7),  # two comparisons of two operands each, and the &&
        ("!!!name", 4),
        ("headers.a.b == `1`", 5),  # each step of a path is a term
        ("((name))", 1),
        ("name == `[[[1]]]`", 3),  # a literal nested three deep: at the bound
    ],
)
def test_expressions_within_the_bounds_compile_with_their_cost(expression: str, terms: int) -> None:
    assert compile_filter(expression, SMALL).terms == terms


@pytest.mark.parametrize(
    "expression",
    [
        "name == 'a' && clientId != 'b' && name",  # eight terms
        "!!!!name",  # four levels of negation
        "((((name))))",  # four levels of parentheses
        "!(!(name))",
        "name == `[[[[1]]]]`",  # a literal four deep
        "(name == `[[[1]]]`)",  # three deep inside one level of parentheses
        "headers.a.b.c.d.e.f == `1`",  # a long path
    ],
)
def test_expressions_past_their_bounds_are_40010(expression: str) -> None:
    with pytest.raises(AblyError) as refused:
        compile_filter(expression, SMALL)
    assert refused.value.code == 40010


@pytest.mark.parametrize(
    "expression",
    ["!" * 5000 + "name", "(" * 5000 + "name" + ")" * 5000, "name == `" + "[" * 5000 + "]" * 5000 + "`"],
    ids=["negations", "parentheses", "literal"],
)
def test_no_expression_runs_the_parser_out_of_stack(expression: str) -> None:
    with pytest.raises(AblyError) as refused:
        compile_filter(expression, LIMITS)
    assert refused.value.code == 40010


def test_brackets_inside_a_literal_string_are_not_nesting() -> None:
    assert compile_filter('name == `"[[[[[[[["`', SMALL).accepts(filter_context(message("[[[[[[[[")))


def test_qualified_names() -> None:
    encoded = base64.b64encode(b"name == 'a'").decode()
    assert split_qualified(f"[filter={encoded}]chat:room") == ("name == 'a'", "chat:room")
    assert split_qualified("chat:room") is None
    nested = f"[filter={encoded}][filter={encoded}]chat:room"
    too_long = f"[filter={encoded}]" + "x" * LIMITS.channel_name_bytes
    for bad in ("[meta]log", "[filter=!!!]x", f"[filter={encoded}]", "[?rewind=1]x", nested, too_long):
        with pytest.raises(AblyError) as refused:
            validate_channel_name(bad, LIMITS)
        assert refused.value.code == 40010


def test_the_filters_following_a_channel_are_bounded_in_terms_together() -> None:
    """Every message published on a channel is evaluated by each distinct filter following it."""
    core = Core(limits=Limits(filter_terms_per_channel=10))
    client = core.connect(access_token=core.token("f", '{"[*]*":["subscribe"],"*":["*"]}'))
    drain(client)

    def derived(expression: str, source: str = "room") -> str:
        return f"[filter={base64.b64encode(expression.encode()).decode()}]{source}"

    for expression in ("name == 'a'", "name == 'b'", "name == 'c'"):  # 3 terms each: 9 of 10
        assert core.attach(client, derived(expression))[0]["action"] == Action.ATTACHED
    assert (
        core.attach(client, derived("name == 'a'"))[0]["action"] == Action.ATTACHED
    )  # the same filter again
    [refused] = core.attach(client, derived("name == 'd'"))
    assert (refused["action"], refused["error"]["code"], refused["channel"]) == (
        Action.ERROR,
        42910,
        derived("name == 'd'"),
    )
    assert derived("name == 'd'") not in core.service.table.channels
    assert core.attach(client, derived("name == 'd'", "other"))[0]["action"] == Action.ATTACHED  # per channel
    core.send(client, {"action": Action.DETACH, "channel": derived("name == 'c'")})
    drain(client)
    assert core.attach(client, derived("name == 'd'"))[0]["action"] == Action.ATTACHED  # room again


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_a_filter_that_would_run_the_parser_out_of_stack_is_40010_on_attach(fmt: str) -> None:
    core = Core()
    client = core.connect(fmt)
    drain(client)
    deep = base64.b64encode(("!" * 700 + "name").encode()).decode()
    [refused] = core.attach(client, f"[filter={deep}]room")
    assert (refused["action"], refused["error"]["code"]) == (Action.ERROR, 40010)


def test_derived_channels_follow_their_source_and_are_released() -> None:
    core = Core()
    expression = base64.b64encode(b"name == 'keep'").decode()
    derived_name = f"[filter={expression}]room"
    client = core.connect(access_token=core.token("f", '{"[*]*":["subscribe"],"room":["publish"]}'))
    drain(client)
    [attached] = core.attach(client, derived_name)
    assert attached["action"] == Action.ATTACHED
    core.publish(client, "room", 0, "drop", "keep")
    [delivered] = [frame for frame in drain(client) if frame["action"] == Action.MESSAGE]
    assert delivered["channel"] == derived_name
    assert [item["name"] for item in delivered["messages"]] == ["keep"]
    core.send(client, {"action": Action.DETACH, "channel": derived_name})
    assert derived_name not in core.service.table.channels
    assert core.service.table.followers == {}


A_FILTER = base64.b64encode(b"name == 'a'").decode()


def test_refusals_leave_no_channel_behind() -> None:
    """A client naming channels it may not publish or annotate on cannot grow the service with them."""
    core = Core(mutable_namespaces=frozenset({"mutable"}))
    client = core.connect(access_token=core.token("f", '{"[*]*":["*"],"*":["*"]}'))
    drain(client)
    derived = f"[filter={A_FILTER}]room"
    refusals = [
        (Action.MESSAGE, derived, {"messages": [{"name": "a"}]}, 40010),
        (Action.ANNOTATION, "plain", {"annotations": [{"messageSerial": "x", "type": "t"}]}, 93002),
        (Action.ANNOTATION, "mutable:room", {"annotations": [{"messageSerial": "x", "type": "t"}]}, 40400),
    ]
    for serial, (action, name, body, code) in enumerate(refusals):
        core.send(client, {"action": action, "channel": name, "msgSerial": serial, **body})
        [nack] = drain(client)
        assert (nack["action"], nack["error"]["code"]) == (Action.NACK, code)
    assert core.service.table.channels == {}
    assert core.service.table.followers == {}


def test_renewed_credentials_keep_a_filtered_attachment_subscribe_only() -> None:
    core = Core()
    capability = '{"[*]*":["*"],"*":["*"]}'
    client = core.connect(access_token=core.token("f", capability))
    drain(client)
    derived = f"[filter={A_FILTER}]room"
    [attached] = core.attach(client, derived)
    assert attached["flags"] & ~Flag.RESUMED == Flag.SUBSCRIBE
    core.send(client, {"action": Action.AUTH, "auth": {"accessToken": core.token("f", capability)}})
    assert Action.ATTACHED not in [frame["action"] for frame in drain(client)]
    assert core.service.table.channels[derived].attached[client.id] == Flag.SUBSCRIBE

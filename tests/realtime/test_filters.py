"""Subscription filter expressions (derived channels), without sockets."""

import base64

import pytest

from ably_local.channels import validate_channel_name
from ably_local.errors import AblyError
from ably_local.filters import accepts, compile_filter, split_qualified
from ably_local.protocol import Action, Flag
from tests.realtime.core import Core, drain


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
    assert accepts(compile_filter(expression), item) is expected


@pytest.mark.parametrize(
    "expression", ["name ==", "(name == 'a'", "name === 'a'", "`{bad json`", "name == `1` )"]
)
def test_expressions_that_do_not_parse_are_40010(expression: str) -> None:
    with pytest.raises(AblyError) as refused:
        compile_filter(expression)
    assert refused.value.code == 40010


def test_qualified_names() -> None:
    encoded = base64.b64encode(b"name == 'a'").decode()
    assert split_qualified(f"[filter={encoded}]chat:room") == ("name == 'a'", "chat:room")
    assert split_qualified("chat:room") is None
    for bad in ("[meta]log", "[filter=!!!]x", f"[filter={encoded}]", "[?rewind=1]x"):
        with pytest.raises(AblyError) as refused:
            validate_channel_name(bad)
        assert refused.value.code == 40010


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

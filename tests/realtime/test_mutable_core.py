"""Mutable messages and annotations in the sans-I/O core: who may be named, and what they may cost."""

from typing import Any

import pytest

from ably_local.connection import Connection
from ably_local.protocol import Action
from tests.realtime.core import Core, drain

CHANNEL = "mutable:room"
RIGHTS = '{"mutable:*":["publish","subscribe","history","message-update-own","message-delete-own",' + (
    '"annotation-publish","annotation-subscribe"]}'
)


def mutable_core(**config: Any) -> Core:
    return Core(mutable_namespaces=frozenset({"mutable"}), **config)


def published(core: Core, client: Connection, data: object = "first", serial: int = 0) -> str:
    """Publish one message; its serial, from the ACK."""
    message = {
        "action": Action.MESSAGE,
        "channel": CHANNEL,
        "msgSerial": serial,
        "messages": [{"data": data}],
    }
    core.send(client, message)
    [ack] = [frame for frame in drain(client) if frame["action"] == Action.ACK]
    serials: list[str] = ack["res"][0]["serials"]
    return serials[0]


def changed(core: Core, client: Connection, msg_serial: int, **change: Any) -> dict[str, Any]:
    """Send one update, delete or append; the ACK or NACK answering it."""
    message = {"action": Action.MESSAGE, "channel": CHANNEL, "msgSerial": msg_serial, "messages": [change]}
    core.send(client, message)
    [answer] = [frame for frame in drain(client) if frame["action"] in (Action.ACK, Action.NACK)]
    return answer


@pytest.mark.parametrize("named", ["alice", "*", ""])
@pytest.mark.parametrize("action", [1, 2, 5], ids=["update", "delete", "append"])
def test_a_version_may_name_only_the_clientid_the_connection_may_act_as(action: int, named: str) -> None:
    core = mutable_core()
    mallory = core.connect(access_token=core.token("mallory", RIGHTS))
    drain(mallory)
    serial = published(core, mallory)
    change = {"action": action, "serial": serial, "data": " more", "version": {"clientId": named}}
    nack = changed(core, mallory, 1, **change)
    assert (nack["action"], nack["error"]["code"]) == (Action.NACK, 40012)
    assert [
        version["data"] for version in core.service.messaging.message_store(CHANNEL).get(serial).versions
    ] == ["first"]


def test_a_version_names_who_made_the_change() -> None:
    core = mutable_core()
    mallory = core.connect(access_token=core.token("mallory", RIGHTS))
    drain(mallory)
    serial = published(core, mallory)
    assert changed(core, mallory, 1, action=1, serial=serial, data="edited")["action"] == Action.ACK
    latest = core.service.messaging.message_store(CHANNEL).get(serial).latest
    assert latest["version"]["clientId"] == "mallory"


@pytest.mark.parametrize("named", ["bob", "*", ""])
def test_an_annotation_may_name_only_the_clientid_the_connection_may_act_as(named: str) -> None:
    core = mutable_core()
    mallory = core.connect(access_token=core.token("mallory", RIGHTS))
    drain(mallory)
    serial = published(core, mallory)
    annotation = {"messageSerial": serial, "type": "reaction:distinct.v1", "name": "+1", "clientId": named}
    core.send(
        mallory,
        {"action": Action.ANNOTATION, "channel": CHANNEL, "msgSerial": 1, "annotations": [annotation]},
    )
    [nack] = drain(mallory)
    assert (nack["action"], nack["error"]["code"]) == (Action.NACK, 40012)
    assert core.service.messaging.message_store(CHANNEL).get(serial).annotations == []


@pytest.mark.parametrize("named", ["*", ""])
def test_a_message_may_not_name_the_wildcard_or_nobody_even_with_the_key(named: str) -> None:
    core = mutable_core()
    client = core.connect()
    drain(client)
    message = {
        "action": Action.MESSAGE,
        "channel": CHANNEL,
        "msgSerial": 0,
        "messages": [{"clientId": named}],
    }
    core.send(client, message)
    [nack] = drain(client)
    assert (nack["action"], nack["error"]["code"]) == (Action.NACK, 40012)

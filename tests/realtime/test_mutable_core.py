"""Mutable messages and annotations in the sans-I/O core: who may be named, and what they may cost."""

import json
from typing import Any

import pytest

from ably_local.connection import Connection
from ably_local.limits import Limits
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


# --- what a message's versions and annotations may weigh --------------------------------------------------


def editor(core: Core) -> Connection:
    client = core.connect(access_token=core.token("editor", RIGHTS))
    drain(client)
    return client


def test_an_appended_message_is_bounded_by_max_message_size_as_a_whole() -> None:
    core = mutable_core(limits=Limits(max_message_size=1_000))
    client = editor(core)
    serial = published(core, client, "x" * 600)
    nack = changed(core, client, 1, action=5, serial=serial, data="y" * 600)  # each part fits; joined not
    assert (nack["action"], nack["error"]["code"]) == (Action.NACK, 40009)
    record = core.service.messaging.message_store(CHANNEL).get(serial)
    assert (record.latest["data"], len(record.versions)) == ("x" * 600, 1)
    assert changed(core, client, 2, action=5, serial=serial, data="y" * 300)["action"] == Action.ACK
    assert record.latest["data"] == "x" * 600 + "y" * 300


@pytest.mark.parametrize(
    ("limits", "data"),
    [(Limits(versions_per_message=5), "v"), (Limits(version_bytes_per_message=5 * 1_100), "v" * 1_000)],
    ids=["count", "bytes"],
)
def test_the_versions_of_a_message_are_bounded(limits: Limits, data: str) -> None:
    core = mutable_core(limits=limits)
    client = editor(core)
    serial = published(core, client, data)
    answers = [changed(core, client, n, action=1, serial=serial, data=data)["action"] for n in range(1, 7)]
    assert answers == [Action.ACK] * 4 + [Action.NACK] * 2
    assert len(core.service.messaging.message_store(CHANNEL).get(serial).versions) == 5


def annotation(
    serial: str, client_id: str, kind: str = "reaction:distinct.v1", **fields: Any
) -> dict[str, Any]:
    return {"messageSerial": serial, "type": kind, "name": "+1", "clientId": client_id, **fields}


def annotated(
    core: Core, client: Connection, msg_serial: int, *annotations: dict[str, Any]
) -> dict[str, Any]:
    message = {
        "action": Action.ANNOTATION,
        "channel": CHANNEL,
        "msgSerial": msg_serial,
        "annotations": list(annotations),
    }
    core.send(client, message)
    [answer] = [frame for frame in drain(client) if frame["action"] in (Action.ACK, Action.NACK)]
    return answer


@pytest.mark.parametrize(
    "limits",
    [Limits(annotations_per_message=10), Limits(annotation_bytes_per_message=630)],
    ids=["count", "bytes"],
)
def test_the_annotations_of_a_message_are_bounded(limits: Limits) -> None:
    core = mutable_core(limits=limits)
    client = core.connect()  # the key: any clientId
    drain(client)
    serial = published(core, client)
    batch = [annotation(serial, f"client-{n:03}", id=f"a{n:03}".ljust(40, "-")) for n in range(8)]
    assert annotated(core, client, 1, *batch)["action"] == Action.ACK  # 8 of 72 bytes each (type included)
    nack = annotated(core, client, 2, *[annotation(serial, f"late-{n}") for n in range(3)])
    assert (nack["action"], nack["error"]["code"]) == (Action.NACK, 42910)
    record = core.service.messaging.message_store(CHANNEL).get(serial)
    assert len(record.annotations) == 8  # the refused publish kept none of its three
    other = published(core, client, serial=3)
    assert annotated(core, client, 4, annotation(other, "late-0"))["action"] == Action.ACK  # per message


def test_one_publish_carries_at_most_max_messages_per_publish_annotations() -> None:
    core = mutable_core(limits=Limits(max_messages_per_publish=3))
    client = core.connect()
    drain(client)
    serial = published(core, client)
    nack = annotated(core, client, 1, *[annotation(serial, f"c{n}") for n in range(4)])
    assert (nack["action"], nack["error"]["code"]) == (Action.NACK, 40034)


def summaries(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        item["annotations"]["summary"]
        for frame in frames
        if frame["action"] == Action.MESSAGE
        for item in frame["messages"]
        if item.get("action") == 4
    ]


def test_summaries_roll_up_each_method_as_ably_documents_it() -> None:
    core = mutable_core()
    client = core.connect()
    core.attach(client, CHANNEL)
    drain(client)
    serial = published(core, client)
    steps = [
        annotation(serial, "ann", "likes:total.v1"),
        annotation(serial, "bob", "likes:total.v1"),
        annotation(serial, "ann", "spam:flag.v1"),
        annotation(serial, "ann", "spam:flag.v1"),  # once per client
        annotation(serial, "ann", "tags:distinct.v1", name="x"),
        annotation(serial, "bob", "tags:distinct.v1", name="x"),
        annotation(serial, "ann", "tags:distinct.v1", name="y"),
        annotation(serial, "ann", "vote:unique.v1", name="a"),
        annotation(serial, "ann", "vote:unique.v1", name="b"),  # moves ann from a to b
        annotation(serial, "ann", "score:multiple.v1", name="p", count=3),
        annotation(serial, "ann", "score:multiple.v1", name="p"),
        {**annotation(serial, "nobody", "score:multiple.v1", name="p", count=2), "clientId": None},
        {**annotation(serial, "bob", "tags:distinct.v1", name="x"), "action": 1},  # bob takes back x
    ]
    for n, step in enumerate(steps, start=1):
        sent = {k: v for k, v in step.items() if v is not None}
        core.send(
            client, {"action": Action.ANNOTATION, "channel": CHANNEL, "msgSerial": n, "annotations": [sent]}
        )
        frames = drain(client)
        assert Action.ACK in [frame["action"] for frame in frames]
    last = summaries(frames)[-1]
    assert last == {
        "likes:total.v1": {"total": 2},
        "spam:flag.v1": {"total": 1, "clientIds": ["ann"], "clipped": False},
        "tags:distinct.v1": {
            "x": {"total": 1, "clientIds": ["ann"], "clipped": False},
            "y": {"total": 1, "clientIds": ["ann"], "clipped": False},
        },
        "vote:unique.v1": {
            "a": {"total": 0, "clientIds": [], "clipped": False},
            "b": {"total": 1, "clientIds": ["ann"], "clipped": False},
        },
        "score:multiple.v1": {
            "p": {
                "total": 6,
                "clientIds": {"ann": 4},
                "totalUnidentified": 2,
                "totalClientIds": 1,
                "clipped": False,
            }
        },
    }


def test_a_summary_is_clipped_to_fit_a_message_with_its_totals_exact() -> None:
    core = mutable_core(limits=Limits(max_message_size=2_000))
    client = core.connect()
    core.attach(client, CHANNEL)
    drain(client)
    serial = published(core, client)
    for n in range(0, 300, 10):  # 300 clients, each id about 20 bytes: 6 KB of ids
        batch = [annotation(serial, f"a-rather-long-id-{m:04}") for m in range(n, n + 10)]
        core.send(
            client,
            {"action": Action.ANNOTATION, "channel": CHANNEL, "msgSerial": n + 1, "annotations": batch},
        )
        frames = drain(client)
        assert Action.ACK in [frame["action"] for frame in frames]
    last = summaries(frames)[-1]["reaction:distinct.v1"]["+1"]
    assert (last["total"], last["clipped"]) == (300, True)
    assert 0 < len(last["clientIds"]) < 300
    assert last["clientIds"] == [f"a-rather-long-id-{m:04}" for m in range(len(last["clientIds"]))]
    assert len(json.dumps({"reaction:distinct.v1": {"+1": last}})) <= 2_000


def test_history_is_charged_for_what_an_append_keeps_and_records_go_with_their_message() -> None:
    core = mutable_core(limits=Limits(history_bytes_per_channel=60_000))
    client = editor(core)
    serial = published(core, client, "x" * 10_000)
    log = core.service.table.channels[CHANNEL].log
    before = log.bytes
    assert changed(core, client, 1, action=5, serial=serial, data="y")["action"] == Action.ACK
    assert log.bytes - before > 10_000  # the joined message it keeps, not the one byte appended
    store = core.service.messaging.message_store(CHANNEL)
    for n in range(2, 10):
        changed(core, client, n, action=5, serial=serial, data="y")
    assert serial not in store.records  # the history let the message go, and its record went with it

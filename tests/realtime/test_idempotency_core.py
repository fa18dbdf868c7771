"""Idempotent publishing without sockets: a publish with client-supplied ids is delivered once per window."""

from typing import Any

import pytest

from ably_local.errors import AblyError
from ably_local.idempotency import Published, RecentPublishes, idempotency_key
from ably_local.protocol import Action
from tests.realtime.core import Core, drain

WINDOW_MS = 120_000


@pytest.mark.parametrize(
    ("ids", "key"),
    [
        ([None], None),
        ([None, None], None),
        (["only"], "only"),
        (["base:0", "base:1", "base:2"], "base:0"),
        (["a:b:0", "a:b:1"], "a:b:0"),
    ],
)
def test_the_key_is_the_first_id_of_a_consistent_publish(ids: list[str | None], key: str | None) -> None:
    assert idempotency_key([{"id": message_id} if message_id else {} for message_id in ids]) == key


@pytest.mark.parametrize("ids", [["a:0", "b:1"], ["a:0", None], [None, "a:1"], ["a:1", "a:0"], ["x", "x"]])
def test_messages_published_together_must_share_one_base_id(ids: list[str | None]) -> None:
    with pytest.raises(AblyError) as refused:
        idempotency_key([{"id": message_id} if message_id else {} for message_id in ids])
    assert refused.value.code == 40000


def test_remembered_publishes_expire_and_stay_within_their_bounds() -> None:
    recent = RecentPublishes(WINDOW_MS, max_entries=3, max_bytes=10_000)
    first = Published("conn:0", ("0000000000000001:0000",))
    recent.remember("chat", "id-0", first, now=0)
    assert recent.get("chat", "id-0", now=WINDOW_MS - 1) == first
    assert recent.get("other", "id-0", now=1) is None
    assert recent.get("chat", "id-0", now=WINDOW_MS) is None
    for index in range(1, 5):
        recent.remember("chat", f"id-{index}", first, now=index)
    assert len(recent) == 3
    assert recent.get("chat", "id-1", now=10) is None
    recent.expire(WINDOW_MS + 4)
    assert len(recent) == 0
    assert recent.bytes == 0

    by_bytes = RecentPublishes(WINDOW_MS, max_entries=1000, max_bytes=2000)
    for index in range(50):
        by_bytes.remember("chat", f"id-{index}" + "x" * 100, first, now=index)
    assert by_bytes.bytes <= 2000
    assert 0 < len(by_bytes) < 50


def publish_with_ids(core: Core, connection: Any, serial: int, *ids: str) -> None:
    messages = [{"name": "n", "data": message_id, "id": message_id} for message_id in ids]
    core.send(
        connection, {"action": Action.MESSAGE, "channel": "chat:i", "msgSerial": serial, "messages": messages}
    )


def test_a_realtime_publish_repeated_within_the_window_is_acked_but_delivered_once() -> None:
    core = Core()
    publisher, subscriber = core.connect(), core.connect()
    for connection in (publisher, subscriber):
        drain(connection)
        core.attach(connection, "chat:i")
    for serial in range(3):
        publish_with_ids(core, publisher, serial, "same")
    acks = [frame for frame in drain(publisher) if frame["action"] in (Action.ACK, Action.NACK)]
    acknowledged = [
        serial for ack in acks for serial in range(ack["msgSerial"], ack["msgSerial"] + ack["count"])
    ]
    assert {frame["action"] for frame in acks} == {Action.ACK}
    assert acknowledged == [0, 1, 2]
    delivered = [frame for frame in drain(subscriber) if frame["action"] == Action.MESSAGE]
    assert [[m["id"] for m in frame["messages"]] for frame in delivered] == [["same"]]
    assert len(core.service.messaging.history_of("chat:i")) == 1

    core.clock.advance(WINDOW_MS)
    core.service.tick()
    publish_with_ids(core, publisher, 3, "same")
    assert [m["id"] for f in drain(subscriber) if f["action"] == Action.MESSAGE for m in f["messages"]] == [
        "same"
    ]


def test_the_same_ids_on_another_channel_are_another_publish() -> None:
    core = Core()
    connection = core.connect()
    first = core.service.messaging.publish_once("chat:a", [{"id": "k:0"}, {"id": "k:1"}], "rest-x", 0)
    again = core.service.messaging.publish_once("chat:a", [{"id": "k:0"}, {"id": "k:1"}], "rest-y", 0)
    elsewhere = core.service.messaging.publish_once("chat:b", [{"id": "k:0"}, {"id": "k:1"}], "rest-z", 0)
    assert again == first
    assert elsewhere != first
    assert (
        len(core.service.messaging.history_of("chat:a"))
        == len(core.service.messaging.history_of("chat:b"))
        == 1
    )
    assert connection.live


def test_inconsistent_ids_in_one_realtime_publish_are_nacked() -> None:
    core = Core()
    publisher = core.connect()
    drain(publisher)
    core.attach(publisher, "chat:i")
    publish_with_ids(core, publisher, 0, "a:0", "b:1")
    [nack] = [frame for frame in drain(publisher) if frame["action"] == Action.NACK]
    assert nack["error"]["code"] == 40000
    assert core.service.messaging.history_of("chat:i") == []

"""The sans-I/O core of the local service, frame by frame: no sockets, a fake clock, timers via tick()."""

import secrets
from typing import Any

import pytest

from ably_local.capability import resource_matches
from ably_local.errors import AblyError
from ably_local.protocol import Action, Flag, PresenceAction
from tests.function.signing import expected_mac
from tests.realtime.core import ALL_MODES, KEY, Core, actions, drain


def test_connected_carries_the_details_clients_need() -> None:
    core = Core()
    connection = core.connect(clientId="carol")
    [connected] = drain(connection)
    assert connected["action"] == Action.CONNECTED
    assert connected["connectionId"] == connection.id
    details = connected["connectionDetails"]
    assert details["connectionKey"] == connected["connectionKey"] == connection.key
    assert details["clientId"] == "carol"
    assert details["maxMessageSize"] == 65536
    assert {"connectionStateTtl", "maxIdleInterval", "maxFrameSize", "serverId"} <= details.keys()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"v": "6", "key": "coreApp.otherKey:whatever"}, 40130),
        ({"v": "6", "key": "coreApp.coreKey:wrongSecret"}, 40101),
        ({"v": "1", "key": KEY.value}, 40000),
        ({"v": "6"}, 40101),
        ({"v": "6", "access_token": "coreApp.unknown"}, 40140),
    ],
)
def test_refused_connections_get_ablys_codes(params: dict[str, str], code: int) -> None:
    with pytest.raises(AblyError) as refused:
        Core().service.open(params)
    assert refused.value.code == code


def test_publish_is_acked_by_msg_serial_and_fanned_out_in_order() -> None:
    core = Core()
    publisher, json_subscriber = core.connect(), core.connect()
    msgpack_subscriber = core.connect("msgpack")
    for connection in (publisher, json_subscriber, msgpack_subscriber):
        drain(connection)
        [attached] = core.attach(connection, "chat:a")
        assert attached["action"] == Action.ATTACHED
        assert attached["flags"] & ALL_MODES == ALL_MODES

    core.publish(publisher, "chat:a", 0, "first", "second")
    core.clock.advance(5)
    core.publish(publisher, "chat:a", 1, "third")

    [publisher_frames] = [drain(publisher)]
    acks = [frame for frame in publisher_frames if frame["action"] == Action.ACK]
    assert [(ack["msgSerial"], ack["count"]) for ack in acks] == [(0, 1), (1, 1)]
    # Each ACK names the serials its messages got, in order (ably-js returns them from publish()).
    [[first_serials], [second_serials]] = [[result["serials"] for result in ack["res"]] for ack in acks]
    assert len(first_serials) == 2
    assert len(second_serials) == 1
    assert first_serials[0] < first_serials[1] < second_serials[0]
    for subscriber in (json_subscriber, msgpack_subscriber):
        frames = drain(subscriber)
        assert actions(frames) == [Action.MESSAGE, Action.MESSAGE]
        first, second = frames
        assert first["id"] == f"{publisher.id}:0"
        assert [m["id"] for m in first["messages"]] == [f"{publisher.id}:0:0", f"{publisher.id}:0:1"]
        assert [m["name"] for m in (*first["messages"], *second["messages"])] == ["first", "second", "third"]
        assert second["timestamp"] - first["timestamp"] == 5
        assert first["channelSerial"] < second["channelSerial"]
        assert {m["connectionId"] for m in first["messages"]} == {publisher.id}


def test_ack_for_msg_serial_zero_is_serialised() -> None:
    """ably-js leaves the first publish pending forever if msgSerial 0 is dropped from the ACK."""
    core = Core()
    connection = core.connect()
    core.attach(connection, "chat:z")
    drain(connection)
    core.publish(connection, "chat:z", 0, "x")
    [ack] = [frame for frame in connection.take_outbox() if '"action":1,' in str(frame)]
    assert '"msgSerial":0' in str(ack)


def test_echo_false_keeps_own_messages_away() -> None:
    core = Core()
    quiet = core.connect(echo="false")
    core.attach(quiet, "chat:echo")
    drain(quiet)
    core.publish(quiet, "chat:echo", 0, "mine")
    assert actions(drain(quiet)) == [Action.ACK]


def test_heartbeat_ids_are_echoed() -> None:
    core = Core()
    connection = core.connect()
    drain(connection)
    core.send(connection, {"action": Action.HEARTBEAT, "id": "ping-1"})
    assert drain(connection) == [{"action": Action.HEARTBEAT, "id": "ping-1"}]


@pytest.mark.parametrize(
    ("pattern", "channel", "matches"),
    [
        ("chat:*", "chat:a", True),
        ("chat:*", "chat:a:b", True),
        ("chat:*", "chat", False),
        ("chat:*", "chatter:a", False),
        ("chat:*:log", "chat:a:log", True),
        ("chat:*:log", "chat:a:b:log", False),
        ("foo*", "foo*", True),
        ("foo*", "foobar", False),
        ("*", "anything:at:all", True),
        ("*", "[meta]connection.lifecycle", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
    ],
)
def test_capability_resource_matching(pattern: str, channel: str, matches: bool) -> None:
    assert resource_matches(pattern, channel) is matches


def test_capability_refusals_on_the_wire() -> None:
    core = Core()
    reader = core.connect(access_token=core.token("reader", '{"chat:*":["subscribe"]}'))
    drain(reader)
    [attached] = core.attach(reader, "chat:a:b")
    assert attached["flags"] & Flag.SUBSCRIBE
    assert not attached["flags"] & Flag.PUBLISH
    core.publish(reader, "chat:a:b", 0, "nope")
    [nack] = drain(reader)
    assert (nack["action"], nack["msgSerial"], nack["error"]["code"]) == (Action.NACK, 0, 40160)
    [error] = core.attach(reader, "news")
    assert (error["action"], error["channel"], error["error"]["code"]) == (Action.ERROR, "news", 40160)
    assert core.service.history_of("chat:a:b") == []


def test_publishing_under_another_client_id_is_refused() -> None:
    core = Core()
    alice = core.connect(access_token=core.token("alice"))
    core.attach(alice, "chat:id")
    drain(alice)
    spoof = {"name": "x", "clientId": "bob"}
    core.send(alice, {"action": Action.MESSAGE, "channel": "chat:id", "msgSerial": 0, "messages": [spoof]})
    [nack] = drain(alice)
    assert (nack["action"], nack["error"]["code"]) == (Action.NACK, 40012)
    own = {"name": "y", "clientId": "alice"}
    core.send(alice, {"action": Action.MESSAGE, "channel": "chat:id", "msgSerial": 1, "messages": [own]})
    assert sorted(actions(drain(alice))) == [Action.ACK, Action.MESSAGE]


def test_presence_leave_follows_the_grace_period() -> None:
    core = Core(presence_grace_ms=1_000)
    alice = core.connect(access_token=core.token("alice"))
    watcher = core.connect()
    core.attach(alice, "chat:p")
    enter = {"action": PresenceAction.ENTER, "data": "hi"}
    core.send(alice, {"action": Action.PRESENCE, "channel": "chat:p", "msgSerial": 0, "presence": [enter]})
    drain(watcher)
    frames = core.attach(watcher, "chat:p")
    assert actions(frames) == [Action.ATTACHED, Action.SYNC]
    assert frames[0]["flags"] & Flag.HAS_PRESENCE
    assert frames[1]["channelSerial"].endswith(":")
    assert [(m["clientId"], m["action"]) for m in frames[1]["presence"]] == [
        ("alice", PresenceAction.PRESENT)
    ]

    core.service.transport_lost(alice)
    core.clock.advance(999)
    core.service.tick()
    assert Action.PRESENCE not in actions(drain(watcher))
    core.clock.advance(1)
    core.service.tick()
    [leave] = [frame for frame in drain(watcher) if frame["action"] == Action.PRESENCE]
    assert [(m["clientId"], m["action"]) for m in leave["presence"]] == [("alice", PresenceAction.LEAVE)]
    assert core.service.present_members("chat:p") == []


def test_token_is_renewed_on_the_live_connection_then_expires() -> None:
    core = Core(token_renewal_lead_ms=3_000)
    connection = core.connect(access_token=core.token("alice", ttl=10_000))
    drain(connection)
    core.clock.advance(6_999)
    core.service.tick()
    assert Action.AUTH not in actions(drain(connection))
    core.clock.advance(1)
    core.service.tick()
    assert Action.AUTH in actions(drain(connection))

    core.send(connection, {"action": Action.AUTH, "auth": {"accessToken": core.token("alice", ttl=10_000)}})
    [connected] = drain(connection)
    assert (connected["action"], connected["connectionId"]) == (Action.CONNECTED, connection.id)

    core.clock.advance(10_000)
    assert core.service.tick() == [connection]
    [disconnected] = [frame for frame in drain(connection) if frame["action"] != Action.HEARTBEAT]
    assert (disconnected["action"], disconnected["error"]["code"]) == (Action.DISCONNECTED, 40142)
    assert connection.closing


def test_renewal_may_not_change_the_client_id() -> None:
    core = Core()
    connection = core.connect(access_token=core.token("alice"))
    drain(connection)
    keep_open = core.send(connection, {"action": Action.AUTH, "auth": {"accessToken": core.token("mallory")}})
    [error] = drain(connection)
    assert (error["action"], error["error"]["code"], keep_open) == (Action.ERROR, 40012, False)


def test_resume_replays_the_gap_in_order_then_goes_live() -> None:
    core = Core()
    listener, talker = core.connect(), core.connect()
    for connection in (listener, talker):
        core.attach(connection, "chat:r")
        drain(connection)
    core.publish(talker, "chat:r", 0, "seen")
    [seen] = [frame for frame in drain(listener) if frame["action"] == Action.MESSAGE]

    core.service.transport_lost(listener)
    for serial in (1, 2, 3):
        core.publish(talker, "chat:r", serial, f"missed-{serial}")
    assert listener.outbox == []

    resumed = core.connect(resume=listener.key)
    assert resumed is listener
    [connected] = drain(resumed)
    assert connected["connectionId"] == listener.id
    assert "error" not in connected
    frames = core.attach(resumed, "chat:r", channelSerial=seen["channelSerial"])
    assert frames[0]["action"] == Action.ATTACHED
    assert frames[0]["flags"] & Flag.RESUMED
    assert [f["messages"][0]["name"] for f in frames[1:]] == ["missed-1", "missed-2", "missed-3"]

    core.publish(talker, "chat:r", 4, "live")
    assert [f["messages"][0]["name"] for f in drain(resumed)] == ["live"]


def test_resume_with_an_unknown_key_gets_a_fresh_connection_and_80018() -> None:
    """As ably-js's suite expects (connection.test.js unrecoverableConnection, RTN15c7)."""
    core = Core()
    connection = core.connect(resume="gone!key")
    [connected] = drain(connection)
    assert connected["error"]["code"] == 80018
    assert connected["connectionId"] == connection.id


def test_token_request_is_verified_and_exchanged() -> None:
    core = Core()
    request: dict[str, Any] = {
        "keyName": KEY.name,
        "ttl": 60_000,
        "capability": '{"chat:*":["publish","subscribe"]}',
        "clientId": "alice",
        "timestamp": core.clock.now,
        "nonce": secrets.token_hex(16),
    }
    request["mac"] = expected_mac(request, KEY.secret)
    details = core.authority.request_token(KEY.name, request)
    assert (details.client_id, details.expires - details.issued) == ("alice", 60_000)
    credentials = core.authority.token(details.token)
    assert credentials.client_id == "alice"

    with pytest.raises(AblyError) as replayed:
        core.authority.request_token(KEY.name, request)
    assert replayed.value.code == 40105
    tampered = {**request, "clientId": "mallory", "nonce": secrets.token_hex(16)}
    with pytest.raises(AblyError) as bad_mac:
        core.authority.request_token(KEY.name, tampered)
    assert bad_mac.value.code == 40101


def test_resume_replays_a_channel_that_was_empty_at_attach() -> None:
    core = Core()
    listener, talker = core.connect(), core.connect()
    for connection in (listener, talker):
        core.attach(connection, "chat:new")
        drain(connection)

    core.service.transport_lost(listener)
    core.publish(talker, "chat:new", 0, "missed")
    resumed = core.connect(resume=listener.key)
    assert resumed is listener
    drain(resumed)
    frames = core.attach(resumed, "chat:new")  # what an SDK sends when ATTACHED gave it no channelSerial
    assert [f["messages"][0]["name"] for f in frames if f["action"] == Action.MESSAGE] == ["missed"]


def test_long_expired_tokens_and_old_nonces_are_forgotten_on_tick() -> None:
    core = Core()
    token = core.token("late", ttl=60_000)
    core.clock.advance(61_000)
    core.service.tick()
    with pytest.raises(AblyError) as expired:
        core.authority.token(token)
    assert expired.value.code == 40142  # still known shortly after expiry
    core.clock.advance(11 * 60 * 1000)
    core.service.tick()
    with pytest.raises(AblyError) as forgotten:
        core.authority.token(token)
    assert forgotten.value.code == 40140
    assert core.authority._nonces == {}

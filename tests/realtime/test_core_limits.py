"""The service's bounds and channel options, frame by frame with a fake clock: no sockets."""

import json
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from ably_local.capability import intersect, parse_capability
from ably_local.errors import AblyError
from ably_local.limits import Limits
from ably_local.protocol import Action, Flag, PresenceAction
from tests.realtime.core import UNTHROTTLED, Core, actions, drain

SMALL = Limits(
    history_events_per_channel=5,
    history_bytes_per_channel=64 * 1024,
    history_bytes_total=256 * 1024,
    outbound_buffer_bytes=16 * 1024,
    channels_per_connection=3,
    presence_members_per_channel=2,
)


def test_channels_are_released_once_nothing_holds_them() -> None:
    core = Core()
    clients = [core.connect() for _ in range(4)]
    per_connection = core.service.limits.channels_per_connection
    for index, client in enumerate(clients):
        for count in range(per_connection):
            core.attach(client, f"many:{index}:{count}")
    assert len(core.service.table.channels) == 4 * per_connection
    for client in clients[:3]:
        core.send(client, {"action": Action.CLOSE})
    core.service.transport_lost(clients[3])
    assert len(core.service.table.channels) == per_connection  # the lost one may still resume onto its own
    core.clock.advance(core.service.config.connection_state_ttl_ms)
    core.service.tick()
    assert core.service.table.channels == {}


def test_a_channel_with_history_lives_until_its_history_expires() -> None:
    core = Core()
    client = core.connect()
    core.publish(client, "kept:a", 0, "one")
    core.send(client, {"action": Action.CLOSE})
    assert "kept:a" in core.service.table.channels
    core.clock.advance(core.service.limits.history_retention_ms + 1)
    core.service.tick()
    assert core.service.table.channels == {}


class NoScans(dict[str, Any]):
    """A channel table that fails any test which walks every channel."""

    def values(self) -> NoReturn:
        raise AssertionError("walked every channel")

    def items(self) -> NoReturn:
        raise AssertionError("walked every channel")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("walked every channel")


def test_timers_never_walk_every_channel() -> None:
    core = Core(presence_grace_ms=1_000, limits=UNTHROTTLED)
    busy = core.connect()
    for count in range(5_000):
        core.publish(busy, f"busy:{count}", count, "x")
    lost = []
    for index in range(10):
        client = core.connect(clientId=f"lost-{index}")
        core.attach(client, f"busy:{index}")
        core.send(
            client,
            {
                "action": Action.PRESENCE,
                "channel": f"busy:{index}",
                "msgSerial": 0,
                "presence": [{"action": 2}],
            },
        )
        core.service.transport_lost(client)
        lost.append(client)
    core.service.table.channels = NoScans(core.service.table.channels)
    core.clock.advance(1_500)
    core.service.tick()  # presence grace: the lost connections' members leave
    core.clock.advance(core.service.config.connection_state_ttl_ms)
    core.service.tick()  # the lost connections are closed for good
    assert all(client.id not in core.service.connections for client in lost)


def test_history_is_bounded_per_channel_in_events_and_bytes() -> None:
    core = Core(limits=SMALL)
    client = core.connect()
    for serial in range(8):
        core.publish(client, "bounded", serial, f"m{serial}")
    assert [event.items[0]["name"] for event in core.service.messaging.history_of("bounded")] == [
        "m3",
        "m4",
        "m5",
        "m6",
        "m7",
    ]
    big = "b" * 30_000
    for serial in range(8, 11):
        core.send(
            client,
            {"action": Action.MESSAGE, "channel": "bytes", "msgSerial": serial, "messages": [{"data": big}]},
        )
    assert len(core.service.messaging.history_of("bytes")) == 2  # three would pass 64 KiB


def test_history_is_bounded_across_channels() -> None:
    core = Core(limits=SMALL)
    client = core.connect()
    for serial in range(40):
        core.send(
            client,
            {
                "action": Action.MESSAGE,
                "channel": f"spread:{serial}",
                "msgSerial": serial,
                "messages": [{"data": "s" * 30_000}],
            },
        )
    assert core.service.table.history.bytes <= SMALL.history_bytes_total
    assert core.service.messaging.history_of("spread:0") == []
    assert len(core.service.messaging.history_of("spread:39")) == 1
    assert "spread:0" not in core.service.table.channels  # released with its history


def test_a_client_that_stops_reading_is_let_go_with_80020() -> None:
    core = Core(limits=SMALL)
    reader, stuck = core.connect(), core.connect(format="msgpack")
    for client in (reader, stuck):
        core.attach(client, "firehose")
    drain(reader)
    for serial in range(40):
        core.send(
            reader,
            {
                "action": Action.MESSAGE,
                "channel": "firehose",
                "msgSerial": serial,
                "messages": [{"data": "f" * 1000}],
            },
        )
        drain(reader)
    assert stuck.overflowed
    [notice] = drain(stuck)
    assert (notice["action"], notice["error"]["code"]) == (Action.DISCONNECTED, 80020)
    core.service.transport_lost(stuck)
    assert stuck.resume_from == {}  # what it missed is unknown: only the client's own serial can resume


def test_a_resume_on_a_channel_nobody_else_holds_keeps_its_place() -> None:
    core = Core()
    client = core.connect()
    drain(client)
    [attached] = core.attach(client, "quiet")
    core.service.transport_lost(client)
    other = core.connect()
    core.publish(other, "elsewhere", 0, "x")  # positions move on elsewhere in the service
    resumed = core.connect(resume=client.key)
    drain(resumed)
    [again] = core.attach(resumed, "quiet")
    assert again["flags"] & Flag.RESUMED
    assert again["channelSerial"] == attached["channelSerial"]


def test_attaching_too_many_channels_is_refused() -> None:
    core = Core(limits=SMALL)
    client = core.connect()
    drain(client)
    for count in range(3):
        assert actions(core.attach(client, f"c:{count}")) == [Action.ATTACHED]
    [refused] = core.attach(client, "c:3")
    assert (refused["action"], refused["error"]["code"]) == (Action.ERROR, 90010)


def enter(core: Core, connection: Any, channel: str, serial: int, *client_ids: str) -> list[dict[str, Any]]:
    presence = [{"action": PresenceAction.ENTER, "clientId": client_id} for client_id in client_ids]
    core.send(
        connection, {"action": Action.PRESENCE, "channel": channel, "msgSerial": serial, "presence": presence}
    )
    return drain(connection)


def test_presence_is_bounded_and_needs_an_attached_channel() -> None:
    core = Core(limits=SMALL)
    client = core.connect()
    drain(client)
    [refused] = enter(core, client, "room", 0, "a")
    assert (refused["action"], refused["error"]["code"]) == (Action.NACK, 90001)
    core.attach(client, "room")
    frames = enter(core, client, "room", 1, "a", "b")
    assert Action.ACK in actions(frames)
    [full] = [frame for frame in enter(core, client, "room", 2, "c") if frame["action"] == Action.NACK]
    assert full["error"]["code"] == 91003


def test_presence_leaves_are_found_through_the_connection() -> None:
    core = Core(presence_grace_ms=1_000)
    member, watcher = core.connect(), core.connect()
    for client in (member, watcher):
        core.attach(client, "room")
    enter(core, member, "room", 0, "ada")
    assert member.present_on == {"room"}
    drain(watcher)
    core.service.transport_lost(member)
    core.clock.advance(1_000)
    core.service.tick()
    [leave] = [frame for frame in drain(watcher) if frame["action"] == Action.PRESENCE]
    assert [(item["clientId"], item["action"]) for item in leave["presence"]] == [
        ("ada", PresenceAction.LEAVE)
    ]
    assert member.present_on == set()


def test_rewind_replays_recent_messages_on_a_fresh_attach() -> None:
    core = Core()
    publisher = core.connect()
    for serial in range(5):
        core.publish(publisher, "rewound", serial, f"m{serial}")
    reader = core.connect()
    drain(reader)
    frames = core.attach(reader, "rewound", params={"rewind": "2"})
    attached, *replayed = frames
    assert attached["flags"] & Flag.HAS_BACKLOG
    assert attached["params"] == {"rewind": "2"}
    assert [frame["messages"][0]["name"] for frame in replayed] == ["m3", "m4"]

    later = core.connect()
    drain(later)
    core.clock.advance(60_000)
    core.publish(publisher, "rewound", 5, "recent")
    _, *recent = core.attach(later, "rewound", params={"rewind": "30s"})
    assert [frame["messages"][0]["name"] for frame in recent] == ["recent"]


def test_modes_param_wins_over_flags_and_unknown_params_are_dropped() -> None:
    core = Core()
    client = core.connect()
    drain(client)
    [attached] = core.attach(
        client,
        "moded",
        flags=Flag.PUBLISH,
        params={"modes": "subscribe", "nonexistent": "x", "delta": "vcdiff"},
    )
    assert attached["flags"] & Flag.MODES == Flag.SUBSCRIBE
    assert attached["params"] == {"modes": "subscribe", "delta": "vcdiff"}
    [refused] = core.attach(client, "moded", params={"modes": "susribe"})
    assert (refused["action"], refused["error"]["code"]) == (Action.ERROR, 40000)


def test_a_narrower_token_fails_channels_it_no_longer_allows() -> None:
    core = Core()
    client = core.connect(access_token=core.token("carol", '{"*":["*"]}'))
    for channel in ("secret:a", "chat:a"):
        core.attach(client, channel)
    drain(client)
    core.send(
        client,
        {"action": Action.AUTH, "auth": {"accessToken": core.token("carol", '{"chat:*":["subscribe"]}')}},
    )
    frames = drain(client)
    assert actions(frames) == [Action.CONNECTED, Action.ERROR, Action.ATTACHED]
    assert (frames[1]["channel"], frames[1]["error"]["code"]) == ("secret:a", 40160)
    assert frames[2]["flags"] & Flag.MODES == Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE
    assert "secret:a" not in client.attached


def test_short_tokens_are_left_to_expire_and_long_ones_are_renewed() -> None:
    core = Core()
    short = core.connect(access_token=core.token("s", ttl=5_000))
    long = core.connect(access_token=core.token("l", ttl=60_000))
    for client in (short, long):
        drain(client)
    core.clock.advance(31_000)
    core.service.tick()
    assert Action.AUTH in actions(drain(long))
    assert Action.DISCONNECTED in actions(drain(short))


@pytest.mark.parametrize(
    ("requested", "key", "expected"),
    [
        (
            {"channel2": ["presence", "subscribe"]},
            {"channel2": ["publish", "subscribe"]},
            {"channel2": ["subscribe"]},
        ),
        ({"channel2": ["*"]}, {"channel2": ["publish", "subscribe"]}, {"channel2": ["publish", "subscribe"]}),
        ({"canpublish:check": ["publish"]}, {"canpublish:*": ["publish"]}, {"canpublish:check": ["publish"]}),
        ({"cansubscribe:*": ["subscribe"]}, {"*": ["subscribe"]}, {"cansubscribe:*": ["subscribe"]}),
        ({"*": ["publish"]}, {"a": ["publish"], "b": ["subscribe"]}, {"a": ["publish"]}),
    ],
)
def test_capability_intersection(
    requested: dict[str, list[str]], key: dict[str, list[str]], expected: dict[str, list[str]]
) -> None:
    result = intersect(parse_capability(json.dumps(requested)), parse_capability(json.dumps(key)))
    assert {resource: sorted(ops) for resource, ops in result.items()} == expected


@pytest.mark.parametrize(
    ("requested", "key", "code"),
    [
        ({"canpublish:test": ["subscribe"]}, {"canpublish:*": ["publish"]}, 40160),
        ({"channelx": ["publish"]}, {"channel0": ["publish"]}, 40160),
    ],
)
def test_nothing_in_common_is_refused(
    requested: dict[str, list[str]], key: dict[str, list[str]], code: int
) -> None:
    with pytest.raises(AblyError) as refused:
        intersect(parse_capability(json.dumps(requested)), parse_capability(json.dumps(key)))
    assert refused.value.code == code


DEEP = ["[" * 5000, '{"a":' * 5000]  # nested past json's parser


@pytest.mark.parametrize(
    "text", ['{"c":["publish_"]}', '{"c":["*","publish"]}', '{"c":[]}', '["c"]', "{", *DEEP]
)
def test_invalid_capabilities_are_refused_with_40000(text: str) -> None:
    with pytest.raises(AblyError) as refused:
        parse_capability(text)
    assert (refused.value.code, refused.value.status) == (40000, 400)

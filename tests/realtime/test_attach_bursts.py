"""What an attach sends its joiner before live delivery (rewind, a resumed gap, the presence SYNC), bounded
by what the joiner's outbox allows, without sockets."""

from typing import Any

import pytest

from ably_local.connection import Connection
from ably_local.limits import KiB, Limits
from ably_local.protocol import Action, Flag
from tests.realtime.core import Core, actions, drain

CHANNEL = "chat:burst"
# Escaped six times over in JSON: a message Ably counts as 1 KB is 6 KB on a JSON client's wire.
CONTROL = "\x01" * 1000


def publish(core: Core, publisher: Connection, serial: int, count: int, data: object = "x") -> None:
    messages = [{"name": f"m{serial}-{n}", "data": data} for n in range(count)]
    core.send(
        publisher, {"action": Action.MESSAGE, "channel": CHANNEL, "msgSerial": serial, "messages": messages}
    )
    assert Action.ACK in actions(drain(publisher))
    core.clock.advance(20)  # within the connection's publish rate (50 a second)


def messages_in(frames: list[dict[str, Any]]) -> list[str]:
    return [
        item["name"] for frame in frames if frame["action"] == Action.MESSAGE for item in frame["messages"]
    ]


def rewound(core: Core, rewind: str, fmt: str = "json") -> tuple[dict[str, Any], list[str]]:
    joiner = core.connect(fmt)
    drain(joiner)
    [attached, *rest] = core.attach(joiner, CHANNEL, params={"rewind": rewind})
    assert attached["action"] == Action.ATTACHED
    assert joiner.live
    return attached, messages_in(rest)


def test_a_rewind_counts_messages_not_the_protocol_messages_that_carried_them() -> None:
    core = Core()
    publisher = core.connect()
    drain(publisher)
    for serial in range(3):
        publish(core, publisher, serial, 40)
    attached, names = rewound(core, "50")
    assert names == [f"m1-{n}" for n in range(30, 40)] + [f"m2-{n}" for n in range(40)]
    assert attached["flags"] & Flag.HAS_BACKLOG
    assert "error" not in attached


@pytest.mark.parametrize("rewind", ["500", "2m", "1h"])
def test_a_rewind_replays_at_most_100_messages_and_says_so(rewind: str) -> None:
    core = Core()
    publisher = core.connect()
    drain(publisher)
    for serial in range(3):
        publish(core, publisher, serial, 50)
    attached, names = rewound(core, rewind)
    assert names == [f"m1-{n}" for n in range(50)] + [f"m2-{n}" for n in range(50)]
    assert attached["error"]["code"] == 90004


def test_a_rewind_by_time_counts_only_what_was_published_in_that_time() -> None:
    core = Core()
    publisher = core.connect()
    drain(publisher)
    publish(core, publisher, 0, 80)
    core.clock.advance(60_000)
    publish(core, publisher, 1, 30)
    attached, names = rewound(core, "30s")
    assert names == [f"m1-{n}" for n in range(30)]
    assert "error" not in attached


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_a_rewind_is_cut_to_the_joiners_room_newest_kept(fmt: str) -> None:
    limits = Limits(outbound_buffer_bytes=512 * KiB, attach_burst_bytes=64 * KiB)
    core = Core(limits=limits)
    publisher = core.connect("msgpack")
    drain(publisher)
    for serial in range(100):  # 100 KB as Ably counts them; about 600 KB as JSON
        publish(core, publisher, serial, 1, CONTROL)
    attached, names = rewound(core, "50", fmt)
    if fmt == "msgpack":  # 50 KB: within the room
        assert (len(names), "error" in attached) == (50, False)
        return
    assert attached["error"]["code"] == 90004
    expected = (64 * KiB) // (6 * len(CONTROL))
    assert len(names) in (expected, expected - 1)  # the frame envelope may cost the last one
    assert names == [f"m{serial}-0" for serial in range(100 - len(names), 100)]


def test_a_resumed_gap_larger_than_the_room_is_cut_and_is_no_resume() -> None:
    limits = Limits(outbound_buffer_bytes=512 * KiB, attach_burst_bytes=64 * KiB)
    core = Core(limits=limits)
    reader = core.connect()
    drain(reader)
    [attached] = core.attach(reader, CHANNEL)
    publisher = core.connect("msgpack")
    drain(publisher)
    for serial in range(50):
        publish(core, publisher, serial, 1, CONTROL)
        drain(reader)  # the reader reads them; it then drops and resumes from before them
    [reattached, *gap] = core.attach(reader, CHANNEL, channelSerial=attached["channelSerial"])
    assert not reattached["flags"] & Flag.RESUMED
    assert reattached["error"]["code"] == 90004
    names = messages_in(gap)
    assert 0 < len(names) < 50
    assert names[-1] == "m49-0"
    assert reader.live
    # A gap that fits is a resume, as before.
    before = publisher_serial(core, publisher)
    drain(reader)
    [resumed, *small_gap] = core.attach(reader, CHANNEL, channelSerial=before)
    assert resumed["flags"] & Flag.RESUMED
    assert "error" not in resumed
    assert messages_in(small_gap) == ["m50-0"]


def publisher_serial(core: Core, publisher: Connection) -> str:
    """The channelSerial just before one more message is published."""
    position = core.service.table.channels[CHANNEL].position
    publish(core, publisher, 50, 1)
    return position


def crowd(core: Core, count: int, data: object = "here") -> Connection:
    """One connection (the key's, msgpack) holding `count` presence members on the channel."""
    holder = core.connect("msgpack")
    drain(holder)
    core.attach(holder, CHANNEL)
    for serial, start in enumerate(range(0, count, 50)):  # 50 KB at most per PRESENCE message
        members = [{"action": 2, "clientId": f"member-{n}", "data": data} for n in range(start, start + 50)]
        presence = {"action": Action.PRESENCE, "channel": CHANNEL, "msgSerial": serial, "presence": members}
        core.send(holder, presence)
        assert Action.ACK in actions(drain(holder))
    return holder


def syncs(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["action"] == Action.SYNC]


def test_a_large_presence_set_goes_out_in_pages_with_a_cursor() -> None:
    core = Core()
    crowd(core, 250)
    joiner = core.connect()
    drain(joiner)
    frames = core.attach(joiner, CHANNEL)
    assert frames[0]["flags"] & Flag.HAS_PRESENCE
    pages = syncs(frames)
    assert [len(page["presence"]) for page in pages] == [100, 100, 50]
    serials = [page["channelSerial"] for page in pages]
    sync_id = serials[0].split(":")[0]
    assert serials == [f"{sync_id}:100", f"{sync_id}:200", f"{sync_id}:"]
    assert sorted(member["clientId"] for page in pages for member in page["presence"]) == sorted(
        f"member-{n}" for n in range(250)
    )


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_a_sync_larger_than_the_room_follows_as_the_joiner_reads(fmt: str) -> None:
    limits = Limits(outbound_buffer_bytes=512 * KiB, attach_burst_bytes=32 * KiB)
    core = Core(limits=limits)
    crowd(core, 100, CONTROL)  # 100 KB as Ably counts it, about 600 KB as JSON
    joiner = core.connect(fmt)
    drain(joiner)
    seen: list[dict[str, Any]] = []
    frames = core.attach(joiner, CHANNEL)
    while True:
        assert joiner.live
        assert joiner.outbox_bytes <= limits.outbound_buffer_bytes
        seen += syncs(frames)
        if not joiner.syncs:
            break
        joiner.continue_syncs()  # what the socket does each time it has written what was queued
        frames = drain(joiner)
    assert len(seen) >= 2  # each page is at most a presence message's worth (max_message_size)
    assert seen[-1]["channelSerial"].endswith(":")
    assert not any(page["channelSerial"].endswith(":") for page in seen[:-1])
    assert len({page["channelSerial"].split(":")[0] for page in seen}) == 1
    assert sorted(member["clientId"] for page in seen for member in page["presence"]) == sorted(
        f"member-{n}" for n in range(100)
    )


def test_pages_show_the_set_as_it_is_when_they_are_sent() -> None:
    limits = Limits(outbound_buffer_bytes=512 * KiB, attach_burst_bytes=16 * KiB)
    core = Core(limits=limits)
    holder = crowd(core, 100, CONTROL)
    joiner = core.connect()
    drain(joiner)
    core.attach(joiner, CHANNEL)
    joiner.continue_syncs()
    first = syncs(drain(joiner))
    assert joiner.syncs
    sent = {member["clientId"] for page in first for member in page["presence"]}
    gone = next(f"member-{n}" for n in range(99, -1, -1) if f"member-{n}" not in sent)
    leave = [{"action": 3, "clientId": gone}]
    core.send(holder, {"action": Action.PRESENCE, "channel": CHANNEL, "msgSerial": 9, "presence": leave})
    rest: list[dict[str, Any]] = []
    while joiner.syncs:
        drain(joiner)
        joiner.continue_syncs()
        rest += syncs(drain(joiner))
    later = {member["clientId"] for page in rest for member in page["presence"]}
    assert gone not in later
    assert sent | later == {f"member-{n}" for n in range(100)} - {gone}


def test_a_detach_or_a_fresh_sync_ends_the_one_in_progress() -> None:
    limits = Limits(outbound_buffer_bytes=512 * KiB, attach_burst_bytes=16 * KiB)
    core = Core(limits=limits)
    crowd(core, 100, CONTROL)
    joiner = core.connect()
    drain(joiner)
    core.attach(joiner, CHANNEL)
    joiner.continue_syncs()  # the outbox is empty now, so the first page goes whatever its size
    first = syncs(drain(joiner))[0]["channelSerial"].split(":")[0]
    core.send(joiner, {"action": Action.SYNC, "channel": CHANNEL})
    drain(joiner)
    joiner.continue_syncs()
    again = syncs(drain(joiner))
    assert again[0]["channelSerial"].split(":")[0] != first
    core.send(joiner, {"action": Action.DETACH, "channel": CHANNEL})
    assert actions(drain(joiner)) == [Action.DETACHED]
    assert joiner.syncs == {}

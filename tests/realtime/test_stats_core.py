"""App statistics without sockets: interval ids, fixtures, aggregation by unit, traffic counting, bounds."""

import calendar
from collections.abc import Mapping

import pytest

from ably_local.errors import AblyError
from ably_local.inbound import message_size
from ably_local.limits import Limits
from ably_local.protocol import Action
from ably_local.stats import AppStats, interval_id, parse_bound, parse_fixture, with_message_totals
from tests.realtime.core import Core, drain


def utc_ms(*parts: int) -> int:
    return calendar.timegm((*parts, *(0,) * (6 - len(parts)))) * 1000


def fixtures(stats: AppStats, *records: Mapping[str, object]) -> None:
    for record in records:
        stats.add(*parse_fixture(record, 32))


@pytest.mark.parametrize(
    ("text", "as_start", "as_end"),
    [
        ("2024-02-03:15:04", utc_ms(2024, 2, 3, 15, 4), utc_ms(2024, 2, 3, 15, 5) - 1),
        ("2024-02-03:15", utc_ms(2024, 2, 3, 15), utc_ms(2024, 2, 3, 16) - 1),
        ("2024-02-03", utc_ms(2024, 2, 3), utc_ms(2024, 2, 4) - 1),
        ("2024-12", utc_ms(2024, 12, 1), utc_ms(2025, 1, 1) - 1),
        ("1706972640000", 1706972640000, 1706972640000),
    ],
)
def test_bounds_are_milliseconds_or_whole_intervals(text: str, as_start: int, as_end: int) -> None:
    assert parse_bound(text, end=False) == as_start
    assert parse_bound(text, end=True) == as_end


@pytest.mark.parametrize("text", ["2024-13-01", "yesterday", "2024-02-30:10", "2024-02-03:15:04:59", ""])
def test_unreadable_bounds_are_40000(text: str) -> None:
    with pytest.raises(AblyError) as refused:
        parse_bound(text, end=False)
    assert refused.value.code == 40000


def test_nested_fixtures_become_flat_entries_with_ablys_totals() -> None:
    minute, entries = parse_fixture(
        {
            "intervalId": "2024-02-03:15:05",
            "inbound": {
                "realtime": {"messages": {"count": 70, "data": 7000}},
                "rest": {"messages": {"count": 5}},
            },
            "outbound": {"realtime": {"messages": {"count": 40, "data": 4000}}},
            "persisted": {"presence": {"count": 20, "data": 2000}},
            "connections": {"tls": {"peak": 20, "opened": 10}},
            "apiRequests": {"succeeded": 50, "failed": 10},
        },
        32,
    )
    assert minute == utc_ms(2024, 2, 3, 15, 5)
    assert entries["messages.inbound.realtime.messages.count"] == 70
    assert entries["messages.inbound.all.messages.count"] == 75
    assert entries["messages.inbound.realtime.all.data"] == 7000
    assert entries["messages.inbound.all.all.count"] == 75
    assert entries["messages.outbound.all.messages.count"] == 40
    assert entries["messages.all.messages.count"] == 115
    assert entries["messages.persisted.all.count"] == 20
    assert entries["connections.tls.peak"] == 20
    assert entries["apiRequests.succeeded"] == 50


@pytest.mark.parametrize(
    "record",
    [
        {"inbound": {"realtime": {"messages": {"count": 1}}}},
        {"intervalId": "2024-02-03:15", "inbound": {}},
        {"intervalId": "2024-02-03:15:05", "inbound": {"realtime": {"messages": {"count": "many"}}}},
        {"intervalId": "2024-02-03:15:05", "inbound": {"realtime": {"messages": {"count": True}}}},
        {"intervalId": "2024-02-03:15:05", "channels": {"peak": float("inf")}},
        {"intervalId": "2024-02-03:15:05", "entries": {"channels.peak": None}},
        {"intervalId": "2024-02-03:15:05", "channels": {"a.b": 1}},
    ],
)
def test_malformed_fixtures_are_refused_with_40000(record: dict[str, object]) -> None:
    with pytest.raises(AblyError) as refused:
        parse_fixture(record, 32)
    assert refused.value.code == 40000


def test_fixture_nested_past_the_depth_limit_is_refused() -> None:
    deep: dict[str, object] = {"count": 1}
    for _ in range(40):
        deep = {"x": deep}
    with pytest.raises(AblyError):
        parse_fixture({"intervalId": "2024-02-03:15:05", "deep": deep}, 32)


def test_minutes_aggregate_by_unit_summing_counts_and_keeping_peaks() -> None:
    stats = AppStats(Limits())
    fixtures(
        stats,
        {"intervalId": "2024-02-03:15:03", "entries": {"messages.all.all.count": 50, "channels.peak": 3}},
        {"intervalId": "2024-02-03:15:04", "entries": {"messages.all.all.count": 60, "channels.peak": 7}},
        {"intervalId": "2024-02-03:16:00", "entries": {"messages.all.all.count": 1, "channels.peak": 1}},
        {"intervalId": "2024-03-01:00:00", "entries": {"messages.all.all.count": 2}},
    )
    now = utc_ms(2025, 1, 1)
    minutes = stats.intervals("minute", 0, now, now)
    assert [interval_id(i.start, "minute") for i in minutes] == [
        "2024-02-03:15:03",
        "2024-02-03:15:04",
        "2024-02-03:16:00",
        "2024-03-01:00:00",
    ]
    hours = stats.intervals("hour", 0, now, now)
    assert [(interval_id(i.start, "hour"), i.entries["messages.all.all.count"]) for i in hours] == [
        ("2024-02-03:15", 110),
        ("2024-02-03:16", 1),
        ("2024-03-01:00", 2),
    ]
    assert hours[0].entries["channels.peak"] == 7
    [february, march] = stats.intervals("month", 0, now, now)
    assert (february.entries["messages.all.all.count"], march.entries["messages.all.all.count"]) == (111, 2)
    # A start inside an interval includes that whole interval; an end includes intervals starting by then.
    window = stats.intervals("hour", utc_ms(2024, 2, 3, 15, 30), utc_ms(2024, 2, 3, 16, 0), now)
    assert [interval_id(i.start, "hour") for i in window] == ["2024-02-03:15", "2024-02-03:16"]
    assert all(interval.in_progress is None for interval in hours)


def test_posting_the_same_minute_twice_adds_up() -> None:
    stats = AppStats(Limits())
    record = {"intervalId": "2024-02-03:15:03", "entries": {"messages.all.all.count": 5}}
    fixtures(stats, record, record)
    [minute] = stats.intervals("minute", 0, utc_ms(2025, 1, 1), utc_ms(2025, 1, 1))
    assert minute.entries == {"messages.all.all.count": 10}


def test_the_oldest_minutes_go_first_past_the_count_and_byte_limits() -> None:
    by_count = AppStats(Limits(stats_minutes_per_app=3))
    for minute in range(5):
        by_count.add(minute * 60_000, {"messages.all.all.count": minute})
    assert sorted(by_count.minutes) == [120_000, 180_000, 240_000]

    by_bytes = AppStats(Limits(stats_bytes_per_app=4096))
    for minute in range(100):
        by_bytes.add(minute * 60_000, {f"custom.{index}.count": 1 for index in range(10)})
    assert by_bytes.bytes <= 4096
    assert by_bytes.minutes
    assert max(by_bytes.minutes) == 99 * 60_000
    assert len(by_bytes.minutes) < 100


def test_traffic_is_counted_inbound_once_and_outbound_per_delivery() -> None:
    core = Core()
    publisher, first, second = core.connect(), core.connect(), core.connect()
    for connection in (publisher, first, second):
        drain(connection)
        core.attach(connection, "chat:counted")
    core.publish(publisher, "chat:counted", 0, "a", "b")
    [running] = core.service.stats.intervals("hour", 0, core.clock.now, core.clock.now)
    entries = running.entries
    assert entries["messages.inbound.realtime.messages.count"] == 2
    # the publisher receives its own messages too (echo), so three deliveries of two messages each
    assert entries["messages.outbound.realtime.messages.count"] == 6
    [event] = core.service.messaging.history_of("chat:counted")
    size = sum(message_size(item) for item in event.items)
    assert entries["messages.inbound.realtime.messages.data"] == size
    assert entries["messages.outbound.realtime.messages.data"] == 3 * size
    assert entries == with_message_totals(
        {
            name: value
            for name, value in entries.items()
            if ".all." not in name and not name.startswith("messages.all")
        }
    )
    assert running.in_progress == running.start + (core.clock.now - running.start) // 60_000 * 60_000
    assert Action.MESSAGE in [frame["action"] for frame in drain(first)]

"""App statistics as `GET /stats` serves them: per-minute counts, aggregated by minute, hour, day or month.

An app's minutes come from two sources: the messages the service carries (counted as they fan out) and,
in the sandbox, fixtures posted to `POST /stats` the way Ably's test sandbox takes them. Entries use Ably's
flat stats schema (`messages.inbound.all.messages.count`, ...); fixtures in the older nested form
(`{"inbound": {"realtime": {"messages": {"count": 50}}}}`) are flattened to it, with the message totals
Ably derives (`all` transports and types). Memory is bounded in minutes and bytes, oldest minute first.
"""

import bisect
import calendar
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ably_local.budgets import Budget
from ably_local.errors import bad_request
from ably_local.limits import Limits

UNITS = ("minute", "hour", "day", "month")
SCHEMA = "https://schemas.ably.com/json/app-stats-0.0.5.json"
MINUTE_MS = 60_000
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last moment an interval id can name
# Bookkeeping counted per kept minute and per entry on top of the entry names.
MINUTE_OVERHEAD_BYTES = 256
ENTRY_OVERHEAD_BYTES = 64
_INTERVAL_ID = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2})(?::(\d{2})(?::(\d{2}))?)?)?")
_ID_FORMATS = {"minute": "%Y-%m-%d:%H:%M", "hour": "%Y-%m-%d:%H", "day": "%Y-%m-%d", "month": "%Y-%m"}
# Top-level fixture groups that are message counts, written under `messages.` in the flat schema.
_MESSAGE_GROUPS = frozenset({"all", "inbound", "outbound", "persisted"})
_RECORD_FIELDS = frozenset({"intervalId", "unit", "schema", "appId", "inProgress", "entries"})

Entries = dict[str, float]


def interval_start(ms: int, unit: str) -> int:
    """The first millisecond of the `unit` interval holding `ms` (UTC)."""
    if unit == "minute":
        return ms - ms % MINUTE_MS
    if unit == "hour":
        return ms - ms % (60 * MINUTE_MS)
    if unit == "day":
        return ms - ms % (24 * 60 * MINUTE_MS)
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return calendar.timegm((moment.year, moment.month, 1, 0, 0, 0)) * 1000


def next_interval(start: int, unit: str) -> int:
    if unit == "month":
        moment = datetime.fromtimestamp(start / 1000, UTC)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000
    return start + {"minute": 1, "hour": 60, "day": 24 * 60}[unit] * MINUTE_MS


def interval_id(start: int, unit: str) -> str:
    return datetime.fromtimestamp(start / 1000, UTC).strftime(_ID_FORMATS[unit])


def parse_interval_id(text: str) -> tuple[int, str]:
    """An interval id (`2024-02-03:15:03`, `2024-02-03:15`, `2024-02-03`, `2024-02`): its start and unit."""
    match = _INTERVAL_ID.fullmatch(text)
    if match is None:
        raise bad_request(f"Not an interval id: {text[:40]!r} (expected e.g. 2024-02-03:15:03)")
    year, month, day, hour, minute = (int(part) if part else None for part in match.groups())
    unit = UNITS[sum(part is None for part in (day, hour, minute))]
    try:
        moment = datetime(year or 0, month or 0, day or 1, hour or 0, minute or 0, tzinfo=UTC)
    except ValueError:
        raise bad_request(f"Not a valid date: {text[:40]!r}") from None
    return calendar.timegm(moment.timetuple()) * 1000, unit


def parse_bound(text: str, *, end: bool) -> int:
    """A `start`/`end` parameter: milliseconds since the epoch, or an interval id. An interval id as `end`
    means the whole of that interval."""
    if text.isdigit():
        if int(text) > LATEST_MS:
            raise bad_request("start and end must be before the year 10000")
        return int(text)
    start, unit = parse_interval_id(text)
    return next_interval(start, unit) - 1 if end else start


@dataclass(frozen=True)
class Interval:
    start: int
    unit: str
    entries: Entries
    # The last minute with counts, when the interval is still running.
    in_progress: int | None

    def to_wire(self, app_id: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "intervalId": interval_id(self.start, self.unit),
            "unit": self.unit,
            "schema": SCHEMA,
            "appId": app_id,
            "entries": {name: _number(value) for name, value in sorted(self.entries.items())},
        }
        if self.in_progress is not None:
            record["inProgress"] = interval_id(self.in_progress, "minute")
        return record


class AppStats:
    """One app's per-minute entries, oldest first, within the stats limits."""

    def __init__(self, limits: Limits, shared: Budget | None = None) -> None:
        self.max_minutes = limits.stats_minutes_per_app
        self.max_bytes = limits.stats_bytes_per_app
        self.minutes: dict[int, Entries] = {}
        self.bytes = 0
        # The service's total for every app's stats (None: this app's bounds alone).
        self.shared = shared
        if shared is not None:
            shared.join(self)
        self._order: list[int] = []
        self._sizes: dict[int, int] = {}
        # Traffic counted in the current minute and not yet folded into `minutes`: per (rest, kind),
        # inbound count and bytes, outbound count and bytes.
        self._pending: dict[tuple[bool, str], list[int]] = {}
        self._pending_minute = 0

    def add(self, minute: int, entries: Mapping[str, float]) -> None:
        """Merge counts into a minute: sums, except peaks and minimums, which keep the extreme."""
        minute = interval_start(minute, "minute")
        kept = self.minutes.get(minute)
        if kept is None:
            kept = self.minutes[minute] = {}
            bisect.insort(self._order, minute)
            self._sizes[minute] = MINUTE_OVERHEAD_BYTES
            self._account(MINUTE_OVERHEAD_BYTES)
        for name, value in entries.items():
            if name not in kept:
                size = len(name.encode()) + ENTRY_OVERHEAD_BYTES
                self._sizes[minute] += size
                self._account(size)
            kept[name] = _merge(name, kept.get(name), value)
        while self._order and (len(self._order) > self.max_minutes or self.bytes > self.max_bytes):
            self.forget_oldest()
        if self.shared is not None:
            self.shared.make_room()

    def forget_oldest(self) -> None:
        oldest = self._order.pop(0)
        del self.minutes[oldest]
        self._account(-self._sizes.pop(oldest))

    def _account(self, size: int) -> None:
        self.bytes += size
        if self.shared is not None:
            self.shared.used += size

    def clear(self) -> None:
        """Forget every minute (the app is going), giving their bytes back to the service's total."""
        self._account(-self.bytes)
        self.minutes.clear()
        self._order.clear()
        self._sizes.clear()
        if self.shared is not None:
            self.shared.leave(self)

    def count(self, timestamp: int, kind: str, items: int, size: int, delivered: int, rest: bool) -> None:
        """A message or presence event the service carried: inbound once, outbound once per delivery.

        This runs on every fan-out, so it only adds to four running totals per kind of traffic; they are
        folded into the minute's entries when the minute changes or the stats are read."""
        minute = timestamp - timestamp % MINUTE_MS
        if minute != self._pending_minute:
            self._fold()
            self._pending_minute = minute
        totals = self._pending.get((rest, kind))
        if totals is None:
            totals = self._pending[(rest, kind)] = [0, 0, 0, 0]
        totals[0] += items
        totals[1] += size
        totals[2] += items * delivered
        totals[3] += size * delivered

    def _fold(self) -> None:
        for (rest, kind), values in self._pending.items():
            totals: Entries = {}
            for name, which in _counted_names("rest" if rest else "realtime", kind):
                totals[name] = totals.get(name, 0) + values[which]
            self.add(self._pending_minute, totals)
        self._pending = {}

    def intervals(self, unit: str, start: int, end: int, now: int) -> list[Interval]:
        """Every `unit` interval with counts whose start lies in [start's interval, end], oldest first."""
        self._fold()
        first = interval_start(start, unit)
        grouped: dict[int, list[int]] = {}
        low = bisect.bisect_left(self._order, first)
        for minute in self._order[low:]:
            bucket = interval_start(minute, unit)
            if bucket > end:
                break
            grouped.setdefault(bucket, []).append(minute)
        result = []
        for bucket, minutes in grouped.items():
            running = bucket <= now < next_interval(bucket, unit)
            entries = _aggregate(self.minutes[minute] for minute in minutes)
            result.append(Interval(bucket, unit, entries, minutes[-1] if running else None))
        return result


def parse_fixture(fixture: Mapping[str, Any], max_depth: int) -> tuple[int, Entries]:
    """One record for the sandbox's `POST /stats`: its minute (from `intervalId`) and its counts."""
    raw_id = fixture.get("intervalId")
    if not isinstance(raw_id, str):
        raise bad_request("A stats fixture needs an intervalId such as 2024-02-03:15:03")
    start, unit = parse_interval_id(raw_id)
    if unit != "minute":
        raise bad_request(f"Stats fixtures are per minute: {raw_id!r} is a whole {unit}")
    return start, fixture_entries(fixture, max_depth)


def fixture_entries(fixture: Mapping[str, Any], max_depth: int) -> Entries:
    """A fixture's counts in the flat schema: `entries` as given, or the nested groups flattened."""
    if "entries" in fixture:
        given = fixture["entries"]
        if not isinstance(given, dict):
            raise bad_request("A stats fixture's entries must be an object of numbers")
        return {name: _checked_number(name, value) for name, value in given.items()}
    flat: Entries = {}
    for group, value in fixture.items():
        if group in _RECORD_FIELDS:
            continue
        prefix = f"messages.{group}" if group in _MESSAGE_GROUPS else group
        _flatten(value, prefix, flat, max_depth)
    return with_message_totals(flat)


def with_message_totals(entries: Mapping[str, float]) -> Entries:
    """Add the totals Ably derives from per-transport, per-type message counts: `all` transports, `all`
    types, and `messages.all` (inbound and outbound together)."""
    result: Entries = dict(entries)
    for name, value in entries.items():
        parts = name.split(".")
        if parts[0] != "messages":
            continue
        if len(parts) == 5 and parts[1] in ("inbound", "outbound") and "all" not in parts[2:4]:
            _, direction, transport, kind, metric = parts
            derived = [
                f"messages.{direction}.all.{kind}.{metric}",
                f"messages.{direction}.{transport}.all.{metric}",
                f"messages.{direction}.all.all.{metric}",
                f"messages.all.{kind}.{metric}",
                f"messages.all.all.{metric}",
            ]
        elif len(parts) == 4 and parts[1] == "persisted" and parts[2] != "all":
            derived = [f"messages.persisted.all.{parts[3]}"]
        else:
            continue
        for total in derived:
            result[total] = result.get(total, 0) + value
    return result


@functools.cache
def _counted_names(transport: str, kind: str) -> tuple[tuple[str, int], ...]:
    """The entries one counted event adds to, each with the value it takes: 0 inbound count, 1 inbound
    bytes, 2 outbound count, 3 outbound bytes (Ably's totals included)."""
    names: list[tuple[str, int]] = []
    for direction, via, offset in (("inbound", transport, 0), ("outbound", "realtime", 2)):
        for metric, which in (("count", offset), ("data", offset + 1)):
            leaf = f"messages.{direction}.{via}.{kind}.{metric}"
            names += [(name, which) for name in with_message_totals({leaf: 0})]
    return tuple(names)


def _flatten(value: object, prefix: str, into: Entries, depth: int) -> None:
    if isinstance(value, dict):
        if depth <= 0:
            raise bad_request("A stats fixture is nested too deeply")
        for key, child in value.items():
            if not isinstance(key, str) or not key or "." in key:
                raise bad_request("Stats fixture keys must be non-empty names without dots")
            _flatten(child, f"{prefix}.{key}", into, depth - 1)
    else:
        into[prefix] = _checked_number(prefix, value)


def _checked_number(name: object, value: object) -> float:
    if not isinstance(name, str) or not name:
        raise bad_request("Stats entry names must be non-empty strings")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"Stats entry {name[:80]!r} must be a number")
    if not math.isfinite(value) or abs(value) >= 2**63:
        raise bad_request(f"Stats entry {name[:80]!r} must be a finite number within 64 bits")
    return value


def _merge(name: str, kept: float | None, value: float) -> float:
    if kept is None:
        return value
    if name.endswith((".peak", ".max")):
        return max(kept, value)
    if name.endswith(".min"):
        return min(kept, value)
    return kept + value


def _aggregate(minutes: Iterable[Entries]) -> Entries:
    """Several minutes as one interval: merged like `add`, and means averaged over the minutes."""
    total: Entries = {}
    means: dict[str, int] = {}
    for entries in minutes:
        for name, value in entries.items():
            total[name] = _merge(name, total.get(name), value)
            if name.endswith(".mean"):
                means[name] = means.get(name, 0) + 1
    for name, count in means.items():
        total[name] /= count
    return total


def _number(value: float) -> float:
    return int(value) if isinstance(value, float) and value.is_integer() else value

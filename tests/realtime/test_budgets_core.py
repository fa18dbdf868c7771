"""A total is a total: every app of one service (sandbox apps included) draws on the same budgets."""

import json
from typing import Any

import pytest

from ably_local.apps import Apps
from ably_local.auth import ApiKey
from ably_local.config import ServiceConfig
from ably_local.connection import Connection
from ably_local.errors import AblyError
from ably_local.limits import KiB, Limits
from ably_local.protocol import Action
from ably_local.realtime import RealtimeService
from tests.realtime.core import FakeClock, actions, drain
from tests.realtime.wire import Key, signed_token_request

CLOCK = FakeClock()


def apps_with(count: int, **limits: Any) -> tuple[Apps, list[RealtimeService]]:
    apps = Apps(ServiceConfig(limits=Limits(**limits)), clock=CLOCK)
    services = [apps.add(f"app{n}", [ApiKey(f"app{n}.key", "secret-of-app")]) for n in range(count)]
    return apps, services


def key_of(service: RealtimeService) -> str:
    [key] = service.authority.keys.values()
    return key.value


def connected(service: RealtimeService) -> Connection:
    connection = service.open({"v": "6", "format": "msgpack", "key": key_of(service)})
    drain(connection)
    return connection


def publish(service: RealtimeService, connection: Connection, channel: str, serial: int, size: int) -> None:
    message = {
        "action": Action.MESSAGE,
        "channel": channel,
        "msgSerial": serial,
        "messages": [{"data": "d" * size}],
    }
    service.receive(connection, _packed(message))
    assert Action.ACK in actions(drain(connection))


def _packed(message: dict[str, Any]) -> bytes:
    import msgpack

    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def test_history_is_one_total_for_every_app_oldest_first() -> None:
    apps, services = apps_with(3, history_bytes_total=100 * KiB)
    for serial, service in enumerate(services):
        connection = connected(service)
        for n in range(5):
            publish(service, connection, f"room{n}", serial * 5 + n, 10_000)
    assert apps.budgets.history.bytes <= 100 * KiB
    # The first app's oldest went first, whichever app published since.
    assert services[0].messaging.history_of("room0") == []
    assert len(services[2].messaging.history_of("room4")) == 1


def test_presence_is_one_total_for_every_app() -> None:
    _, services = apps_with(2, presence_bytes_total=30_000)
    sizes = []
    for service in services:
        connection = connected(service)
        service.receive(connection, _packed({"action": Action.ATTACH, "channel": "room"}))
        drain(connection)
        members = [{"action": 2, "clientId": f"m{n}", "data": "p" * 9_000} for n in range(2)]
        message = {"action": Action.PRESENCE, "channel": "room", "msgSerial": 0, "presence": members}
        service.receive(connection, _packed(message))
        sizes.append([frame.get("error", {}).get("code") for frame in _decoded(drain(connection))])
    assert sizes[0] == [None]  # 18 KB of 30 KB
    assert 91003 in sizes[1]  # 18 KB more would pass the service's total, whichever app asks


def _decoded(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["action"] in (Action.ACK, Action.NACK)]


@pytest.mark.parametrize("store", ["stats", "idempotency"])
def test_what_apps_remember_is_one_total_the_oldest_of_the_app_forgotten(store: str) -> None:
    limits = {"stats_bytes_total": 20_000} if store == "stats" else {"idempotency_bytes_total": 2_000}
    apps, services = apps_with(4, **limits)
    budget = apps.budgets.stats if store == "stats" else apps.budgets.idempotency
    for service in services:
        connection = connected(service)
        for serial in range(10):
            message = {
                "action": Action.MESSAGE,
                "channel": f"room{serial}",
                "msgSerial": serial,
                "messages": [{"id": f"id-{serial}-{'x' * 100}", "data": "d"}],
            }
            service.receive(connection, _packed(message))
            CLOCK.advance(60_000)  # a new minute each time, for stats
            drain(connection)
        service.stats.intervals("minute", 0, service.clock(), service.clock())  # folds the counts
    limit = 20_000 if store == "stats" else 2_000
    assert 0 < budget.used <= limit
    held = [
        len(service.stats.minutes) if store == "stats" else len(service.messaging.recent_publishes)
        for service in services
    ]
    assert min(held) > 0  # the app holding most forgets first: every app keeps some
    assert sum(held) < 40  # four apps remembered ten each before the total was the service's


def test_tokens_are_bounded_in_bytes_per_app_and_for_every_app() -> None:
    _, services = apps_with(2, token_bytes_per_app=300_000, token_bytes_total=400_000)
    capability = json.dumps({f"room-{n}-{'r' * 100}": ["subscribe"] for n in range(1000)})  # 110 KB
    answers: list[list[int | None]] = []
    for service in services:
        [key] = service.authority.keys.values()
        codes: list[int | None] = []
        for _ in range(3):
            request = signed_token_request(
                Key.parse(key.value), capability=capability, timestamp=service.clock()
            )
            try:
                service.authority.request_token(key.name, request)
                codes.append(None)
            except AblyError as error:
                codes.append(error.code)
        answers.append(codes)
    assert answers == [[None, None, 42910], [None, 42910, 42910]]


def test_a_removed_app_gives_its_share_back() -> None:
    apps, services = apps_with(2, history_bytes_total=100 * KiB, presence_bytes_total=30_000)
    service = services[0]
    connection = connected(service)
    publish(service, connection, "room", 0, 10_000)
    service.receive(connection, _packed({"action": Action.ATTACH, "channel": "room"}))
    fixture = {"clientId": "fixture", "data": "p" * 5_000}
    service.presence.enter_fixture("room", fixture)
    assert apps.budgets.history.bytes > 0
    assert apps.budgets.presence.used > 0
    apps.remove("app0")
    assert apps.budgets.history.bytes == 0
    assert apps.budgets.presence.used == 0
    assert apps.budgets.tokens.used == 0


def test_live_connections_are_one_total_for_every_app() -> None:
    apps, services = apps_with(2, connections_total=3)
    first, second = connected(services[0]), connected(services[0])
    connected(services[1])
    with pytest.raises(AblyError) as refused:
        services[1].open({"v": "6", "key": key_of(services[1])})
    assert (refused.value.code, refused.value.status) == (40111, 401)
    services[0].transport_lost(first)  # a lost connection waiting to resume holds no place
    connected(services[1])
    assert apps.budgets.connections.used == 3
    services[0].close(second)
    services[0].close(first)  # closing a lost one gives back nothing it did not hold
    assert apps.budgets.connections.used == 2
    apps.remove("app1")
    assert apps.budgets.connections.used == 0


def test_a_resumed_connection_takes_its_place_again() -> None:
    apps, [service] = apps_with(1, connections_total=2)
    connection = connected(service)
    service.transport_lost(connection)
    service.open({"v": "6", "format": "msgpack", "key": key_of(service), "resume": connection.key})
    assert apps.budgets.connections.used == 1
    connected(service)
    with pytest.raises(AblyError):
        connected(service)


def subscriber(service: RealtimeService, channel: str) -> Connection:
    connection = connected(service)
    service.receive(connection, _packed({"action": Action.ATTACH, "channel": channel}))
    drain(connection)
    return connection


def test_outboxes_are_one_total_and_the_one_holding_most_is_let_go() -> None:
    apps, services = apps_with(2, outbound_buffer_bytes=1024 * KiB, outbound_bytes_total=64 * KiB)
    stuck = [subscriber(services[0], "firehose"), subscriber(services[1], "firehose")]
    publishers = [connected(service) for service in services]
    for serial in range(4):  # 40 KB waits for the first app's subscriber, which does not read
        publish(services[0], publishers[0], "firehose", serial, 10_000)
    for serial in range(2):  # 20 KB for the other app's, still within the total
        publish(services[1], publishers[1], "firehose", serial, 10_000)
    assert not any(connection.overflowed for connection in stuck)
    publish(services[1], publishers[1], "firehose", 2, 10_000)  # 70 KB together: past the total
    assert stuck[0].overflowed  # the one holding most goes, whichever app
    assert not stuck[1].overflowed
    [goodbye] = drain(stuck[0])
    assert (goodbye["action"], goodbye["error"]["code"]) == (Action.DISCONNECTED, 80020)
    assert len(drain(stuck[1])) == 3  # the other keeps everything it was sent
    assert apps.budgets.outbound.used == 0


def test_a_message_fanned_out_to_many_counts_once_toward_the_outbound_total() -> None:
    apps, [service] = apps_with(1, outbound_bytes_total=64 * KiB)
    readers = [subscriber(service, "room") for _ in range(20)]
    publisher = connected(service)
    for serial in range(4):  # 40 KB, one frame per message whoever it waits for, not 20 copies
        publish(service, publisher, "room", serial, 10_000)
    assert not any(reader.overflowed for reader in readers)
    assert 40_000 < apps.budgets.outbound.used < 64 * KiB < sum(reader.outbox_bytes for reader in readers)


def test_the_outbound_total_is_given_back_by_what_is_read_closed_or_lost() -> None:
    apps, [service] = apps_with(1, outbound_bytes_total=1024 * KiB)
    readers = [subscriber(service, f"room{n}") for n in range(3)]
    publisher = connected(service)
    for serial in range(len(readers)):
        publish(service, publisher, f"room{serial}", serial, 1_000)
    held = sum(reader.outbox_bytes for reader in readers)
    assert apps.budgets.outbound.used == held > 3_000
    drain(readers[0])
    service.close(readers[1])
    service.transport_lost(readers[2])
    assert apps.budgets.outbound.used == readers[1].outbox_bytes  # what close still says to the client
    drain(readers[1])
    assert apps.budgets.outbound.used == 0


def _codes(frames: list[dict[str, Any]]) -> list[int]:
    return [frame["error"]["code"] for frame in frames if "error" in frame]


def test_active_channels_are_one_total_for_every_app() -> None:
    apps, services = apps_with(2, channels_total=3)
    first, second = connected(services[0]), connected(services[1])
    for name in ("a", "b"):
        services[0].receive(first, _packed({"action": Action.ATTACH, "channel": name}))
    publish(services[1], second, "kept-by-history", 0, 100)
    assert _codes(drain(first)) == []
    services[1].receive(second, _packed({"action": Action.ATTACH, "channel": "one-too-many"}))
    [refusal] = drain(second)
    assert (refusal["action"], refusal["error"]["code"], refusal["error"]["statusCode"]) == (
        Action.ERROR,
        90021,
        429,
    )
    message = {"action": Action.MESSAGE, "channel": "new", "msgSerial": 0, "messages": [{"data": "d"}]}
    services[0].receive(first, _packed(message))
    assert _codes(drain(first)) == [90021]  # NACKed: a publish would make the channel too
    publish(services[1], second, "kept-by-history", 1, 100)  # an active channel takes more as before
    services[0].receive(first, _packed({"action": Action.DETACH, "channel": "a"}))
    services[1].receive(second, _packed({"action": Action.ATTACH, "channel": "one-too-many"}))
    assert Action.ATTACHED in actions(drain(second))  # a released channel gives its place back
    apps.remove("app1")
    assert apps.budgets.channels.used == 1


def test_connections_waiting_to_resume_are_one_total_the_longest_lost_let_go() -> None:
    apps, services = apps_with(2, connections_total=2)
    first, second = connected(services[0]), connected(services[0])
    services[0].transport_lost(first)
    services[0].transport_lost(second)
    third = connected(services[1])
    services[1].transport_lost(third)  # three wait, of two apps: the longest-lost goes, whichever app's
    assert first.id not in services[0].connections
    assert second.id in services[0].connections
    assert len(apps.budgets.waiting_to_resume) == 2
    resumed = services[0].open(
        {"v": "6", "format": "msgpack", "key": key_of(services[0]), "resume": second.key}
    )
    assert resumed is second
    assert len(apps.budgets.waiting_to_resume) == 1
    services[1].close(third)
    assert len(apps.budgets.waiting_to_resume) == 0

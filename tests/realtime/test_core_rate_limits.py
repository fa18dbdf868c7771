"""Rate limits without sockets, on a fake clock: a publish beyond a rate is refused with 42911 and the
connection carries on; far beyond it (about 20 times) the connection is closed with 42921; past 2,000
protocol messages a second of any kind it is closed with 42924. Ably's defaults apply to every connection,
and a JWT's `ably.limits.publish.perAttachment.maxRate.*` narrows them per attachment."""

import dataclasses
from typing import Any

import pytest

from ably_local.connection import Connection
from ably_local.errors import AblyError
from ably_local.limits import Limits
from ably_local.protocol import Action, PresenceAction
from ably_local.rate_limits import TokenBucket
from tests.realtime.core import Core, actions, drain

PUBLISH_RATE = Limits().connection_publish_rate
PROTOCOL_RATE = Limits().inbound_protocol_message_rate


def test_ablys_documented_defaults() -> None:
    """Ably's limits page (50 publishes a second per connection on every package), errors 42921 ("around 20
    times the permitted rate") and 42924 ("around 2000 protocol messages per second")."""
    limits = Limits()
    assert (limits.connection_publish_rate, limits.fatal_rate_multiple) == (50, 20)
    assert limits.inbound_protocol_message_rate == 2_000


def test_a_token_bucket_saves_up_one_seconds_worth() -> None:
    bucket = TokenBucket(10, now=0)
    assert [bucket.take(0) for _ in range(11)] == [True] * 10 + [False]
    assert not bucket.take(99)
    assert bucket.take(100), "a token a tenth of a second at 10/s"
    assert [bucket.take(60_000) for _ in range(11)] == [True] * 10 + [False], "never more than a second's"
    slow = TokenBucket(0.1, now=0)
    assert [slow.take(0), slow.take(9_999), slow.take(10_000)] == [True, False, True]
    assert not bucket.take(50_000), "a clock that steps back refills nothing"


def publish(core: Core, connection: Connection, channel: str, serial: int, count: int = 1) -> dict[str, Any]:
    """Publish `count` messages in one protocol message; the ACK, NACK or ERROR it is answered with."""
    messages = [{"name": "n", "data": str(index)} for index in range(count)]
    core.send(
        connection, {"action": Action.MESSAGE, "channel": channel, "msgSerial": serial, "messages": messages}
    )
    [answer] = [
        frame for frame in drain(connection) if frame["action"] in (Action.ACK, Action.NACK, Action.ERROR)
    ]
    return answer


def outcomes(
    core: Core, connection: Connection, channel: str, count: int, first: int = 0
) -> list[int | None]:
    """Publish `count` times at once: None for each ACK, the error code for each refusal."""
    return [
        publish(core, connection, channel, serial).get("error", {}).get("code")
        for serial in range(first, first + count)
    ]


def test_a_publish_beyond_the_connection_rate_is_refused_and_the_connection_carries_on() -> None:
    core = Core()
    publisher, subscriber = core.connect(), core.connect()
    core.attach(publisher, "room")
    core.attach(subscriber, "room")
    rate = int(PUBLISH_RATE)
    assert outcomes(core, publisher, "room", rate + 1) == [None] * rate + [42911]
    nack = publish(core, publisher, "room", rate + 1)
    assert (nack["action"], nack["msgSerial"], nack["count"]) == (Action.NACK, rate + 1, 1)
    assert (nack["error"]["code"], nack["error"]["statusCode"]) == (42911, 429)
    assert "nonfatal" in nack["error"]["message"]
    delivered = [frame for frame in drain(subscriber) if frame["action"] == Action.MESSAGE]
    assert len(delivered) == rate, "a refused publish is not delivered"

    core.clock.advance(1000 // rate)
    assert publish(core, publisher, "room", rate + 2)["action"] == Action.ACK, "one more once a token is back"
    assert publisher.id in core.service.connections
    assert not publisher.closing
    assert publisher.id in core.service.table.channels["room"].attached, "still attached"
    assert [f["action"] for f in drain(subscriber)] == [Action.MESSAGE]


def test_what_counts_is_the_publish_not_the_messages_in_it() -> None:
    core = Core()
    publisher = core.connect()
    answers = [publish(core, publisher, "room", serial, count=20) for serial in range(int(PUBLISH_RATE))]
    assert [answer["action"] for answer in answers] == [Action.ACK] * int(PUBLISH_RATE)


def test_presence_is_not_a_publish() -> None:
    core = Core()
    member = core.connect(clientId="busy")
    core.attach(member, "room")
    for serial in range(int(PUBLISH_RATE) * 2):
        item = {"action": PresenceAction.UPDATE if serial else PresenceAction.ENTER, "data": str(serial)}
        core.send(
            member, {"action": Action.PRESENCE, "channel": "room", "msgSerial": serial, "presence": [item]}
        )
    assert Action.NACK not in actions(drain(member))


def test_publishing_at_twice_the_rate_is_refused_in_part_but_never_closed() -> None:
    core = Core()
    publisher = core.connect()
    refused = 0
    for serial in range(2_000):  # 100 a second for 20 seconds
        core.clock.advance(10)
        refused += publish(core, publisher, "room", serial).get("action") == Action.NACK
    assert 900 <= refused <= 1_050
    assert publisher.id in core.service.connections
    assert not publisher.closing


def closed_with(core: Core, connection: Connection) -> int:
    """The code of the connection ERROR that closed a connection; the connection is gone from the service."""
    errors: list[int] = [
        f["error"]["code"] for f in drain(connection) if f["action"] == Action.ERROR and "channel" not in f
    ]
    assert errors, "no connection ERROR was sent"
    assert connection.id not in core.service.connections
    assert connection.closing
    return errors[-1]


def test_publishing_at_about_twenty_times_the_rate_closes_the_connection() -> None:
    core = Core()
    publisher, watcher = core.connect(clientId="runaway"), core.connect()
    core.attach(publisher, "room")
    core.attach(watcher, "room")
    enter = {"action": Action.PRESENCE, "channel": "room", "msgSerial": 0, "presence": [{"action": 2}]}
    core.send(publisher, enter)
    drain(watcher)
    fatal_burst = int(PUBLISH_RATE) * Limits().fatal_rate_multiple
    for serial in range(1, fatal_burst + 1):
        core.send(
            publisher, {"action": Action.MESSAGE, "channel": "room", "msgSerial": serial, "messages": [{}]}
        )
    assert publisher.id in core.service.connections, "not yet: a burst of the fatal rate's second is allowed"
    core.send(publisher, {"action": Action.MESSAGE, "channel": "room", "msgSerial": 0, "messages": [{}]})
    frames = drain(publisher)
    error = next(f["error"] for f in frames if f["action"] == Action.ERROR)
    assert (error["code"], error["statusCode"]) == (42921, 429)
    assert publisher.id not in core.service.connections
    assert publisher.closing
    leaves = [f for f in drain(watcher) if f["action"] == Action.PRESENCE]
    assert [item["action"] for f in leaves for item in f["presence"]] == [PresenceAction.LEAVE], (
        "left at once"
    )
    assert core.send(publisher, enter) is False
    assert drain(publisher) == [], "nothing it sends afterwards is handled"
    fresh = core.service.open({"v": "6", "key": core.key.value, "resume": publisher.key})
    assert fresh is not publisher, "a closed connection cannot be resumed"
    assert drain(fresh)[0]["error"]["code"] == 80018


def test_a_sustained_flood_closes_the_connection_with_42921() -> None:
    core = Core()
    publisher = core.connect()
    serial = 0
    while publisher.id in core.service.connections and serial < 10_000:
        core.clock.advance(1)  # 1,000 publishes a second plus a fifth more: 24 times the rate
        for _ in range(1 if serial % 5 else 2):
            core.send(
                publisher, {"action": Action.MESSAGE, "channel": "r", "msgSerial": serial, "messages": [{}]}
            )
            serial += 1
    assert closed_with(core, publisher) == 42921
    assert 4_000 < serial < 10_000, "a few seconds of it"


def jwt_publisher(core: Core, **rates: float) -> Connection:
    claims = {
        f"ably.limits.publish.perAttachment.maxRate.{resource}": rate for resource, rate in rates.items()
    }
    return core.connect(access_token=core.jwt(claims))


def test_a_jwt_rate_applies_per_attachment_by_the_most_specific_resource() -> None:
    core = Core()
    publisher = jwt_publisher(core, **{"chat:*": 1, "chat:fast": 10})
    assert outcomes(core, publisher, "chat:a", 2) == [None, 42911]
    assert outcomes(core, publisher, "chat:b", 2, first=2) == [None, 42911], "each attachment its own"
    assert outcomes(core, publisher, "chat:fast", 11, first=4) == [None] * 10 + [42911], "the exact name wins"
    assert outcomes(core, publisher, "news", 20, first=15) == [None] * 20, "no claim: the connection's rate"
    core.clock.advance(1000)
    assert outcomes(core, publisher, "chat:a", 2, first=35) == [None, 42911]


def test_a_new_attachment_starts_with_a_full_allowance() -> None:
    core = Core()
    publisher = jwt_publisher(core, **{"chat:*": 1})
    core.attach(publisher, "chat:a")
    assert outcomes(core, publisher, "chat:a", 2) == [None, 42911]
    core.send(publisher, {"action": Action.DETACH, "channel": "chat:a"})
    core.attach(publisher, "chat:a")
    assert outcomes(core, publisher, "chat:a", 2, first=2) == [None, 42911]


def test_a_fractional_rate_allows_one_publish_every_so_often() -> None:
    core = Core()
    publisher = jwt_publisher(core, **{"*": 0.1})
    assert outcomes(core, publisher, "room", 2) == [None, 42911]
    core.clock.advance(9_000)
    assert outcomes(core, publisher, "room", 1, first=2) == [42911]
    core.clock.advance(1_000)
    assert outcomes(core, publisher, "room", 1, first=3) == [None]


def test_the_connection_rate_still_bounds_a_jwt_that_asks_for_more() -> None:
    core = Core()
    publisher = jwt_publisher(core, **{"*": 1_000})
    assert outcomes(core, publisher, "room", int(PUBLISH_RATE) + 1)[-1] == 42911


def test_twenty_times_a_jwt_rate_closes_the_connection() -> None:
    core = Core()
    publisher = jwt_publisher(core, **{"chat:*": 2})
    attempts = 0
    while publisher.id in core.service.connections and attempts < 1_000:
        core.clock.advance(20)  # 50 a second: 25 times the rate
        core.send(
            publisher,
            {"action": Action.MESSAGE, "channel": "chat:a", "msgSerial": attempts, "messages": [{}]},
        )
        attempts += 1
    assert closed_with(core, publisher) == 42921
    patient = jwt_publisher(core, **{"chat:*": 2})
    for serial in range(500):
        core.clock.advance(30)  # 33 a second: under 20 times the rate
        core.send(
            patient, {"action": Action.MESSAGE, "channel": "chat:a", "msgSerial": serial, "messages": [{}]}
        )
    assert patient.id in core.service.connections


def test_a_renewed_token_rate_applies_and_a_resume_keeps_the_count() -> None:
    core = Core()
    publisher = jwt_publisher(core, **{"*": 1})
    assert outcomes(core, publisher, "room", 2) == [None, 42911]
    core.service.transport_lost(publisher)
    resumed = core.service.open(
        {"v": "6", "access_token": publisher.credentials.token or "", "resume": publisher.key}
    )
    assert resumed is publisher
    drain(resumed)
    assert outcomes(core, resumed, "room", 1, first=2) == [42911], "a reconnect does not refill the bucket"
    faster = core.jwt({"ably.limits.publish.perAttachment.maxRate.*": 5})
    core.send(resumed, {"action": Action.AUTH, "auth": {"accessToken": faster}})
    assert outcomes(core, resumed, "room", 6, first=3) == [None] * 5 + [42911]


@pytest.mark.parametrize(
    "rate", [0, -1, "10", True, None, float("inf")], ids=["zero", "negative", "text", "bool", "null", "inf"]
)
def test_a_rate_that_is_not_a_positive_number_is_an_invalid_jwt(rate: object) -> None:
    core = Core()
    claims = {"ably.limits.publish.perAttachment.maxRate.chat:*": rate}
    with pytest.raises(AblyError) as refused:
        core.connect(access_token=core.jwt(claims))
    assert refused.value.code == 40144
    assert "ably.limits.publish.perAttachment.maxRate.chat:*" in refused.value.message


def test_protocol_messages_past_two_thousand_a_second_close_the_connection() -> None:
    core = Core()
    client = core.connect()
    drain(client)
    burst = int(PROTOCOL_RATE)
    for _ in range(burst):
        core.send(client, {"action": Action.HEARTBEAT})
    assert client.id in core.service.connections
    core.send(client, {"action": Action.ATTACH, "channel": "one-too-many"})
    assert closed_with(core, client) == 42924
    assert "one-too-many" not in core.service.table.channels


def test_a_steady_fifteen_hundred_protocol_messages_a_second_is_fine() -> None:
    core = Core()
    client = core.connect()
    for index in range(6_000):
        if index % 3 == 0:
            core.clock.advance(2)
        core.send(client, {"action": Action.ATTACH if index % 2 else Action.DETACH, "channel": "churn"})
    assert client.id in core.service.connections


def test_the_rates_advertised_and_raised() -> None:
    core = Core()
    [connected] = drain(core.connect())
    assert connected["connectionDetails"]["maxInboundRate"] == PROTOCOL_RATE
    raised = dataclasses.replace(Limits(), connection_publish_rate=1_000.0)
    fast = Core(limits=raised)
    assert outcomes(fast, fast.connect(), "room", 1_001)[-2:] == [None, 42911]

"""Channel-scoped JWT claims without sockets: the publisher's most specific `ably.channel.*` claim is what
subscribers, history and rewind see in `extras.userClaim`, and nothing a client writes there itself."""

from typing import Any

import pytest

from ably_local.claims import most_specific
from ably_local.errors import AblyError
from ably_local.protocol import Action, PresenceAction
from tests.realtime.core import Core, drain

ROLES = {
    "ably.channel.chat:lobby": "admin",
    "ably.channel.chat:*": "moderator",
    "ably.channel.*": "guest",
}


@pytest.mark.parametrize(
    ("resources", "channel", "expected"),
    [
        (["*", "chat:*", "chat:lobby"], "chat:lobby", "chat:lobby"),
        (["*", "chat:*", "chat:lobby"], "chat:other", "chat:*"),
        (["*", "chat:*", "chat:lobby"], "chat:a:b", "chat:*"),
        (["*", "chat:*", "chat:lobby"], "news", "*"),
        (["chat:*"], "news", None),
        (["chat:*"], "chat", None),
        (["org:acme:*", "org:*", "*"], "org:acme:room", "org:acme:*"),
        (["*:lobby", "chat:*"], "chat:lobby", "chat:*"),
        (["chat:lobby", "chat:*", "*"], "[meta]chat:lobby", None),
        (["a:*:c", "a:b:*"], "a:b:c", "a:b:*"),
        (["x:*:y:*", "x:*:*:z"], "x:q:y:z", "x:*:*:z"),
    ],
)
def test_the_most_specific_resource_wins(resources: list[str], channel: str, expected: str | None) -> None:
    assert most_specific(resources, channel) == expected
    assert most_specific(reversed(resources), channel) == expected, "the order of the claims does not matter"


def claimed(core: Core, claims: dict[str, str], client_id: str = "ann") -> Any:
    return core.connect(access_token=core.jwt({"x-ably-clientId": client_id, **claims}))


def received(frames: list[dict[str, Any]], action: int, field: str = "messages") -> list[dict[str, Any]]:
    return [item for frame in frames if frame["action"] == action for item in frame[field]]


def user_claims(items: list[dict[str, Any]]) -> list[str | None]:
    return [item.get("extras", {}).get("userClaim") for item in items]


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_subscribers_see_the_publishers_most_specific_claim(fmt: str) -> None:
    core = Core()
    publisher, subscriber = claimed(core, ROLES), core.connect(fmt)
    for name in ("chat:lobby", "chat:room", "news"):
        core.attach(subscriber, name)
        core.send(
            publisher,
            {"action": Action.MESSAGE, "channel": name, "msgSerial": 0, "messages": [{"data": "hi"}, {}]},
        )
        delivered = received(drain(subscriber), Action.MESSAGE)
        expected = {"chat:lobby": "admin", "chat:room": "moderator", "news": "guest"}[name]
        assert user_claims(delivered) == [expected, expected]


def test_a_publisher_without_a_matching_claim_adds_none() -> None:
    core = Core()
    publisher, subscriber = claimed(core, {"ably.channel.chat:*": "moderator"}), core.connect()
    core.attach(subscriber, "news")
    core.publish(publisher, "news", 0, "plain")
    [delivered] = received(drain(subscriber), Action.MESSAGE)
    assert "extras" not in delivered


def test_a_userclaim_a_client_writes_itself_is_never_delivered() -> None:
    core = Core()
    plain, claimed_one, subscriber = core.connect(), claimed(core, ROLES), core.connect()
    core.attach(subscriber, "chat:room")
    forged = {"userClaim": "admin", "headers": {"kept": "yes"}}
    for publisher in (plain, claimed_one):
        core.send(
            publisher,
            {
                "action": Action.MESSAGE,
                "channel": "chat:room",
                "msgSerial": 0,
                "messages": [
                    {"data": "x", "extras": forged},
                    {"data": "y", "extras": {"userClaim": "admin"}},
                ],
            },
        )
    delivered = received(drain(subscriber), Action.MESSAGE)
    assert user_claims(delivered) == [None, None, "moderator", "moderator"]
    assert delivered[0]["extras"] == {"headers": {"kept": "yes"}}, "the rest of extras is published"
    assert "extras" not in delivered[1], "extras that held only the forged claim are gone"
    assert delivered[2]["extras"] == {"headers": {"kept": "yes"}, "userClaim": "moderator"}


def test_history_and_rewind_keep_the_claim() -> None:
    core = Core()
    publisher = claimed(core, ROLES)
    core.publish(publisher, "chat:lobby", 0, "kept")
    [event] = core.service.messaging.history_of("chat:lobby")
    assert user_claims(event.items) == ["admin"]
    late = core.connect()
    frames = core.attach(late, "chat:lobby", params={"rewind": "1"})
    assert user_claims(received(frames, Action.MESSAGE)) == ["admin"]


def test_presence_messages_and_the_presence_set_carry_the_claim() -> None:
    core = Core()
    member, watcher = claimed(core, ROLES, "mod"), core.connect()
    core.attach(member, "chat:room")
    core.attach(watcher, "chat:room")
    core.send(
        member,
        {
            "action": Action.PRESENCE,
            "channel": "chat:room",
            "msgSerial": 0,
            "presence": [{"action": PresenceAction.ENTER, "data": "hi", "extras": {"userClaim": "admin"}}],
        },
    )
    assert user_claims(received(drain(watcher), Action.PRESENCE, "presence")) == ["moderator"]
    late = core.connect()
    assert user_claims(received(core.attach(late, "chat:room"), Action.SYNC, "presence")) == ["moderator"]
    core.send(member, {"action": Action.CLOSE})
    [leave] = received(drain(watcher), Action.PRESENCE, "presence")
    assert leave["action"] == PresenceAction.LEAVE
    assert user_claims([leave]) == ["moderator"], "the leave Ably synthesises is the member's, claim and all"


def test_a_forged_presence_claim_is_dropped() -> None:
    core = Core()
    member, watcher = core.connect(clientId="plain"), core.connect()
    core.attach(member, "chat:room")
    core.attach(watcher, "chat:room")
    enter = {"action": PresenceAction.ENTER, "extras": {"userClaim": "admin"}}
    core.send(
        member, {"action": Action.PRESENCE, "channel": "chat:room", "msgSerial": 0, "presence": [enter]}
    )
    assert user_claims(received(drain(watcher), Action.PRESENCE, "presence")) == [None]
    assert user_claims(core.service.presence.members("chat:room")) == [None]


def test_annotations_carry_the_claim_and_never_a_forged_one() -> None:
    core = Core(mutable_namespaces=frozenset({"chat"}))
    author, watcher, plain = claimed(core, ROLES), core.connect(), core.connect()
    core.attach(watcher, "chat:room", flags=0x7F0000)
    core.publish(author, "chat:room", 0, "original")
    [message] = received(drain(watcher), Action.MESSAGE)
    for serial, client in enumerate((author, plain)):
        annotation = {"type": "reaction:distinct.v1", "name": "+1", "messageSerial": message["serial"]}
        annotation["extras"] = {"userClaim": "admin"}
        core.send(
            client,
            {
                "action": Action.ANNOTATION,
                "channel": "chat:room",
                "msgSerial": serial + 1,
                "annotations": [annotation],
            },
        )
    annotations = received(drain(watcher), Action.ANNOTATION, "annotations")
    assert user_claims(annotations) == ["moderator", None]


def test_updates_carry_the_claim_of_whoever_makes_them() -> None:
    core = Core(mutable_namespaces=frozenset({"chat"}))
    guest = core.connect(access_token=core.jwt({"x-ably-clientId": "g", "ably.channel.*": "guest"}))
    moderator = claimed(core, ROLES, "m")
    watcher = core.connect()
    core.attach(watcher, "chat:room")
    core.publish(guest, "chat:room", 0, "original")
    [message] = received(drain(watcher), Action.MESSAGE)
    assert user_claims([message]) == ["guest"]
    change = {"action": 1, "serial": message["serial"], "data": "edited", "extras": {"userClaim": "admin"}}
    core.send(
        moderator, {"action": Action.MESSAGE, "channel": "chat:room", "msgSerial": 0, "messages": [change]}
    )
    [update] = received(drain(watcher), Action.MESSAGE)
    assert update["action"] == 1
    assert user_claims([update]) == ["moderator"]


def test_a_renewed_token_brings_its_own_claims() -> None:
    core = Core()
    publisher, subscriber = claimed(core, ROLES, "ann"), core.connect()
    core.attach(subscriber, "chat:room")
    renewed = core.jwt({"x-ably-clientId": "ann", "ably.channel.chat:*": "admin"})
    core.send(publisher, {"action": Action.AUTH, "auth": {"accessToken": renewed}})
    core.publish(publisher, "chat:room", 0, "after")
    assert user_claims(received(drain(subscriber), Action.MESSAGE)) == ["admin"]


def test_one_raw_message_published_on_two_channels_gets_each_channels_claim() -> None:
    """A batch publish hands the same decoded message to every channel it names."""
    core = Core()
    credentials = core.authority.token(core.jwt(ROLES))
    raw = [{"data": "same", "extras": {"headers": {"h": "1"}}}]
    messaging = core.service.messaging
    lobby = messaging.checked_messages(raw, credentials, "chat:lobby")
    news = messaging.checked_messages(raw, credentials, "news")
    assert user_claims(lobby + news) == ["admin", "guest"]
    assert raw[0]["extras"] == {"headers": {"h": "1"}}, "the client's extras object is left as it was"


@pytest.mark.parametrize(
    "claims",
    [
        {"ably.channel.chat:*": {"role": "moderator"}},
        {"ably.channel.chat:*": 1},
        {"ably.channel.": "nobody"},
    ],
)
def test_a_claim_that_is_not_text_for_a_resource_is_an_invalid_jwt(claims: dict[str, Any]) -> None:
    core = Core()
    with pytest.raises(AblyError) as refused:
        core.connect(access_token=core.jwt(claims))
    assert refused.value.code == 40144
    assert "ably.channel." in refused.value.message


def test_the_claims_bytes_are_counted_where_they_are_kept() -> None:
    """A claim can be as large as a JWT allows; what the service keeps is charged with it, while
    maxMessageSize (checked by SDKs before they send) counts only what the client sent."""
    core = Core(mutable_namespaces=frozenset({"chat"}))
    claim = "c" * 4000
    publisher = claimed(core, {"ably.channel.*": claim}, "big")
    core.attach(publisher, "chat:room")
    core.publish(publisher, "chat:room", 0, "m")
    enter = {"action": PresenceAction.ENTER, "data": "d"}
    core.send(
        publisher, {"action": Action.PRESENCE, "channel": "chat:room", "msgSerial": 1, "presence": [enter]}
    )
    [message] = core.service.messaging.history_of("chat:room")[0].items
    annotation = {"type": "r:total.v1", "messageSerial": message["serial"]}
    core.send(
        publisher,
        {"action": Action.ANNOTATION, "channel": "chat:room", "msgSerial": 2, "annotations": [annotation]},
    )
    events = core.service.table.channels["chat:room"].log.events
    # The message, the member's enter, the annotation, then the summary Ably sends (no claim: nobody's).
    assert [event.action for event in events] == [
        Action.MESSAGE,
        Action.PRESENCE,
        Action.ANNOTATION,
        Action.MESSAGE,
    ]
    assert [event.size > len(claim) for event in events] == [True, True, True, False]

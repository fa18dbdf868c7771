"""Token revocation without sockets: which tokens are refused with 40141, from when, and live disconnects."""

import pytest

from ably_local.auth import MAX_TTL_MS, ApiKey, Authority
from ably_local.capability import ALL
from ably_local.errors import AblyError
from ably_local.protocol import Action
from ably_local.revocation import REAUTH_MARGIN_MS, Revocations
from tests.realtime.core import Core, drain
from tests.realtime.wire import Key, signed_jwt

KEY = ApiKey("revApp.revKey", "revocableSecret_0123456789", ALL, revocable_tokens=True)
JWT_KEY = Key(KEY.name, KEY.secret)


class Revocable(Core):
    """A Core whose key's tokens can be revoked."""

    def __init__(self) -> None:
        super().__init__(KEY)

    def revoke(self, target: str, *, issued_before: int | None = None, applies_at: int | None = None) -> None:
        now = self.clock.now
        self.authority.revocations.revoke(
            KEY.name, target, now if issued_before is None else issued_before, applies_at or now, now
        )


def refusal(authority: Authority, token: str) -> int | None:
    try:
        authority.token(token)
    except AblyError as error:
        return error.code
    return None


def test_tokens_issued_before_the_revocation_are_refused_and_later_ones_are_not() -> None:
    core = Revocable()
    alice, bob = core.token("alice"), core.token("bob")
    core.clock.advance(10)
    core.revoke("clientId:alice")
    assert refusal(core.authority, alice) == 40141
    assert refusal(core.authority, bob) is None
    assert refusal(core.authority, core.token("alice")) is None


def test_jwts_are_revoked_by_client_id_or_revocation_key_using_their_iat() -> None:
    core = Revocable()
    now_s = core.clock.now // 1000
    old = signed_jwt(
        JWT_KEY,
        {"iat": now_s - 60, "exp": now_s + 600, "x-ably-clientId": "carol", "x-ably-revocation-key": "g1"},
    )
    fresh = signed_jwt(JWT_KEY, {"iat": now_s + 1, "exp": now_s + 600, "x-ably-revocation-key": "g1"})
    no_iat = signed_jwt(JWT_KEY, {"exp": now_s + 600, "x-ably-revocation-key": "g1"})
    core.revoke("revocationKey:g1")
    assert refusal(core.authority, old) == 40141
    assert refusal(core.authority, no_iat) == 40141, "a JWT of unknown age counts as issued before"
    core.clock.advance(2000)
    assert refusal(core.authority, fresh) is None


def test_a_postponed_revocation_applies_at_its_time_and_disconnects_on_tick() -> None:
    core = Revocable()
    token = core.token("dave")
    connection = core.connect(access_token=token)
    drain(connection)
    core.clock.advance(10)
    core.revoke("clientId:dave", applies_at=core.clock.now + REAUTH_MARGIN_MS)
    assert core.service.drop_revoked() == []
    assert refusal(core.authority, token) is None
    core.clock.advance(REAUTH_MARGIN_MS - 1)
    assert core.service.tick() == []
    core.clock.advance(1)
    assert core.service.tick() == [connection]
    [disconnected] = [frame for frame in drain(connection) if frame["action"] == Action.DISCONNECTED]
    assert disconnected["error"]["code"] == 40141
    assert connection.closing
    with pytest.raises(AblyError) as refused:
        core.connect(access_token=token, resume=connection.key)
    assert refused.value.code == 40141


def test_only_connections_with_matching_tokens_are_disconnected() -> None:
    core = Revocable()
    victim = core.connect(access_token=core.token("eve"))
    bystander = core.connect(access_token=core.token("frank"))
    keyed = core.connect(clientId="eve")
    core.clock.advance(10)
    core.revoke("clientId:eve")
    assert core.service.drop_revoked() == [victim]
    assert core.service.drop_revoked() == [], "a connection is told once"
    assert not bystander.closing
    assert not keyed.closing


def test_renewing_with_a_revoked_token_is_refused_on_the_live_connection() -> None:
    core = Revocable()
    connection = core.connect(access_token=core.token("gina"))
    old = core.token("gina")
    core.clock.advance(10)
    core.revoke("clientId:gina")
    drain(connection)
    core.send(connection, {"action": Action.AUTH, "auth": {"accessToken": old}})
    [error] = drain(connection)
    assert (error["action"], error["error"]["code"]) == (Action.ERROR, 40141)


def test_revocations_are_bounded_and_forgotten_once_every_token_they_match_expired() -> None:
    revocations = Revocations(max_count=2, max_bytes=10_000, keep_ms=MAX_TTL_MS)
    revocations.revoke(KEY.name, "clientId:a", 0, 0, now=0)
    revocations.revoke(KEY.name, "clientId:b", 0, 0, now=0)
    with pytest.raises(AblyError) as full:
        revocations.revoke(KEY.name, "clientId:c", 0, 0, now=1)
    assert (full.value.code, full.value.status) == (42910, 429)
    assert revocations.revoked(KEY.name, "a", None, issued=-1, now=1)
    revocations.revoke(KEY.name, "clientId:c", MAX_TTL_MS, MAX_TTL_MS, now=MAX_TTL_MS)
    assert not revocations.revoked(KEY.name, "a", None, issued=-1, now=MAX_TTL_MS)
    assert revocations.bytes > 0

    by_bytes = Revocations(max_count=1000, max_bytes=1000, keep_ms=MAX_TTL_MS)
    for index in range(4):  # about 200 bytes each
        by_bytes.revoke(KEY.name, f"clientId:{index}" + "x" * 50, 0, 0, now=0)
    with pytest.raises(AblyError):
        by_bytes.revoke(KEY.name, "clientId:4" + "x" * 50, 0, 0, now=0)
    assert 0 < by_bytes.bytes <= 1000


@pytest.mark.parametrize("target", ["invalidType:abc", "clientId:", "clientId", "channel:secret"])
def test_unknown_targets_are_40000(target: str) -> None:
    with pytest.raises(AblyError) as refused:
        Revocable().revoke(target)
    assert refused.value.code == 40000

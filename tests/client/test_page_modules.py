"""The page's pure functions, run in Node on the same ES modules the bundle is built from.

Each case is one call and the JSON of what it returned; the browser tests cover how the page uses them.
"""

import json
import subprocess
from typing import Any

import pytest

from tests.client.devserver_process import ROOT

CALL = """
const [module, name, args] = JSON.parse(process.argv[1]);
const exported = await import(new URL(`client/${module}`, `file://${process.argv[2]}/`));
console.log(JSON.stringify(exported[name](...args)));
"""
NOW = 1_800_000_000_000  # ms since the epoch: 2027-01-15T08:00:00Z
CLAIM = '{"roles":["moderator"]}'


def call(module: str, name: str, *args: Any) -> Any:
    printed = subprocess.run(
        ["node", "--input-type=module", "-e", CALL, json.dumps([module, name, args]), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(printed.stdout)


@pytest.mark.parametrize(
    ("extras", "roles"),
    [
        ({"userClaim": CLAIM}, ["moderator"]),
        ({"userClaim": '{"roles":["a","a",""," b ",5,null,"' + "x" * 33 + '"]}'}, ["a", "b"]),
        ({"userClaim": '{"roles":["one","two","three","four"]}'}, ["one", "two", "three"]),
        ({"userClaim": '{"roles":["<img src=x onerror=alert(1)>"]}'}, ["<img src=x onerror=alert(1)>"]),
        ({"userClaim": {"roles": ["moderator"]}}, []),  # Ably's userClaim is a string; not one of ours
        ({"userClaim": '{"role":"moderator"}'}, []),
        ({"userClaim": '{"roles":"moderator"}'}, []),
        ({"userClaim": '["moderator"]'}, []),
        ({"userClaim": '{"__proto__":{"roles":["admin"]}}'}, []),
        ({"userClaim": "moderator"}, []),
        ({"userClaim": '{"roles":["moderator"]}' + " " * 2048}, []),  # longer than any claim we sign
        ({"roles": ["moderator"]}, []),  # anywhere but userClaim is something a client wrote
        (None, []),
        ("extras", []),
    ],
)
def test_roles_are_read_only_from_a_well_formed_user_claim(extras: Any, roles: list[str]) -> None:
    assert call("roles.js", "trustedRoles", extras) == roles


@pytest.mark.parametrize(
    ("content_type", "text", "token"),
    [
        ("application/jwt", "aaa.bbb.ccc", "aaa.bbb.ccc"),
        ("Application/JWT; charset=utf-8", " aaa.bbb.ccc\n", "aaa.bbb.ccc"),
        ("application/jwt", "not a jwt", None),
        ("application/jwt", '{"keyName":"app.key"}', None),
        ("application/json", '{"keyName":"app.key","mac":"m"}', {"keyName": "app.key", "mac": "m"}),
        ("application/json; charset=utf-8", '{"keyName":"app.key"}', {"keyName": "app.key"}),
        ("application/json", '"aaa.bbb.ccc"', None),
        ("application/json", '{"keyName":5}', None),
        ("application/json", "{not json", None),
        ("text/plain", "aaa.bbb.ccc", None),
        (None, '{"keyName":"app.key"}', None),
    ],
)
def test_the_functions_content_type_says_which_token_it_gave(
    content_type: str | None, text: str, token: Any
) -> None:
    assert call("token.js", "tokenFrom", content_type, text) == token


@pytest.mark.parametrize(
    ("header", "retry_at"),
    [
        ("30", NOW + 30_000),
        (" 30 ", NOW + 30_000),
        ("0", NOW),
        ("99999", NOW + 15 * 60_000),  # at most 15 minutes on one answer's word
        ("Fri, 15 Jan 2027 08:01:00 GMT", NOW + 60_000),
        ("Fri, 15 Jan 2027 07:00:00 GMT", NOW),  # a date already past: now
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(header: str | None, retry_at: int | None) -> None:
    assert call("token.js", "retryAfter", header, NOW) == retry_at

"""The lean signer's TokenRequests are byte-identical to ably-python's own create_token_request.

The function signs with ably-python's TokenRequest and Capability modules but not through AblyRest (whose
package import costs 130-300 ms of cold start). This holds the two byte for byte over generated cases,
fixed nonce and timestamp each, so a change in the pinned ably (moved modules, new signing rules, another
capability canonical form) fails here rather than in a browser.
"""

import functools
import importlib.util
import json
import random
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ably
import pytest
from ably import AblyRest

from ably_token_request import signer
from ably_token_request.api_key import parse_api_key
from ably_token_request.settings import OPERATIONS, _capability
from ably_token_request.signer import TokenRequestSigner
from tests.function.signing import expected_mac

CASES = 1_500
KEYS = ["testApp.testKey:Zq9s3cr3tValueThatMustNeverLeak_0123456789", "a1B2c3.XyZ-_9:p+/=0aB", "x.y:z"]
CHANNEL_CHARS = string.ascii_letters + string.digits + ":*-_.[]"
CLIENT_ID_ALPHABETS = [string.ascii_letters, string.printable[:94], "zoë日本語🙂 -_.:@", "\"'\\/{}[]"]


@dataclass(frozen=True)
class Case:
    key: str
    client_id: str
    ttl: int
    capability_json: str
    timestamp: int
    nonce: str


def generated_cases(seed: int = 20261129) -> Iterator[Case]:
    rng = random.Random(seed)
    operations = sorted(OPERATIONS)
    for index in range(CASES):
        alphabet = rng.choice(CLIENT_ID_ALPHABETS)
        capability = {
            "".join(rng.choices(CHANNEL_CHARS, k=rng.randint(1, 24))): rng.sample(
                operations, rng.randint(1, 4)
            )
            for _ in range(rng.randint(1, 5))
        }
        yield Case(
            key=rng.choice(KEYS),
            client_id="".join(rng.choices(alphabet, k=rng.randint(1, 128))),
            ttl=rng.randint(10_000, 86_400_000),
            capability_json=json.dumps(capability, ensure_ascii=rng.random() < 0.5),
            timestamp=1_700_000_000_000 + rng.randint(0, 10**11),
            nonce=f"{index:04d}" + "".join(rng.choices(string.hexdigits.lower(), k=12)),
        )


@functools.cache
def ably_rest(key: str) -> AblyRest:
    """One client per key: creating one loads a certificate bundle (about 50 ms)."""
    return AblyRest(key=key)


def ably_python(case: Case) -> dict[str, Any]:
    """AblyRest(key).auth.create_token_request, driven to completion (it never awaits without query_time)."""
    params = {
        "client_id": case.client_id,
        "ttl": case.ttl,
        "capability": json.loads(case.capability_json),
        "timestamp": case.timestamp,
        "nonce": case.nonce,
    }
    coroutine = ably_rest(case.key).auth.create_token_request(params)
    with pytest.raises(StopIteration) as finished:
        coroutine.send(None)
    fields: dict[str, Any] = finished.value.value.to_dict()
    return {name: value for name, value in fields.items() if value is not None}


def ours(case: Case) -> dict[str, str | int]:
    """The function's path: capability validated and canonicalised by settings, then the lean signer."""
    signer = TokenRequestSigner(capability=_capability(case.capability_json), ttl_ms=case.ttl)
    key = parse_api_key(case.key, source="ABLY_API_KEY")
    return signer.sign(key, case.client_id, timestamp=case.timestamp, nonce=case.nonce)


def test_token_requests_are_byte_identical_to_ably_python_over_generated_cases() -> None:
    cases = list(generated_cases())
    assert len(cases) >= 1_000
    assert len({case.capability_json for case in cases}) == len(cases)
    for case in cases:
        expected = json.dumps(ably_python(case), separators=(",", ":"))
        actual = json.dumps(ours(case), separators=(",", ":"))
        assert actual == expected, case


def test_the_parity_check_would_catch_a_difference() -> None:
    """Guard against a comparison that cannot fail: one changed input changes the bytes."""
    case = next(generated_cases())
    other = Case(**{**case.__dict__, "client_id": case.client_id + "x"})
    assert json.dumps(ours(other)) != json.dumps(ably_python(case))


def test_signed_text_follows_ablys_documented_form() -> None:
    """Independent of ably-python: the mac is HMAC-SHA256 over Ably's documented signing text."""
    for case in list(generated_cases())[:50]:
        body = ours(case)
        assert body["mac"] == expected_mac(body, case.key.split(":", 1)[1])


def test_the_signer_runs_the_installed_ablys_own_modules_under_private_names() -> None:
    """ably/types/tokenrequest.py itself, loaded afresh: not a copy, and not the ably package's import."""
    module = signer._ably_types_module("tokenrequest")
    assert module.__name__ == "ably_token_request._ably_tokenrequest"
    assert module.__file__ == str(Path(ably.__file__).parent / "types" / "tokenrequest.py")
    assert module is not sys.modules.get("ably.types.tokenrequest")


def test_without_ably_the_import_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"^ably-python is not installed \(see requirements.txt\)$"):
        signer._ably_types_module("tokenrequest")


def test_nonces_are_16_hex_characters_like_ably_pythons() -> None:
    assert all(re.fullmatch(r"[0-9a-f]{16}", signer.new_nonce()) for _ in range(20))

"""A stand-in for a site's Netlify Identity API (GoTrue), for the entry's Identity check.

GoTrue cannot run offline (it is a Go service with a database). This double does what the entry relies on:
`GET /.netlify/identity/user` with `Authorization: Bearer <Identity JWT>` answers the user record GoTrue
keeps for the token's `sub` (`id`, `email`, `app_metadata`, `user_metadata`) when the token is an HS256 JWT
signed with the instance's secret and not expired, and 401 otherwise. The record comes from the double's
user store, not from the token's claims, as GoTrue reads it from its database. `unavailable` makes it
answer 503, as an Identity outage would.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USER_PATH = "/.netlify/identity/user"
SECRET = b"identity-double-secret"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def identity_token(sub: str, *, secret: bytes = SECRET, expires_in_s: int = 3600) -> str:
    """An Identity JWT for `sub`, as GoTrue issues one at login (signed with `secret`)."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64url(json.dumps({"sub": sub, "exp": int(time.time()) + expires_in_s}).encode())
    signature = hmac.digest(secret, f"{header}.{claims}".encode(), "sha256")
    return f"{header}.{claims}.{_b64url(signature)}"


def _verified_sub(token: str) -> str | None:
    try:
        header, claims, signature = token.split(".")
        expected = hmac.digest(SECRET, f"{header}.{claims}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64url(expected), signature):
            return None
        payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("sub"), str):
        return None
    if not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
        return None
    sub: str = payload["sub"]
    return sub


@dataclass
class IdentityService:
    url: str  # the site URL (what Netlify sets as URL); the API is at URL + /.netlify/identity
    # The record answered for each `sub`: fields besides `id`, or the whole answer's JSON text as written.
    users: dict[str, dict[str, Any] | str]
    unavailable: bool = False
    requests: list[str] = field(default_factory=list)  # the Authorization header of each /user call


@contextmanager
def running_identity_service(users: dict[str, dict[str, Any] | str]) -> Iterator[IdentityService]:
    """The double on a free loopback port; `users` maps a `sub` to the record answered for it."""
    service: IdentityService

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            service.requests.append(self.headers.get("authorization", ""))
            if service.unavailable:
                self._answer(503, {"code": 503, "msg": "Identity is unavailable"})
                return
            if self.path != USER_PATH:
                self._answer(404, {"code": 404, "msg": "Not found"})
                return
            scheme, _, token = self.headers.get("authorization", "").partition(" ")
            sub = _verified_sub(token) if scheme.lower() == "bearer" else None
            if sub is None or sub not in service.users:
                self._answer(401, {"code": 401, "msg": "Invalid token"})
                return
            record = service.users[sub]
            self._answer(200, record if isinstance(record, str) else {"id": sub, "aud": "", **record})

        def _answer(self, status: int, body: dict[str, Any] | str) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service = IdentityService(url=f"http://127.0.0.1:{server.server_address[1]}", users=users)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

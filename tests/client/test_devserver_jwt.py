"""`make dev` with ABLY_TOKEN_FORMAT=jwt in .env: the function answers JWTs, ably-local accepts them."""

import base64
import json
from pathlib import Path

import httpx
from websockets.sync.client import connect

from tests.client.devserver_process import dev_server

CONNECTED = 4


def test_the_local_service_accepts_the_function_s_jwts_over_websocket_and_rest(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ABLY_TOKEN_FORMAT=jwt\nABLY_PUBLISH_MAX_RATE=5\n")
    with dev_server("--env-file", str(env_file)) as server, httpx.Client(base_url=server.url) as http:
        answer = http.get("/.netlify/functions/ably-token-request", params={"clientId": "dev"})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/jwt"
        token = answer.text
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["x-ably-clientId"] == "dev"
        assert claims["ably.limits.publish.perAttachment.maxRate.chat:*"] == 5

        websocket_url = server.url.replace("http://", "ws://") + f"/?access_token={token}&format=json&v=6"
        with connect(websocket_url, open_timeout=10) as websocket:
            connected = json.loads(websocket.recv(timeout=10))
        assert connected["action"] == CONNECTED, connected
        assert connected["connectionDetails"]["clientId"] == "dev"

        bearer = base64.b64encode(token.encode()).decode()  # how ably-js sends a token to REST
        published = http.post(
            "/channels/chat:dev/messages",
            json={"name": "hello", "data": "over REST with a JWT"},
            headers={"authorization": f"Bearer {bearer}"},
        )
        assert published.status_code == 201, published.text
        outside = http.post(
            "/channels/news/messages", json={"name": "x"}, headers={"authorization": f"Bearer {bearer}"}
        )
        assert outside.status_code == 401
        assert outside.json()["error"]["code"] == 40160

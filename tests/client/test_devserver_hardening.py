"""The dev server holds a real key in `.env`, so it answers only this machine and bounds what it reads."""

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from devserver.host_check import LoopbackHostOnly
from devserver.limits import MAX_HEADER_BYTES, MAX_REQUEST_BODY_BYTES
from devserver.serving import GuardedH11Protocol
from devserver.testing import RunningDevServer, running_devserver

TOKEN_FUNCTION = "/.netlify/functions/ably-token-request"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningDevServer]:
    with running_devserver() as running:
        yield running


def address(server: RunningDevServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def raw_exchange(server: RunningDevServer, request: bytes, timeout_s: float = 10) -> bytes:
    """Send raw bytes, return everything the server answers until it closes the connection."""
    with socket.create_connection(address(server), timeout=timeout_s) as sock:
        sock.sendall(request)
        return read_until_closed(sock)


def send_until_cut_off(sock: socket.socket, data: bytes, most: int, pause_s: float = 0) -> int:
    """Send `data` repeatedly until the server closes the connection; how many bytes went out by then."""
    sent = 0
    try:
        while sent < most:
            sock.sendall(data)
            sent += len(data)
            time.sleep(pause_s)
    except OSError:
        return sent
    raise AssertionError(f"the server took all {sent} bytes without cutting the connection off")


def read_until_closed(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "chat.localhost", "127.0.0.2"])
def test_loopback_host_names_are_served(server: RunningDevServer, host: str) -> None:
    port = address(server)[1]
    answer = httpx.get(f"{server.url}/", headers={"Host": f"{host}:{port}"})
    assert answer.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io", "192.168.1.20", ""])
def test_other_host_names_are_refused_as_dns_rebinding(server: RunningDevServer, host: str) -> None:
    port = address(server)[1]
    for path in ("/", TOKEN_FUNCTION, "/time"):
        answer = httpx.get(f"{server.url}{path}", headers={"Host": f"{host}:{port}" if host else ""})
        assert answer.status_code == 421, (path, answer.text)
        assert "DNS rebinding" in answer.text
        assert "keyName" not in answer.text


def test_a_websocket_for_another_host_name_is_refused(server: RunningDevServer) -> None:
    port = address(server)[1]

    async def attempt(host_name: str) -> dict[str, object]:
        """Dial the dev server, but name `host_name` in the handshake, as a rebinding page would."""
        url = f"ws://{host_name}:{port}/?key={server.realtime.api_key}&v=6&format=json"
        async with connect(url, sock=socket.create_connection(address(server))) as websocket:
            connected: dict[str, object] = json.loads(await websocket.recv())
            return connected

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt("evil.example"))
    assert refused.value.response.status_code == 403
    assert asyncio.run(attempt("localhost"))["action"] == 4  # CONNECTED


def test_the_configured_host_is_served_besides_loopback_names() -> None:
    guard = LoopbackHostOnly(app=lambda scope, receive, send: None, configured_host="devbox.lan")  # type: ignore[arg-type,return-value]
    assert guard.allows("devbox.lan:8888")
    assert guard.allows("DEVBOX.LAN.")
    assert guard.allows("localhost:8888")
    assert not guard.allows("devbox.lan.evil.example")
    assert not guard.allows(None)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server: RunningDevServer) -> None:
    """Only the head of a 200 MB POST goes out; the 413 comes back without the body ever being read."""
    head = (
        f"POST {TOKEN_FUNCTION} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
    ).encode()
    answer = raw_exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert str(MAX_REQUEST_BODY_BYTES).encode() in answer


def test_a_streamed_body_is_refused_as_it_passes_the_limit(server: RunningDevServer) -> None:
    """A chunked body gets its 413 once past the limit, with most of a 200 MB body still unsent."""
    chunk = b"x" * (1024 * 1024)
    chunked = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(
            f"POST {TOKEN_FUNCTION} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        sent = send_until_cut_off(sock, chunked, 200 * 1024 * 1024)
        assert sent < 32 * 1024 * 1024  # the limit plus what the kernel's socket buffers took
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert httpx.get(server.url + TOKEN_FUNCTION).status_code == 200  # still serving


def test_a_body_under_the_limit_reaches_the_function(server: RunningDevServer) -> None:
    answer = httpx.post(server.url + TOKEN_FUNCTION, data={"clientId": "ada"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["clientId"] == "ada"


def test_a_trickled_request_head_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GuardedH11Protocol, "header_timeout_s", 0.5)
    with running_devserver() as server, socket.create_connection(address(server), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        send_until_cut_off(sock, b"X", 80, pause_s=0.05)  # one header byte at a time, never finishing
        assert time.monotonic() - started < 3
        assert httpx.get(server.url).status_code == 200  # a prompt client is still served


@pytest.mark.parametrize("pieces", [1, 7, 1000])
def test_a_request_head_over_the_limit_is_refused_however_it_arrives(
    server: RunningDevServer, pieces: int
) -> None:
    head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {'a' * MAX_HEADER_BYTES}\r\n\r\n".encode()
    with socket.create_connection(address(server), timeout=10) as sock:
        step = -(-len(head) // pieces)
        for start in range(0, len(head), step):
            sock.sendall(head[start : start + step])
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert f"{MAX_HEADER_BYTES}-byte limit".encode() in answer


def test_a_request_head_at_the_limit_is_served(server: RunningDevServer) -> None:
    head = b"GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Padding: \r\n\r\n"
    padded = head.replace(b"X-Padding: ", b"X-Padding: " + b"a" * (MAX_HEADER_BYTES - len(head)))
    assert len(padded) == MAX_HEADER_BYTES
    assert raw_exchange(server, padded).startswith(b"HTTP/1.1 200 ")


def test_websocket_frames_are_capped_at_the_advertised_max_frame_size(server: RunningDevServer) -> None:
    host, port = address(server)
    url = f"ws://{host}:{port}/?key={server.realtime.api_key}&v=6&format=json"
    limit = server.realtime.service.limits.max_frame_size

    async def send_frame(size: int) -> tuple[int, int | None]:
        async with connect(url, max_size=None) as websocket:
            connected = json.loads(await websocket.recv())
            advertised: int = connected["connectionDetails"]["maxFrameSize"]
            heartbeat = json.dumps({"action": 0, "id": "x" * size})
            frame = heartbeat[: -len('"}')][: size - len('"}')] + '"}'
            assert len(frame.encode()) == size
            await websocket.send(frame)
            try:
                await asyncio.wait_for(websocket.recv(), 5)
            except ConnectionClosed as closed:
                return advertised, closed.rcvd.code if closed.rcvd else None
            return advertised, None

    advertised, code = asyncio.run(send_frame(limit + 1))
    assert advertised == limit
    assert code == 1009  # message too big
    assert asyncio.run(send_frame(limit)) == (limit, None)  # a frame at the limit is read and answered

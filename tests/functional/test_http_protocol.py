"""OneWriteHttpToolsProtocol: uvicorn's httptools protocol writing a response's head and body in
one write. Checked on a real uvicorn server over real sockets: the bytes on the wire are one
complete response per request (keep-alive, pipelined, HEAD, 100-continue, streamed, close, 500)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Iterator

import pytest
import uvicorn

from samlite.engine.http import OneWriteHttpToolsProtocol


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("app failed before starting a response")
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"cd"})
        return
    reply = b"echo:" + body if body else b"hello " + path.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(reply)).encode())]})
    await send({"type": "http.response.body", "body": reply})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="critical",
                            http=OneWriteHttpToolsProtocol, ws="none", date_header=False, server_header=False)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(10)


def _read_until(sock: socket.socket, predicate: Any, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not predicate(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_keep_alive_responses_are_complete_and_in_order(port: int) -> None:
    with _connect(port) as s:
        for i in range(3):
            s.sendall(f"GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = _read_until(s, lambda d: d.endswith(f"hello /r{i}".encode()))
            assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 9\r\n" in data


def test_pipelined_requests(port: int) -> None:
    with _connect(port) as s:
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_until(s, lambda d: d.endswith(b"hello /b"))
        assert data.count(b"HTTP/1.1 200 OK") == 2 and data.index(b"hello /a") < data.index(b"hello /b")


def test_head_request_gets_its_head_without_body(port: int) -> None:
    with _connect(port) as s:
        s.sendall(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_until(s, lambda d: d.endswith(b"\r\n\r\n"))
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 8\r\n" in data
        # The connection stays usable after a bodiless response.
        s.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_until(s, lambda d: d.endswith(b"hello /after")).endswith(b"hello /after")


def test_expect_100_continue_is_sent_before_the_body(port: int) -> None:
    with _connect(port) as s:
        s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        interim = _read_until(s, lambda d: d.endswith(b"\r\n\r\n"))
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"xyz")
        assert _read_until(s, lambda d: d.endswith(b"echo:xyz")).startswith(b"HTTP/1.1 200 OK")


def test_streamed_body_is_chunked_and_complete(port: int) -> None:
    with _connect(port) as s:
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_until(s, lambda d: d.endswith(b"0\r\n\r\n"))
        assert b"transfer-encoding: chunked" in data and data.endswith(b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n")


def test_connection_close_sends_the_response_then_closes(port: int) -> None:
    with _connect(port) as s:
        s.sendall(b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = _read_until(s, lambda d: False)  # until EOF
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"hello /c")


def test_app_failure_is_a_500(port: int) -> None:
    with _connect(port) as s:
        s.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_until(s, lambda d: d.endswith(b"Internal Server Error"))
        assert data.startswith(b"HTTP/1.1 500 ")

"""The engine's uvicorn protocols, on a real uvicorn server over real sockets.

OneWriteHttpToolsProtocol writes a response's head and body in one write: the bytes on the wire
are one complete response per request (keep-alive, pipelined, HEAD, 100-continue, streamed,
close, 500). DirectHttpProtocol must behave the same for an ASGI-only app, and its direct lane
(an app with `direct()`) must keep responses in order and fall back to ASGI cleanly. Both close
an idle keep-alive connection after the keep-alive timeout, and only then. DirectHttpProtocol
answers 431 to a request head over API Gateway's 10 KB and closes connections whose head never
completes."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Iterator

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from samlite.core.http import (
    DIRECT_MAX_BODY,
    MAX_HEAD_BYTES,
    DirectHttpProtocol,
    OneWriteHttpToolsProtocol,
    RawRequest,
    http_protocol,
)


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


class DirectApp:
    """The ASGI app above plus a direct lane: /d/* now, /later/* from a loop callback,
    /raise/* raises (-> ASGI), everything else declined."""

    def __init__(self) -> None:
        self.seen: list[RawRequest] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app(scope, receive, send)

    def direct(self, request: RawRequest, respond: Any) -> bool:
        path = request.raw_path
        if path.startswith(b"/raise/"):
            raise RuntimeError("direct lane bug")
        if not path.startswith((b"/d/", b"/later/")):
            return False
        self.seen.append(request)
        body = b"direct:" + path + (b":" + request.body if request.body else b"")
        headers = [(b"content-type", b"text/plain")]
        if path.startswith(b"/later/"):
            asyncio.get_running_loop().call_later(0.05, respond, 200, headers, body)
        else:
            respond(200, headers, body)
        return True


KEEP_ALIVE_S = 1


def _serve(asgi: Any, protocol: Any) -> Iterator[int]:
    config = uvicorn.Config(asgi, host="127.0.0.1", port=0, lifespan="off", log_level="critical",
                            http=protocol, ws="none", date_header=False, server_header=False,
                            timeout_keep_alive=KEEP_ALIVE_S, proxy_headers=False)  # unwrapped: direct() visible
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


@pytest.fixture(scope="module", params=[OneWriteHttpToolsProtocol, DirectHttpProtocol, HttpToolsProtocol],
                ids=["one-write", "direct", "uvicorn-fallback"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    yield from _serve(app, request.param)


@pytest.fixture(scope="module")
def direct_app() -> DirectApp:
    return DirectApp()


@pytest.fixture(scope="module")
def direct_port(direct_app: DirectApp) -> Iterator[int]:
    yield from _serve(direct_app, DirectHttpProtocol)


def _read_until(sock: socket.socket, predicate: Any, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not predicate(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _exchange(sock: socket.socket, request: bytes, ending: bytes) -> bytes:
    """Send `request`; what came back, which must end with `ending`."""
    sock.sendall(request)
    data = _read_until(sock, lambda d: d.endswith(ending))
    assert data.endswith(ending), data
    return data


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_keep_alive_responses_are_complete_and_in_order(port: int) -> None:
    with _connect(port) as s:
        for i in range(3):
            s.sendall(f"GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = _read_until(s, lambda d, i=i: d.endswith(f"hello /r{i}".encode()))
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
        _exchange(s, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n", b"hello /after")


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


# --- keep-alive timeout --------------------------------------------------------------------
def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False


def test_idle_keep_alive_connection_is_closed_after_the_timeout(port: int) -> None:
    with _connect(port) as s:
        s.sendall(b"GET /k HTTP/1.1\r\nHost: x\r\n\r\n")
        _read_until(s, lambda d: d.endswith(b"hello /k"))
        started = time.monotonic()
        assert _closed_by_server(s, KEEP_ALIVE_S + 3)
        assert time.monotonic() - started >= KEEP_ALIVE_S - 0.1


def test_a_connection_in_use_outlives_the_keep_alive_timeout(port: int) -> None:
    with _connect(port) as s:
        for i in range(8):  # 8 requests 0.3 s apart: 2.4 s of use, never 1 s idle
            s.sendall(f"GET /u{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert _read_until(s, lambda d, i=i: d.endswith(f"hello /u{i}".encode())).endswith(f"hello /u{i}".encode())
            time.sleep(0.3)


# --- the direct lane -----------------------------------------------------------------------
def test_direct_lane_answers_in_one_complete_response(direct_port: int, direct_app: DirectApp) -> None:
    with _connect(direct_port) as s:
        for i in range(3):
            s.sendall(f"GET /d/{i}?q=1 HTTP/1.1\r\nHost: x\r\nX-Test: v\r\n\r\n".encode())
            data = _read_until(s, lambda d, i=i: d.endswith(f"direct:/d/{i}".encode()))
            assert data == (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n"
                            b"direct:/d/%d" % (len(f"direct:/d/{i}"), i))
    request = direct_app.seen[-1]
    assert (request.method, request.raw_path, request.query_string) == ("GET", b"/d/2", b"q=1")
    assert (b"x-test", b"v") in request.headers and request.http_version == "1.1"


def test_direct_lane_gets_small_bodies_and_declines_big_or_chunked_ones(direct_port: int) -> None:
    with _connect(direct_port) as s:
        _exchange(s, b"POST /d/b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", b"direct:/d/b:abc")
        # Chunked: the ASGI app answers (echo), not the direct lane.
        chunked = b"POST /d/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
        _exchange(s, chunked, b"echo:xyz")
        big = b"z" * (DIRECT_MAX_BODY + 1)
        s.sendall(b"POST /d/big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        assert _read_until(s, lambda d: d.endswith(b"echo:" + big)).endswith(b"echo:" + big)


def test_pipelined_direct_and_asgi_requests_answer_in_order(direct_port: int) -> None:
    with _connect(direct_port) as s:
        # /later answers from a callback 50 ms on: the requests behind it wait, through ASGI.
        s.sendall(b"GET /later/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /asgi HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /d/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_until(s, lambda d: d.count(b"HTTP/1.1 200 OK") == 3 and d.endswith(b"hello /d/3"))
        assert data.index(b"direct:/later/1") < data.index(b"hello /asgi") < data.index(b"hello /d/3")
        # Once idle again, the connection is back on the direct lane.
        _exchange(s, b"GET /d/4 HTTP/1.1\r\nHost: x\r\n\r\n", b"direct:/d/4")


def test_direct_lane_leaves_head_to_asgi_and_survives_a_failing_app(direct_port: int) -> None:
    with _connect(direct_port) as s:
        s.sendall(b"HEAD /d/h HTTP/1.1\r\nHost: x\r\n\r\n")
        head = _read_until(s, lambda d: d.endswith(b"\r\n\r\n"))
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 10\r\n" in head  # "hello /d/h" from ASGI
        _exchange(s, b"GET /raise/x HTTP/1.1\r\nHost: x\r\n\r\n", b"hello /raise/x")


def test_direct_lane_honours_connection_close_and_http_1_0(direct_port: int) -> None:
    for request in (b"GET /d/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"GET /d/c HTTP/1.0\r\n\r\n"):
        with _connect(direct_port) as s:
            s.sendall(request)
            data = _read_until(s, lambda d: False)  # until the server closes
            assert b"connection: close\r\n" in data and data.endswith(b"direct:/d/c")


def test_the_direct_lane_is_used_with_this_uvicorn() -> None:
    assert http_protocol() is DirectHttpProtocol


def test_an_unknown_uvicorn_layout_falls_back_to_uvicorns_own_protocol(caplog: pytest.LogCaptureFixture) -> None:
    class Renamed(HttpToolsProtocol):
        _start_asgi_task = None  # as if a newer uvicorn had renamed it

    assert http_protocol(Renamed) is Renamed
    assert "_start_asgi_task" in caplog.text and "direct lane is off" in caplog.text


# --- bounded request heads (DirectHttpProtocol) ----------------------------------------------
HEADER_TIMEOUT_S = 0.5


class QuickHeaderTimeout(DirectHttpProtocol):
    header_timeout_s = HEADER_TIMEOUT_S


@pytest.fixture(scope="module")
def quick_port(direct_app: DirectApp) -> Iterator[int]:
    yield from _serve(direct_app, QuickHeaderTimeout)


def _is_431_then_closed(sock: socket.socket) -> bool:
    data = _read_until(sock, lambda d: False, timeout=10)  # until the server closes
    return data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n") and b"connection: close" in data


@pytest.mark.parametrize("path", [b"/d/big-head", b"/asgi/big-head"], ids=["direct", "asgi"])
def test_a_head_over_10_kb_is_431(direct_port: int, path: bytes) -> None:
    with _connect(direct_port) as s:
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n")
        assert _is_431_then_closed(s)


def test_twenty_thousand_headers_are_431(direct_port: int) -> None:
    with _connect(direct_port) as s:
        s.sendall(b"GET /d/many HTTP/1.1\r\nHost: x\r\n" + b"".join(b"h%d: v\r\n" % i for i in range(20_000))
                  + b"\r\n")
        assert _is_431_then_closed(s)


def test_an_endless_header_is_cut_off_without_waiting_for_its_end(direct_port: int) -> None:
    with _connect(direct_port) as s:
        s.sendall(b"GET /d/endless HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        try:
            for _ in range(32):  # 2 MB of one header that never ends
                s.sendall(b"b" * 65536)
        except OSError:
            pass  # the server answered, then closed while the header was still coming
        assert _is_431_then_closed(s)


def test_heads_under_the_limit_and_pipelined_or_big_bodies_are_served(direct_port: int) -> None:
    with _connect(direct_port) as s:
        filler = b"c" * (MAX_HEAD_BYTES - 200)
        _exchange(s, b"GET /d/near HTTP/1.1\r\nHost: x\r\nX-Near: " + filler + b"\r\n\r\n", b"direct:/d/near")
        # 300 pipelined requests in one write: far more than 10 KB, but no head is.
        s.sendall(b"".join(b"GET /d/p%d HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n" % (i, b"p" * 100)
                           for i in range(300)))
        data = _read_until(s, lambda d: d.endswith(b"direct:/d/p299"))
        assert data.count(b"HTTP/1.1 200 OK") == 300
        body = b"z" * (MAX_HEAD_BYTES * 5)  # a body in the same write as its head
        _exchange(s, b"POST /d/body HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
                  b"direct:/d/body:" + body)


def test_connections_that_never_finish_their_head_are_closed(quick_port: int) -> None:
    idle = [_connect(quick_port) for _ in range(20)]  # never send a byte
    slow = [_connect(quick_port) for _ in range(20)]  # a byte every 0.1 s, never the end of the head
    for s in slow:
        s.sendall(b"GET /d/slow HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        closed: set[socket.socket] = set()
        deadline = time.monotonic() + 20
        while len(closed) < 40 and time.monotonic() < deadline:
            for s in slow:
                if s not in closed:
                    try:
                        s.sendall(b"s")
                    except OSError:
                        closed.add(s)
            for s in idle + slow:
                if s not in closed and _closed_or_answered(s):
                    closed.add(s)
            time.sleep(0.1)
        assert len(closed) == 40
        # A connection that keeps sending complete requests is not a slow head.
        with _connect(quick_port) as busy:
            for i in range(int(HEADER_TIMEOUT_S * 3 / 0.1)):
                _exchange(busy, f"GET /d/b{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), f"direct:/d/b{i}".encode())
                time.sleep(0.1)
    finally:
        for s in idle + slow:
            s.close()


def _closed_or_answered(sock: socket.socket) -> bool:
    """The server closed the connection (a slow head may first get its 408)."""
    sock.settimeout(0.001)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        return False
    except OSError:
        return True
    if data:
        assert data.startswith(b"HTTP/1.1 408 Request Timeout")
        return _closed_by_server(sock, 5)
    return True

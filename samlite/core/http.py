"""A thin request/response layer over raw ASGI, shared by the gateway, the AWS endpoint and the
control channel. uvicorn (httptools) does the HTTP parsing; this only reads bodies with a size
cap and writes complete responses, so no framework sits on the hot path.

`OneWriteHttpToolsProtocol` is uvicorn's httptools protocol with one change: a response's head
is written together with its body, so a small response is one send() instead of two.

`DirectHttpProtocol` adds a direct lane for the gateway: a complete, small request is offered
to the app's `direct()` before any ASGI scope, cycle or task exists; what the app declines
(or cannot answer from callbacks) takes uvicorn's ASGI path unchanged."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

import httptools
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

logger = logging.getLogger("samlite.engine")

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit; the AWS endpoint uses the same cap


class BodyTooLarge(Exception):
    pass


@dataclass
class Request:
    method: str
    path: str  # percent-decoded by uvicorn
    raw_path: bytes
    query_string: bytes
    headers: list[tuple[str, str]]  # names as sent (latin-1 decoded); uvicorn lowercases them
    body: bytes
    client: tuple[str, int] | None
    scheme: str = "http"
    http_version: str = "1.1"
    _lower: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        if not self._lower:
            for key, value in self.headers:
                lk = key.lower()
                self._lower[lk] = f"{self._lower[lk]},{value}" if lk in self._lower else value
        return self._lower.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


async def read_body(headers: list[tuple[str, str]], receive: Receive, limit: int = MAX_BODY,
                    on_chunk: Callable[[bytes], None] | None = None) -> bytes:
    """The request body; BodyTooLarge past `limit`, without buffering the rest. With `on_chunk`,
    each piece goes to it as it arrives instead (a large body can be stored while the rest is
    still coming), and b"" is returned. A client that disconnects early leaves a shorter body
    than its Content-Length."""
    declared = next((v for k, v in headers if k.lower() == "content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            if on_chunk is None:
                chunks.append(chunk)
            else:
                on_chunk(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_request(scope: Scope, receive: Receive, max_body: int = MAX_BODY) -> Request:
    """The request with its whole body (see `read_body`)."""
    request = request_head(scope)
    request.body = await read_body(request.headers, receive, max_body)
    return request


def request_head(scope: Scope) -> Request:
    """The request without its body: enough to route it before the body is read."""
    return Request(
        method=scope["method"],
        path=scope["path"],
        raw_path=scope.get("raw_path") or scope["path"].encode(),
        query_string=scope.get("query_string", b""),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])],
        body=b"",
        client=scope.get("client"),
        scheme=scope.get("scheme", "http"),
        http_version=scope.get("http_version", "1.1"),
    )


async def respond(
    send: Send,
    status: int,
    body: bytes | str = b"",
    headers: Iterable[tuple[str, str]] = (),
    content_type: str | None = None,
) -> None:
    if isinstance(body, str):
        body = body.encode()
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if content_type:
        raw.append((b"content-type", content_type.encode("latin-1")))
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
    await respond(send, status, json.dumps(data), headers, "application/json")


# --- one write per response --------------------------------------------------------------------
JOIN_MAX = 64 * 1024  # a larger body is written after its head, not joined to it


class _JoinedWrites:
    """The connection's transport as one response cycle sees it. uvicorn writes the head when the
    app sends `http.response.start` and the body on `http.response.body`; uvloop sends each write
    at once, so a small response left as two TCP segments and woke the client twice. Here the
    head waits for the first body write (or for close / the end of the response, e.g. HEAD), and
    both leave in one write. Everything else (100-continue, is_closing) passes straight through."""

    __slots__ = ("transport", "cycle", "head", "head_seen", "on_response")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self.transport = transport
        self.cycle = cycle
        self.head: bytes | None = None
        self.head_seen = False
        self.on_response = cycle.on_response

    def write(self, data: bytes) -> None:
        if not self.head_seen and self.cycle.response_started:
            # The first write after the response started is its head (uvicorn writes it then).
            self.head_seen = True
            self.head = data
            return
        if self.head is not None:
            if len(data) > JOIN_MAX:  # joining would copy a large body; two writes cost less
                self.transport.write(self.head)
            else:
                data = self.head + data
            self.head = None
        self.transport.write(data)

    def flush(self) -> None:
        if self.head is not None:
            self.transport.write(self.head)
            self.head = None

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def response_done(self) -> None:
        """The cycle's on_response: a response without body writes (HEAD) still sends its head."""
        self.flush()
        self.on_response()


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response's head and body in one write."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # A new cycle was made. The getattr guards keep plain uvicorn behaviour should a future
        # uvicorn rename the cycle internals this relies on (tests/functional/test_http_protocol.py).
        if (cycle is not None and getattr(cycle, "transport", None) is self.transport
                and hasattr(cycle, "on_response") and hasattr(cycle, "response_started")):
            joined = _JoinedWrites(self.transport, cycle)
            cycle.transport = joined  # type: ignore[assignment]
            cycle.on_response = joined.response_done


# --- the direct lane ---------------------------------------------------------------------------
DIRECT_MAX_BODY = 1024 * 1024  # larger (or chunked) bodies stream through ASGI with its limits
# API Gateway's limit on the request line plus headers; above it, 431. httptools has no limit of
# its own, so a 1 MB header or 20,000 headers were accepted.
MAX_HEAD_BYTES = 10 * 1024
# A request's head must arrive within this (checked once per interval, so it is closed after one
# to two intervals): slow or idle connections that never finish their headers are closed.
HEADER_TIMEOUT_S = 10.0
LINGER_S = 1.0  # how long a refused request's connection still reads (and drops) before closing
_HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                   b"content-length: 46\r\nconnection: close\r\n\r\n"
                   b'{"message":"Request Header Fields Too Large"}\n')
_HEAD_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                 b"content-length: 30\r\nconnection: close\r\n\r\n"
                 b'{"message":"Request Timeout"}\n')


class _HeadTooLarge(Exception):
    pass


RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class RawRequest:
    method: str
    raw_path: bytes  # as sent, percent-encoding kept, without the query
    query_string: bytes
    headers: RawHeaders  # names lowercased by uvicorn's on_header
    body: bytes
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    http_version: str


DirectRespond = Callable[[int, RawHeaders, bytes], None]


class _Noop:
    def set(self) -> None:
        pass


class _DirectCycle:
    """What uvicorn's protocol looks at on `self.cycle` while a direct response is pending
    (pipelining, shutdown, connection loss)."""

    __slots__ = ("keep_alive", "response_complete", "disconnected")
    message_event = _Noop()

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.response_complete = False
        self.disconnected = False


class LazyKeepAliveProtocol(OneWriteHttpToolsProtocol):
    """uvicorn re-arms a keep-alive timer after every response and cancels it on every request:
    two timer handles per request. Here one timer per connection checks, when it fires, how
    long the connection has really been idle, and re-arms for the rest."""

    _idle_since: float | None = None

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # a request is arriving or in flight; the timer stays armed

    def on_response_complete(self) -> None:
        # uvicorn's on_response_complete, with the lazy timer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._keep_alive_check)

    def _keep_alive_check(self) -> None:
        self.timeout_keep_alive_task = None
        if self.transport.is_closing() or self._idle_since is None:
            return  # closed, or busy: the next response re-arms
        remaining = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if remaining <= 0.001:
            self.timeout_keep_alive_handler()
        else:
            self.timeout_keep_alive_task = self.loop.call_later(remaining, self._keep_alive_check)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None


class DirectHttpProtocol(LazyKeepAliveProtocol):
    """uvicorn's protocol with the direct lane in front of ASGI (see the module doc).

    A request qualifies when nothing else is in flight on the connection, it is not HEAD, an
    upgrade or `Expect: 100-continue`, and its body has a Content-Length of at most
    DIRECT_MAX_BODY. Its headers are not turned into a scope until the message is complete;
    a declined request then goes through uvicorn's own `on_headers_complete` and
    `on_message_complete`, so the ASGI path sees exactly what it always saw.

    The app's side: `app.direct(request, respond) -> bool` answers through `respond(status,
    headers, body)`, now or from a later loop callback, and returns True; or returns False,
    having done nothing, to leave the request to ASGI. Headers given to `respond` must be valid
    (the gateway filters what functions return); content-length and connection are added here.

    Request heads are bounded (MAX_HEAD_BYTES, HEADER_TIMEOUT_S) at the cost of a few counters
    per request: bytes are counted per received chunk, and headers are measured exactly only
    when the chunks holding them were bigger than the limit."""

    header_timeout_s = HEADER_TIMEOUT_S
    _lane: bytearray | None = None
    _received = 0  # size of the chunk being parsed
    _head_bytes = 0  # bytes received since the chunk the pending head began in (an upper bound)
    _head_slack = 0  # the part of _head_bytes from that first chunk
    _head_pending = True  # a request's head has begun (or the connection is new) and is incomplete
    _heads = 0  # heads begun on this connection
    _heads_checked = -1  # _heads at the last timer check
    _head_timer: asyncio.TimerHandle | None = None
    _head_too_large = False
    _discarding = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_check)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        self._received = len(data)
        self._head_bytes += self._received
        super().data_received(data)  # uvicorn answers parser errors (a 431 via send_400_response)
        # Still incomplete and more than the limit arrived after the chunk it began in: never
        # buffer an endless head.
        if self._head_pending and self._head_bytes - self._head_slack > MAX_HEAD_BYTES \
                and not self.transport.is_closing():
            self._close_with(_HEAD_TOO_LARGE)

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:  # raised from on_headers_complete
            self._close_with(_HEAD_TOO_LARGE)
        else:
            super().send_400_response(msg)

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers or ())

    def _close_with(self, response: bytes) -> None:
        """Answer, then close in a moment: closing with the client's bytes unread would reset the
        connection, and the client could lose the answer. Until then what it sends is dropped."""
        self._discarding = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)

    def _head_check(self) -> None:
        """Close a connection whose same head was pending at the last check too."""
        self._head_timer = None
        if self.transport.is_closing() or self._discarding:
            return
        if self._head_pending and self._heads == self._heads_checked:
            if self._head_bytes:
                self._close_with(_HEAD_TIMEOUT)
            else:
                self.transport.close()  # never sent a byte
            return
        self._heads_checked = self._heads
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_check)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def on_message_begin(self) -> None:
        # uvicorn's own on_message_begin also builds the ASGI scope: deferred to `_to_asgi`.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._lane = None
        self._head_pending = True
        self._heads += 1
        self._head_bytes = self._head_slack = self._received

    def on_headers_complete(self) -> None:
        self._head_pending = False
        if self._head_bytes > MAX_HEAD_BYTES and self._head_size() > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise _HeadTooLarge()  # the parser stops; uvicorn calls send_400_response
        self._head_bytes = 0
        if self._direct_candidate():
            self._lane = bytearray()
            return
        self._to_asgi()

    def _to_asgi(self) -> None:
        """uvicorn's on_message_begin and on_headers_complete, run late for this request."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.expect_100_continue = url, expect
        self.headers.extend(headers)  # the list the new scope holds
        super().on_headers_complete()

    def _direct_candidate(self) -> bool:
        if not hasattr(self.app, "direct") or (self.cycle is not None and not self.cycle.response_complete):
            return False
        if self.expect_100_continue or self.parser.get_method() == b"HEAD" or self.parser.should_upgrade():
            return False
        for name, value in self.headers:
            if name == b"transfer-encoding":
                return False
            if name == b"content-length" and (not value.isdigit() or int(value) > DIRECT_MAX_BODY):
                return False
        return True

    def on_body(self, body: bytes) -> None:
        if self._lane is None:
            super().on_body(body)
        else:
            self._lane += body

    def on_message_complete(self) -> None:
        lane = self._lane
        if lane is None:
            super().on_message_complete()
            return
        self._lane = None
        parsed = httptools.parse_url(self.url)
        version = self.parser.get_http_version()
        request = RawRequest(self.parser.get_method().decode("ascii"), parsed.path, parsed.query or b"",
                             self.headers, bytes(lane), self.client, self.server, version)
        previous = self.cycle
        cycle = _DirectCycle(version != "1.0" and self.parser.should_keep_alive())
        self.cycle = cycle  # type: ignore[assignment]  # duck-types the parts of uvicorn's cycle it reads
        try:
            taken = self.app.direct(request, lambda status, headers, body: self._respond(cycle, status, headers, body))
        except Exception:  # the ASGI path answers instead, unless an answer went out
            logger.exception("direct lane failed; serving through ASGI")
            taken = cycle.response_complete
        if taken:
            return
        self.cycle = previous
        self._to_asgi()
        if lane:
            self.cycle.body += lane
        super().on_message_complete()

    def _respond(self, cycle: _DirectCycle, status: int, headers: RawHeaders, body: bytes) -> None:
        if cycle.response_complete:
            return
        cycle.response_complete = True
        if cycle.disconnected or self.transport.is_closing():
            return
        head = [STATUS_LINE[status]]
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        head.append(b"content-length: %d\r\n" % len(body))
        if not cycle.keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        head.append(body)
        self.transport.write(b"".join(head))
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()


# uvicorn's internals the protocols above override or call. They are not public API, so
# pyproject.toml bounds uvicorn's version, and `http_protocol()` checks them at start-up.
UVICORN_INTERNALS = ("_start_asgi_task", "_unset_keepalive_if_required", "on_response_complete",
                     "timeout_keep_alive_handler", "on_message_begin", "on_headers_complete",
                     "on_message_complete", "on_body", "connection_lost", "connection_made", "data_received",
                     "send_400_response")


def http_protocol(base: type = HttpToolsProtocol) -> type:
    """DirectHttpProtocol when this uvicorn has the internals it builds on; otherwise uvicorn's
    own httptools protocol: every request then takes the ASGI lane, slower but the same answers."""
    missing = [name for name in UVICORN_INTERNALS if not callable(getattr(base, name, None))]
    if missing:
        logger.warning("uvicorn's HTTP protocol lacks %s: the gateway's direct lane is off", ", ".join(missing))
        return base
    return DirectHttpProtocol

"""A thin request/response layer over raw ASGI, shared by the gateway, the AWS endpoint and the
control channel. uvicorn (httptools) does the HTTP parsing; this only reads bodies with a size
cap and writes complete responses, so no framework sits on the hot path.

`OneWriteHttpToolsProtocol` is uvicorn's httptools protocol with one change: a response's head
is written together with its body, so a small response is one send() instead of two."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

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


async def read_request(scope: Scope, receive: Receive, max_body: int = MAX_BODY) -> Request:
    """Read the whole body; raise BodyTooLarge past `max_body` without buffering the rest."""
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
    declared = next((v for k, v in headers if k.lower() == "content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > max_body:
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
            if size > max_body:
                raise BodyTooLarge()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return Request(
        method=scope["method"],
        path=scope["path"],
        raw_path=scope.get("raw_path") or scope["path"].encode(),
        query_string=scope.get("query_string", b""),
        headers=headers,
        body=b"".join(chunks),
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
            data, self.head = self.head + data, None
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

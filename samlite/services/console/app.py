"""The console's HTTP side: an ASGI app for everything under `/_samlite/` on the gateway port.

The gateway hands it that prefix before any API routing (one prefix check). Every request passes
`auth.allowed` first (token, plus the same-origin proof for changes), then goes to a static file,
a JSON endpoint (`/api/...`) or the live stream (`/api/live`, server-sent events). All function
output reaches the page as JSON and is written there with `textContent`; the Content-Security-
Policy allows no inline script, so a `<script>` in a log line stays text twice over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from importlib import resources
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, quote

from samlite.core.http import BodyTooLarge, Receive, Scope, Send, read_body
from samlite.errors import NotFoundError, UsageError
from samlite.services.console import auth
from samlite.services.console.views import ConsoleViews, Download, TooLarge

log = logging.getLogger("samlite.engine")

PREFIX = "/_samlite/console"
TICK_S = 0.75  # live updates reach the page at most this late (plus one query): ≤ 1 s
KEEPALIVE_S = 15.0
# At most this many log lines and invocations per tick: a page cannot show more, and a busy
# function must not make an open page cost the engine more than a few percent.
LIVE_LOG_LINES = 100
LIVE_INVOCATIONS = 50
INVOKE_MAX_BODY = 6 * 1024 * 1024 + 1024  # Lambda's synchronous payload limit (invoke answers 400 above 6 MB)
MAX_BODY = 1024 * 1024
STATIC = {"index.html": "text/html; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
          "console.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
                                " img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
FORBIDDEN = {"error": "forbidden: open the console with the URL `samlite console` prints (it carries the token);"
                      " changes must come from the console's own page"}

Handler = Callable[..., Awaitable[Any]]


class ConsoleApp:
    def __init__(self, views: ConsoleViews, token: str, port: int, stopping: asyncio.Event) -> None:
        self.views = views
        self.token = token
        self.port = port
        self.stopping = stopping
        files = resources.files("samlite.services.console") / "static"
        self.static = {name: (files / name).read_bytes() for name in STATIC}
        v = views
        # (method, path pattern) -> handler(match groups..., query=..., body=...)
        self.routes: list[tuple[str, re.Pattern[str], Handler, int]] = [
            ("GET", re.compile(r"/api/overview"), _sync(lambda q, b: v.overview()), 0),
            ("GET", re.compile(r"/api/stacks"), _sync(lambda q, b: v.stacks()), 0),
            ("GET", re.compile(r"/api/samples"), _sync(lambda q, b: v.samples()), 0),
            ("GET", re.compile(r"/api/async"), _sync(lambda q, b: v.async_events()), 0),
            ("GET", re.compile(r"/api/functions/([^/]+)"), _sync(lambda n, q, b: v.function(n)), 0),
            ("GET", re.compile(r"/api/functions/([^/]+)/charts"),
             _sync(lambda n, q, b: v.charts(v.function_name(n))), 0),
            ("GET", re.compile(r"/api/functions/([^/]+)/logs"),
             _sync(lambda n, q, b: v.log_events(v.function_name(n), _int(q, "after"))), 0),
            ("POST", re.compile(r"/api/functions/([^/]+)/invoke"), lambda n, q, b: v.invoke(n, b), INVOKE_MAX_BODY),
            ("GET", re.compile(r"/api/queues/([^/]+)"), _sync(lambda n, q, b: v.queue(n)), 0),
            ("GET", re.compile(r"/api/queues/([^/]+)/messages"),
             _sync(lambda n, q, b: v.peek(n, _int(q, "limit") or 10)), 0),
            ("POST", re.compile(r"/api/queues/([^/]+)/send"),
             _sync(lambda n, q, b: v.send(n, _obj(b).get("body"), _obj(b).get("group_id"))), MAX_BODY),
            ("POST", re.compile(r"/api/queues/([^/]+)/purge"), _sync(lambda n, q, b: v.purge(n)), MAX_BODY),
            ("POST", re.compile(r"/api/queues/([^/]+)/redrive"),
             lambda n, q, b: v.redrive(n, _obj(b).get("source")), MAX_BODY),
            # Durable executions: ARNs hold '/', so they travel in the query string or the body.
            ("GET", re.compile(r"/api/executions"), lambda q, b: v.executions(_str(q, "function"), _int(q, "limit")), 0),
            ("GET", re.compile(r"/api/executions/history"), lambda q, b: v.execution(_str(q, "arn")), 0),
            ("POST", re.compile(r"/api/executions/fire"), lambda q, b: v.fire(_obj(b).get("arn")), MAX_BODY),
            # Data (the moto backend), read-only: names and keys travel in the query string.
            ("GET", re.compile(r"/api/data"), lambda q, b: v.data(), 0),
            ("GET", re.compile(r"/api/data/buckets/([^/]+)"), lambda n, q, b: v.bucket(n, _str(q, "prefix")), 0),
            ("GET", re.compile(r"/api/data/buckets/([^/]+)/object"),
             lambda n, q, b: v.download(n, _str(q, "key")), 0),
            ("GET", re.compile(r"/api/data/tables/([^/]+)"), lambda n, q, b: v.table(n), 0),
            ("GET", re.compile(r"/api/data/secret"), lambda q, b: v.secret(_str(q, "name")), 0),
            ("GET", re.compile(r"/api/data/parameter"), lambda q, b: v.parameter(_str(q, "name")), 0),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._serve(scope, receive, send)
        except Exception:  # answer, never drop the connection
            log.exception("console error serving %s %s", scope.get("method"), scope.get("path"))
            try:
                await _json(send, 500, {"error": "internal error (see engine.log)"})
            except RuntimeError:
                pass  # the response had started (a live stream)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await _json(send, 404, {"error": f"nothing at {path}"})
            return
        sub = path[len(PREFIX):]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = auth.query_token(scope.get("query_string", b""))
        if method == "GET" and offered is not None:
            await self._trade_token(send, offered, sub)
            return
        if not auth.allowed(method, headers, self.port, self.token):
            await _json(send, 403, FORBIDDEN)
            return
        if sub in ("", "/"):
            if sub == "":
                await _redirect(send, PREFIX + "/")
                return
            await self._static(send, "index.html")
            return
        if sub.startswith("/static/"):
            await self._static(send, sub[len("/static/"):])
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if sub == "/api/live" and method == "GET":
            await self._live(receive, send, query)
            return
        await self._api(method, sub, query, headers, receive, send)

    async def _trade_token(self, send: Send, offered: str, sub: str) -> None:
        """A visit with `?token=`: set the cookie and drop the token from the address bar."""
        if not auth._same(offered, self.token):
            await _json(send, 403, FORBIDDEN)
            return
        cookie = (f"{auth.cookie_name(self.port)}={self.token}; Path={PREFIX}/; HttpOnly; SameSite=Strict")
        await _redirect(send, PREFIX + (sub if sub not in ("", "/") else "/"), [("Set-Cookie", cookie)])

    async def _static(self, send: Send, name: str) -> None:
        body = self.static.get(name)
        if body is None:
            await _json(send, 404, {"error": f"no static file {name!r}"})
            return
        await _respond(send, 200, body, STATIC[name])

    async def _api(self, method: str, sub: str, query: dict[str, list[str]], headers: dict[str, str],
                   receive: Receive, send: Send) -> None:
        allowed_methods = set()
        for verb, pattern, handler, limit in self.routes:
            match = pattern.fullmatch(sub)
            if match is None:
                continue
            allowed_methods.add(verb)
            if verb != method:
                continue
            try:
                body = await read_body(list(headers.items()), receive, limit) if limit else b""
                result = await handler(*match.groups(), query, body)
            except BodyTooLarge:
                await _json(send, 413, {"error": f"the request body is larger than {limit} bytes"})
                return
            except NotFoundError as exc:
                await _json(send, 404, {"error": exc.message})
                return
            except TooLarge as exc:
                await _json(send, 413, {"error": exc.message})
                return
            except UsageError as exc:
                await _json(send, 400, {"error": exc.message})
                return
            if isinstance(result, Download):
                await _respond(send, 200, result.body, "application/octet-stream",
                               [("Content-Disposition", _attachment(result.filename))])
                return
            await _json(send, 200, result)
            return
        if allowed_methods:
            await _json(send, 405, {"error": f"{method} is not allowed here"}, [("Allow", ", ".join(sorted(allowed_methods)))])
        else:
            await _json(send, 404, {"error": f"no console endpoint {sub}"})

    async def _live(self, receive: Receive, send: Send, query: dict[str, list[str]]) -> None:
        """Server-sent events: `pulse` (queue counts, cursors), and for ?function=NAME its new
        `invocations` and `logs`. Ends when the page goes away or the engine stops."""
        views = self.views
        function = next(iter(query.get("function") or []), None)
        if function is not None:
            try:
                function = views.function_name(function)
            except (NotFoundError, UsageError) as exc:
                await _json(send, 404, {"error": exc.message})
                return
        metrics_after = _int(query, "metrics_after")
        log_after = _int(query, "log_after")
        if metrics_after is None:
            metrics_after = views.pulse()["metrics_id"]
        if log_after is None:
            log_after = views.logs.last_id()
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream"), (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff")]})
        try:
            await _event(send, None, "open")
            last_pulse = ""
            quiet_s = 0.0
            while not gone.is_set() and not self.stopping.is_set():
                pulse = views.pulse()
                key = json.dumps({k: pulse[k] for k in ("queues", "metrics_id", "async")})
                if key != last_pulse:
                    last_pulse = key
                    await _event(send, "pulse", pulse)
                    quiet_s = 0.0
                if function is not None:
                    rows, metrics_after = views.new_invocations(function, metrics_after, LIVE_INVOCATIONS)
                    if rows:
                        await _event(send, "invocations", rows)
                    lines = views.log_events(function, log_after, LIVE_LOG_LINES)
                    if lines:
                        log_after = lines[-1]["id"]
                        await _event(send, "logs", lines)
                    if len(lines) == LIVE_LOG_LINES:  # too fast to read: jump to now, say so
                        newest = views.logs.last_id()
                        if newest > log_after:
                            await _event(send, "skipped", {"from_id": log_after, "to_id": newest})
                            log_after = newest
                quiet_s += TICK_S
                if quiet_s >= KEEPALIVE_S:
                    await _event(send, None, "keepalive")
                    quiet_s = 0.0
                try:
                    await asyncio.wait_for(gone.wait(), TICK_S)
                except asyncio.TimeoutError:
                    pass
        finally:
            watcher.cancel()
            if not gone.is_set():
                try:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                except Exception:  # noqa: BLE001 - the connection is already gone
                    pass


# --- helpers ---------------------------------------------------------------------------------
def _sync(fn: Callable[..., Any]) -> Handler:
    async def call(*args: Any) -> Any:
        return fn(*args)
    return call


def _int(query: dict[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        raise UsageError(f"{name} must be an integer, got {values[0]!r}") from None


def _str(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _attachment(filename: str) -> str:
    """A Content-Disposition that always downloads: an ASCII fallback name plus the UTF-8 one."""
    ascii_name = re.sub(r'[^A-Za-z0-9._-]', "_", filename)[:200] or "object"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _obj(body: bytes) -> dict[str, Any]:
    """A JSON object request body ({} when empty); UsageError when it is not one."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise UsageError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("the request body must be a JSON object")
    return value


async def _event(send: Send, name: str | None, data: Any) -> None:
    if name is None:
        chunk = f": {data}\n\n"
    else:
        chunk = f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
    await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})


async def _respond(send: Send, status: int, body: bytes, content_type: str,
                   extra: list[tuple[str, str]] | None = None) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in [*SECURITY_HEADERS, *(extra or [])]]
    headers += [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, data: Any, extra: list[tuple[str, str]] | None = None) -> None:
    await _respond(send, status, json.dumps(data).encode(), "application/json", extra)


async def _redirect(send: Send, location: str, extra: list[tuple[str, str]] | None = None) -> None:
    await _respond(send, 303, b"", "text/plain", [("Location", location), *(extra or [])])

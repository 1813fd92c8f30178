"""The Lambda Runtime API (2018-06-01), served per execution environment for nodejs* and provided*.

A custom runtime (a `bootstrap` executable, awslambdaric, the shipped Node bootstrap) finds the
API in AWS_LAMBDA_RUNTIME_API and loops: `GET .../invocation/next` blocks until the engine hands
it an event; `POST .../invocation/{id}/response` or `.../{id}/error` ends the invocation;
`POST .../init/error` reports a failed init. Status codes and error bodies follow AWS (and its
runtime interface emulator): 202 {"status":"OK"}, 400 InvalidRequestID, 403 InvalidStateTransition,
413 RequestEntityTooLarge.

One uvicorn (httptools) protocol/app is shared, but every environment gets its own listening
socket on 127.0.0.1:<port>; the app maps the local port a request arrived on to its environment,
so an environment only ever talks to its own API. `RuntimeApiEnvironment` is the second kind of
environment in workers.py: the invoke service drives it exactly like a Python worker (send_invoke
-> a Reply future), so limits, logs, metrics, timeouts and memory limits are the same code.

Output: the process's stdout/stderr (a pipe) become log events line by line; the Node bootstrap
writes each console.* call as one framed event to _LAMBDA_TELEMETRY_LOG_FD as Lambda's managed
runtimes do (multi-line messages stay one event). Both pipes are drained before an invocation's
result is accepted, so no line of an invocation lands after its END.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.server import ServerState

from samlite.config import Settings
from samlite.core.http import BodyTooLarge, Receive, Scope, Send, read_request
from samlite.core.runtime import FunctionSpec
from samlite.core.runtime import protocol as proto
from samlite.core.runtime.interpreters import node_bootstrap_path
from samlite.core.runtime.node_sdk import NODE_SDK_MIN_MAJOR, link_for_esm, node_sdk_root
from samlite.core.runtime.streaming import UNCAPPED_BYTES, ResponseSink
from samlite.core.runtime.workers import (
    Environment,
    Reply,
    _make_cgroup,
    _rss_kb,
    build_environment,
)

if TYPE_CHECKING:
    from samlite.core.runtime.workers import Workers


PREFIX = "/2018-06-01/runtime/"
TELEMETRY_HEADER = struct.Struct(">IIQ")  # frame type, payload length, timestamp (µs)
_OK = json.dumps({"status": "OK"}).encode()
_JSON = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Invocation:
    request_id: str
    headers: list[tuple[bytes, bytes]]
    payload: bytes


class _NoEntrypoint(Exception):
    """The runtime cannot even start: Runtime.InvalidEntrypoint as Lambda reports it."""


# --- output readers -----------------------------------------------------------------------------


class _OutputReader:
    """A non-blocking pipe read with loop.add_reader, so drain() can empty it synchronously."""

    def __init__(self, env: RuntimeApiEnvironment, fd: int, framed: bool) -> None:
        self.env = env
        self.fd = fd
        self.framed = framed
        self.buf = b""
        self.open = True
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self.drain)

    def drain(self) -> None:
        while self.open:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            self.buf += data
            self._split()

    def _split(self) -> None:
        if self.framed:
            while len(self.buf) >= TELEMETRY_HEADER.size:
                _kind, size, _ts = TELEMETRY_HEADER.unpack_from(self.buf)
                end = TELEMETRY_HEADER.size + size
                if len(self.buf) < end:
                    return
                text = self.buf[TELEMETRY_HEADER.size:end].decode("utf-8", "replace")
                self.buf = self.buf[end:]
                self.env.output(text[:-1] if text.endswith("\n") else text)
        elif b"\n" in self.buf:
            *lines, self.buf = self.buf.split(b"\n")
            for line in lines:
                self.env.output(line.decode("utf-8", "replace"))

    def close(self) -> None:
        if not self.open:
            return
        self.open = False
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        if self.buf and not self.framed:
            self.env.output(self.buf.decode("utf-8", "replace"))
        self.buf = b""


# --- the environment ----------------------------------------------------------------------------


@dataclass(eq=False)
class RuntimeApiEnvironment(Environment):
    """An environment whose process talks the Runtime API instead of the worker protocol."""

    port: int = 0
    api_state: str = "init"  # init | waiting | invoking | init-error | dead
    current_id: str | None = None
    queued: Invocation | None = None
    waiter: asyncio.Future[Invocation | None] | None = None
    readers: list[_OutputReader] = field(default_factory=list)
    listener: asyncio.AbstractServer | None = None
    api: RuntimeApiServer | None = None
    # The runtime said it exits after this answer (samlite's Node bootstrap on an uncaught error):
    # never reuse the environment, so the next invocation cold-starts instead of racing the exit.
    exiting: bool = False

    @property
    def alive(self) -> bool:
        return not self.exiting and super().alive

    # -- the invoke service's side --
    def send_invoke(self, header: dict[str, Any], payload: bytes) -> asyncio.Future[Reply]:
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.call = fut
        if self.lost or self.state == "dead":
            fut.set_result(("lost", {}, b""))
            return fut
        invocation = Invocation(header["id"], _next_headers(header), payload)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(invocation)
        else:
            self.queued = invocation
        return fut

    def drain_output(self) -> None:
        for reader in self.readers:
            reader.drain()

    def peak_kb(self) -> int:
        if self.cgroup is not None:
            with contextlib.suppress(OSError, ValueError):
                return int((self.cgroup / "memory.max_usage_in_bytes").read_text()) // 1024
        if self.pid is not None:
            self.rss_kb = max(self.rss_kb, _rss_kb(self.pid))
        return self.rss_kb

    def _on_exit(self, returncode: int) -> None:
        # Output written just before dying belongs to the invocation the death fails.
        for reader in self.readers:
            reader.drain()
            reader.close()
        self.api_state = "dead"
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        if self.listener is not None:
            self.listener.close()
        if self.api is not None:
            self.api.envs.pop(self.port, None)
        super()._on_exit(returncode)

    # -- launching --
    async def launch(self, workers: Workers) -> None:
        spec = self.spec
        loop = asyncio.get_running_loop()
        try:
            argv = self._command()
        except _NoEntrypoint as exc:
            self._entrypoint_failed(str(exc))
            return
        self.tmpdir = workers.settings.envs_dir / self.id
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.cgroup = _make_cgroup(self.id, spec.memory_size) if workers.use_cgroups else None
        self.api = workers_api(workers)
        self.listener, self.port = await self.api.listen(self)
        environ = build_environment(spec, workers.settings, workers.aws_endpoint_url, self.stream, self.tmpdir,
                                    workers.extension_port)
        environ["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.port}"
        out_r, out_w = os.pipe()
        keep: list[int] = []
        tel_r = -1
        if self.interpreter.kind == "node":
            environ.update(_node_environment(spec, workers.settings, self.interpreter.version[0]))
            tel_r, tel_w = os.pipe()
            keep.append(tel_w)
            environ["_LAMBDA_TELEMETRY_LOG_FD"] = str(tel_w)
        cgroup = self.cgroup
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out_w, stderr=out_w, env=environ,
                cwd=str(spec.code_dir), start_new_session=True, pass_fds=tuple(keep),
                preexec_fn=(lambda: _join_cgroup(cgroup)) if cgroup is not None else None,
            )
        except OSError as exc:
            for fd in (out_r, tel_r):
                if fd >= 0:
                    os.close(fd)
            self._entrypoint_failed(f"fork/exec {argv[0]}: {(exc.strerror or str(exc)).lower()}")
            return
        finally:
            os.close(out_w)
            for fd in keep:
                os.close(fd)
        self.pid = proc.pid
        workers.by_pid[proc.pid] = self
        self.readers.append(_OutputReader(self, out_r, framed=False))
        if tel_r >= 0:
            self.readers.append(_OutputReader(self, tel_r, framed=True))
        loop.create_task(workers._watch(proc))

    def _command(self) -> list[str]:
        if self.interpreter.kind == "node":
            return [self.interpreter.path, str(node_bootstrap_path())]
        candidates = [self.spec.code_dir / "bootstrap", *(Path(layer) / "bootstrap" for layer in self.spec.layer_dirs)]
        for path in candidates:
            if path.is_file():
                return [str(path)]
        names = " ".join(str(p) for p in candidates)
        raise _NoEntrypoint(f"Couldn't find valid bootstrap(s): [{names}]")

    def _entrypoint_failed(self, message: str) -> None:
        self.output(f"Error: {message}")
        body = json.dumps({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message}).encode()
        assert self.ready is not None
        if not self.ready.done():
            self.ready.set_result(("ie", {"et": "Runtime.InvalidEntrypoint"}, body))


def _join_cgroup(group: Path) -> None:
    """In the child before exec: join the memory cgroup so the limit covers the whole runtime."""
    with contextlib.suppress(OSError), open(group / "cgroup.procs", "w") as fh:
        fh.write(str(os.getpid()))


def _node_environment(spec: FunctionSpec, settings: Settings, major: int) -> dict[str, str]:
    """NODE_PATH as Lambda sets it: layer node_modules, the runtime's AWS SDK (nodejs18.x and
    later), the runtime dir, the task root."""
    layers = spec.layer_dirs
    paths = [str(Path(layer) / "nodejs" / f"node{major}" / "node_modules") for layer in layers]
    paths += [str(Path(layer) / "nodejs" / "node_modules") for layer in layers]
    out = {"LAMBDA_RUNTIME_DIR": str(node_bootstrap_path().parent)}
    match = re.match(r"nodejs(\d+)\.x$", spec.runtime)
    if match and int(match.group(1)) >= NODE_SDK_MIN_MAJOR:
        paths.append(str(node_sdk_root(settings.cache_dir) / "node_modules"))
        link = link_for_esm(spec.code_dir, settings.home, settings.cache_dir)
        if link:
            out["_SAMLITE_ESM_SDK_LINK"] = link  # the bootstrap keeps CommonJS from walking into it
    paths += [str(node_bootstrap_path().parent), str(spec.code_dir)]
    out["NODE_PATH"] = ":".join(paths)
    return out


def _next_headers(header: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    """The /next response headers for one invocation (header = the invoke service's "i" frame)."""
    trace = header.get("trace") or "Root=1-%08x-%s;Parent=%s;Sampled=0" % (
        int(time.time()), os.urandom(12).hex(), os.urandom(8).hex())
    out = [
        (b"lambda-runtime-aws-request-id", header["id"].encode()),
        (b"lambda-runtime-deadline-ms", str(header["dl"]).encode()),
        (b"lambda-runtime-invoked-function-arn", str(header.get("arn") or "").encode()),
        (b"lambda-runtime-trace-id", trace.encode()),
        (b"content-type", b"application/json"),
    ]
    if header.get("cc"):
        # The Invoke API carries base64; the Runtime API hands the runtime the decoded JSON.
        with contextlib.suppress(ValueError):
            out.append((b"lambda-runtime-client-context", base64.b64decode(header["cc"])))
    if header.get("ci"):
        out.append((b"lambda-runtime-cognito-identity", json.dumps(header["ci"]).encode()))
    return out


# --- the server ---------------------------------------------------------------------------------


def workers_api(workers: Workers) -> RuntimeApiServer:
    api = getattr(workers, "runtime_api", None)
    if api is None:
        api = RuntimeApiServer(workers.settings.stream_limit, workers.settings.stream_bandwidth)
        workers.runtime_api = api
    return api


class RuntimeApiServer:
    """One ASGI app + uvicorn protocol; one 127.0.0.1 listening socket per environment."""

    def __init__(self, stream_limit: int = 20 * 1024 * 1024, stream_bandwidth: float = 0.0) -> None:
        self.stream_limit = stream_limit  # bytes a streamed response may carry (AWS: 20 MB)
        self.stream_bandwidth = stream_bandwidth  # MB/s past the first 6 MB; 0 = uncapped
        self.config = uvicorn.Config(
            self.app, lifespan="off", log_level="warning", access_log=False, http="httptools", ws="none",
            server_header=False, date_header=False, timeout_keep_alive=3600, interface="asgi3", proxy_headers=False,
        )
        self.config.load()
        self.state = ServerState()
        self.envs: dict[int, RuntimeApiEnvironment] = {}

    def _protocol(self) -> asyncio.Protocol:
        protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.state, app_state={})
        made = protocol.connection_made

        def connection_made(transport: asyncio.BaseTransport) -> None:
            # uvicorn writes a response's head and body separately: without TCP_NODELAY the body
            # waits for the client's delayed ACK (~40 ms per request).
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            made(transport)

        protocol.connection_made = connection_made  # type: ignore[method-assign]
        return protocol

    async def listen(self, env: RuntimeApiEnvironment) -> tuple[asyncio.AbstractServer, int]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        server = await asyncio.get_running_loop().create_server(self._protocol, sock=sock)
        self.envs[port] = env
        return server, port

    def close(self) -> None:
        for env in list(self.envs.values()):
            if env.listener is not None:
                env.listener.close()
        self.envs.clear()
        for connection in list(self.state.connections):
            connection.shutdown()

    # -- ASGI --
    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        server = scope.get("server")
        env = self.envs.get(server[1]) if server else None
        path: str = scope["path"]
        method: str = scope["method"]
        if env is None:
            return await _error(send, 410, "EnvironmentGone", "The execution environment no longer exists")
        if not path.startswith(PREFIX):
            return await _text(send, 404, "404 page not found")
        route = path[len(PREFIX):]
        if route == "invocation/next":
            if method != "GET":
                return await _text(send, 405, "")
            return await self._next(env, send)
        if method != "POST":
            return await _text(send, 405 if route.startswith(("invocation/", "init/")) else 404, "")
        if route == "init/error":
            return await self._init_error(env, scope, receive, send)
        parts = route.split("/")
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            return await self._result(env, parts[1], parts[2], scope, receive, send)
        return await _text(send, 404, "404 page not found")

    async def _next(self, env: RuntimeApiEnvironment, send: Send) -> None:
        if env.api_state == "invoking":
            return await _transition(send, "Invoke", "InvocationNext")
        if env.api_state == "init":
            # Init is over when the runtime first asks for work (Init Duration ends here).
            assert env.ready is not None
            if not env.ready.done():
                env.ready.set_result(("ready", {"m": env.peak_kb()}, b""))
        elif env.api_state != "waiting":
            return await _transition(send, _STATE_NAMES.get(env.api_state, env.api_state), "InvocationNext")
        env.api_state = "waiting"
        invocation = env.queued
        if invocation is not None:
            env.queued = None
        else:
            env.waiter = asyncio.get_running_loop().create_future()
            invocation = await env.waiter
            env.waiter = None
            if invocation is None:
                return await _error(send, 410, "EnvironmentGone", "The execution environment is shutting down")
        env.current_id = invocation.request_id
        env.api_state = "invoking"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*invocation.headers, (b"content-length", str(len(invocation.payload)).encode())]})
        await send({"type": "http.response.body", "body": invocation.payload})

    async def _result(self, env: RuntimeApiEnvironment, request_id: str, kind: str, scope: Scope,
                      receive: Receive, send: Send) -> None:
        target = "InvocationResponse" if kind == "response" else "InvocationErrorResponse"
        if env.api_state == "init":
            return await _transition(send, "Initializing", target)
        if env.api_state != "invoking" or request_id != env.current_id:
            return await _error(send, 400, "InvalidRequestID", "Invalid request ID")
        if kind == "response" and _scope_header(scope, b"lambda-runtime-function-response-mode") == "streaming":
            return await self._stream(env, scope, receive, send)
        try:
            request = await read_request(scope, receive, proto.SYNC_RESPONSE_LIMIT)
        except BodyTooLarge:
            await _discard(receive)
            self._complete(env, ("e", {"et": "Function.ResponseSizeTooLarge", "m": env.peak_kb()},
                                 proto.response_too_large_payload()))
            return await _error(send, 413, "RequestEntityTooLarge",
                                f"Exceeded maximum allowed payload size ({proto.SYNC_RESPONSE_LIMIT} bytes).")
        if request.header("samlite-runtime-exiting"):
            env.exiting = True
        if kind == "response":
            reply: Reply = ("r", {"m": env.peak_kb()}, request.body)
        else:
            error_type, body = _error_body(request.header("lambda-runtime-function-error-type"), request.body)
            reply = ("e", {"et": error_type, "m": env.peak_kb()}, body)
        self._complete(env, reply)
        await send({"type": "http.response.start", "status": 202,
                    "headers": [*_JSON, (b"content-length", str(len(_OK)).encode())]})
        await send({"type": "http.response.body", "body": _OK})

    async def _stream(self, env: RuntimeApiEnvironment, scope: Scope, receive: Receive, send: Send) -> None:
        """A streamed response: each chunk goes to the invocation's sink as it arrives (buffered
        when nobody reads a stream). An error after the first bytes comes in the trailers
        Lambda-Runtime-Function-Error-Type / -Body (base64), as AWS's runtime clients send it."""
        sink: ResponseSink | None = env.response_sink
        call = env.call
        if sink is not None:
            sink.start(_scope_header(scope, b"content-type"))
        limit = self.stream_limit if sink is not None else proto.SYNC_RESPONSE_LIMIT
        buffered: list[bytes] = []
        total = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        rate = self.stream_bandwidth * 1024 * 1024
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or call is None or call.done():
                return  # the runtime died or the invocation was cut (timeout): its end settles it
            chunk: bytes = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > limit:
                    self._complete(env, ("e", {"et": "Function.ResponseSizeTooLarge", "m": env.peak_kb(),
                                               "s": total - len(chunk)},
                                         proto.error_payload(f"Response payload size exceeded maximum allowed "
                                                             f"payload size ({limit} bytes).",
                                                             "Function.ResponseSizeTooLarge")))
                    # Answered before the rest is read: the connection closes and the writes fail.
                    return await _error(send, 413, "RequestEntityTooLarge",
                                        f"Exceeded maximum allowed payload size ({limit} bytes).")
                if sink is not None:
                    sink.write(chunk)
                else:
                    buffered.append(chunk)
                if rate and total > UNCAPPED_BYTES:
                    ahead = started + (total - UNCAPPED_BYTES) / rate - loop.time()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                elif rate:
                    started = loop.time()
            if not message.get("more_body", False):
                break
        # Trailers land in the request's header list once the body is over (httptools).
        error_type = _scope_header(scope, b"lambda-runtime-function-error-type")
        streamed = total if sink is not None else 0
        if error_type:
            raw = b""
            with contextlib.suppress(ValueError):
                raw = base64.b64decode(_scope_header(scope, b"lambda-runtime-function-error-body") or "")
            error_type, body = _error_body(error_type, raw)
            reply: Reply = ("e", {"et": error_type, "m": env.peak_kb(), "s": streamed}, body)
        else:
            reply = ("r", {"m": env.peak_kb(), "s": streamed}, b"".join(buffered))
        if _scope_header(scope, b"samlite-runtime-exiting"):
            env.exiting = True
        self._complete(env, reply)
        await send({"type": "http.response.start", "status": 202,
                    "headers": [*_JSON, (b"content-length", str(len(_OK)).encode())]})
        await send({"type": "http.response.body", "body": _OK})

    def _complete(self, env: RuntimeApiEnvironment, reply: Reply) -> None:
        env.drain_output()
        env.current_id = None
        env.api_state = "waiting"
        if env.call is not None and not env.call.done():
            env.call.set_result(reply)

    async def _init_error(self, env: RuntimeApiEnvironment, scope: Scope, receive: Receive, send: Send) -> None:
        if env.api_state != "init":
            return await _transition(send, _STATE_NAMES.get(env.api_state, env.api_state), "InitError")
        try:
            request = await read_request(scope, receive, proto.SYNC_RESPONSE_LIMIT)
        except BodyTooLarge:
            await _discard(receive)
            return await _error(send, 413, "RequestEntityTooLarge",
                                f"Exceeded maximum allowed payload size ({proto.SYNC_RESPONSE_LIMIT} bytes).")
        error_type, body = _error_body(request.header("lambda-runtime-function-error-type"), request.body)
        env.drain_output()
        env.api_state = "init-error"
        assert env.ready is not None
        if not env.ready.done():
            # Measured now, while the runtime is alive: after its exit there is nothing to read.
            env.ready.set_result(("ie", {"et": error_type, "m": env.peak_kb()}, body))
        await send({"type": "http.response.start", "status": 202,
                    "headers": [*_JSON, (b"content-length", str(len(_OK)).encode())]})
        await send({"type": "http.response.body", "body": _OK})


_STATE_NAMES = {"waiting": "Ready", "invoking": "Invoke", "init-error": "InitError", "dead": "Shutdown"}


def _scope_header(scope: Scope, name: bytes) -> str | None:
    """The last value of a header (or trailer) of the request, as text."""
    value = None
    for key, raw in scope["headers"]:
        if key.lower() == name:
            value = raw.decode("latin-1")
    return value


def _error_body(header_type: str | None, raw: bytes) -> tuple[str, bytes]:
    """(errorType, body to return to the invoker) from what the runtime posted: a JSON error
    object passes through; anything else is wrapped as Lambda does, typed by the header."""
    parsed: Any = None
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        parsed = json.loads(raw) if raw else None
    if isinstance(parsed, dict):
        error_type = header_type or str(parsed.get("errorType") or "") or "Unhandled"
        return error_type, raw
    error_type = header_type or "Unhandled"
    message = raw.decode("utf-8", "replace") if raw else ""
    return error_type, json.dumps({"errorMessage": message, "errorType": error_type}).encode()


async def _discard(receive: Receive) -> None:
    """Read and drop the rest of an oversized body, so the client sees our 413, not a reset."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return


async def _error(send: Send, status: int, error_type: str, message: str) -> None:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _transition(send: Send, current: str, target: str) -> None:
    await _error(send, 403, "InvalidStateTransition",
                 f"State transition from {current} to {target} failed for runtime. "
                 "Error: State transition is not allowed")


async def _text(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["RuntimeApiEnvironment", "RuntimeApiServer", "Invocation"]

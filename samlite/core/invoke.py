"""The single invocation path: every invoke (CLI, AWS endpoint, gateway, ESM, async) lands here.

`InvokeService.invoke` validates the request as the Lambda Invoke API does (function lookup,
payload size and JSON, ClientContext), then `run` applies concurrency limits, picks a warm
environment or cold-starts one (`runtime.workers`), enforces the timeout, and turns the worker's
reply (or its death) into Lambda's result, error payload and START/END/REPORT lines. Log events
and metric rows are buffered in memory and written to the store in one transaction every
FLUSH_S (FLUSH_BUSY_S while invocations keep coming), so a warm invoke never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

from samlite.config import Settings
from samlite.core.aws_api import new_request_id
from samlite.core.runtime import FunctionSpec
from samlite.core.runtime import protocol as proto
from samlite.core.runtime.interpreters import UnsupportedRuntime
from samlite.core.runtime.runtime_api import RuntimeApiEnvironment
from samlite.core.runtime.streaming import ResponseSink
from samlite.core.runtime.workers import Environment, Reply, Workers
from samlite.core.store import Store

log = logging.getLogger("samlite.engine")

FLUSH_S = 0.05
# Under load, flush in smaller batches: a flush blocks the event loop (~5 us per invocation's
# rows), so 50 ms of rows at thousands of req/s would stall every request behind it for
# milliseconds (the gateway's p99); 10 ms batches keep each stall well under a millisecond.
FLUSH_BUSY_S = 0.01
LOG_TAIL_BYTES = 4096
# CloudWatch Logs' largest event is 256 KB counting 26 bytes of overhead; Lambda splits a longer
# line into consecutive events of at most this many bytes.
MAX_EVENT_BYTES = 256 * 1024 - 26

AsyncSink = Callable[[FunctionSpec, bytes, str], Awaitable[None]]


class DurableSink(Protocol):
    """Where an invocation of a durable function (one with DurableConfig) goes: it starts a
    durable execution instead of running the handler once. Installed by the durable service."""

    async def start_execution(self, spec: FunctionSpec, payload: bytes, request_id: str, *,
                              execution_name: str | None, wait: bool) -> "InvokeResult": ...


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a setattr call per field, per invocation
class InvokeResult:
    status_code: int  # 200 (RequestResponse), 202 (Event), 204 (DryRun)
    payload: bytes  # response body: the function result or the error object JSON
    function_error: str | None  # "Unhandled" on any function error (timeout, crash, init error)
    request_id: str
    executed_version: str = "$LATEST"
    log_tail: str = ""  # START..REPORT text of this invocation, last 4 KB, when asked
    error_type: str | None = None  # "Sandbox.Timedout", "Runtime.ImportModuleError", "ValueError", ...
    duration_ms: float = 0.0
    billed_ms: int = 0
    init_ms: float | None = None
    max_memory_mb: int = 0
    cold: bool = False
    streamed: int = 0  # bytes that went to the caller's ResponseSink as written (not in `payload`)
    durable_execution_arn: str | None = None  # the execution a durable function's invocation started


class TooManyRequests(Exception):
    """Throttled: `reason` is one of the Reason values."""

    def __init__(self, reason: str, message: str = "Rate Exceeded.") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _ApiError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EnvironmentWaitTimeout(_ApiError):
    """A synchronous invocation waited SAMLITE_ENVIRONMENT_WAIT seconds for an execution
    environment under the local cap (SAMLITE_MAX_ENVIRONMENTS) and none came free. A local
    limit, not AWS's: callers answer it as a service error, never as a 429 throttle."""


class RequestTooLarge(_ApiError):
    """RequestTooLargeException (413)."""


class FunctionNotFound(_ApiError):
    """ResourceNotFoundException (404)."""


class InvalidRequestContent(_ApiError):
    """InvalidRequestContentException (400): the payload is not JSON."""


class InvalidParameterValue(_ApiError):
    """InvalidParameterValueException (400): bad invocation type, qualifier or ClientContext."""


INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
# Sources that keep their work when throttled (async events are retried, mapping pollers back off):
# at the local environment cap they are throttled at once. Every other (synchronous) source waits.
RETRYING_SOURCES = frozenset({"async", "esm"})


class _Recorder:
    """Log events and metric rows, buffered and flushed in one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.logs: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        self.metrics: list[tuple[Any, ...]] = []

    def log(self, group: str, stream: str, message: str) -> None:
        events = self.logs[(group, stream)]
        now = int(time.time() * 1000)
        # A UTF-8 character is at most 4 bytes: only a long line can be over the event limit.
        if len(message) * 4 > MAX_EVENT_BYTES and len(message.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES:
            events.extend((now, part) for part in split_event(message))
        else:
            events.append((now, message))

    def flush(self) -> bool:
        """Write what is buffered; True when there was something to write."""
        if not self.logs and not self.metrics:
            return False
        logs, self.logs = self.logs, defaultdict(list)
        metrics, self.metrics = self.metrics, []
        try:
            with self.store.transaction():
                for (group, stream), events in logs.items():
                    self.store.append_log_events(group, stream, events)
                self.store.append_metrics(metrics)
        except Exception:  # a full disk must not take invocations down with it
            log.exception("could not write %d log streams / %d metrics to the store", len(logs), len(metrics))
        return True

    async def run(self) -> None:
        # Not a writer thread: measured slower. Each uvloop callback takes the GIL, so a second
        # thread turns every request into GIL hand-offs between the two cores.
        busy = False
        while True:
            await asyncio.sleep(FLUSH_BUSY_S if busy else FLUSH_S)
            busy = self.flush()


class _Deadlines:
    """Invocation timeouts with one timer for all of them, not a timer per invocation (a timer
    handle made and cancelled per request was a measurable share of the gateway's hot path).
    The timer is set for the earliest deadline; it rarely moves, since a new invocation's
    deadline is later than those already running."""

    def __init__(self) -> None:
        self._due: dict[Environment, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._at = math.inf

    def add(self, env: Environment, budget_s: float) -> None:
        loop = asyncio.get_running_loop()
        due = self._due[env] = loop.time() + budget_s
        if due < self._at:
            self._arm(loop, due)

    def remove(self, env: Environment) -> None:
        self._due.pop(env, None)  # a timer left for it finds nothing due and moves on

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._at = due
        self._timer = loop.call_at(due, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer, self._at = None, math.inf
        now = loop.time() + 0.001  # the loop clock has millisecond steps
        expired = [env for env, due in self._due.items() if due <= now]
        for env in expired:
            del self._due[env]
            env.kill("timeout")
        if self._due:
            self._arm(loop, min(self._due.values()))


class InvokeService:
    def __init__(self, settings: Settings, store: Store, aws_endpoint_url: str,
                 functions: dict[str, FunctionSpec]) -> None:
        self.settings = settings
        self.store = store
        self.functions = functions
        self.async_sink: AsyncSink | None = None
        self.durable_sink: DurableSink | None = None
        self.init_limit_s = proto.INIT_LIMIT_S
        self.recorder = _Recorder(store)
        self._deadlines = _Deadlines()
        self.workers = Workers(settings, aws_endpoint_url, self._on_output,
                               runtime_api_environment=RuntimeApiEnvironment)
        self._active: dict[str, int] = defaultdict(int)
        self._unreserved_active = 0
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._flusher: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self.workers.start()
        self._flusher = asyncio.get_running_loop().create_task(self.recorder.run())

    async def stop(self, deadline_s: float = 5.0) -> None:
        """Stop intake, wait for in-flight invocations up to the deadline, then kill workers."""
        self._stopping = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), deadline_s)
        await self.workers.stop()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self.recorder.flush()

    def retire(self, name: str) -> None:
        spec = self.functions.get(name)
        self.workers.retire(name, spec.code_sha if spec else None)

    # --- lookup ------------------------------------------------------------------------------
    def resolve(self, function: str) -> FunctionSpec:
        return self._resolve(function)[0]

    def _resolve(self, function: str) -> tuple[FunctionSpec, str | None]:
        region, account = self.settings.region, self.settings.account_id
        parts = function.split(":")
        ok = True
        if function.startswith("arn:"):
            ok = len(parts) in (7, 8) and parts[2] == "lambda" and parts[5] == "function"
            if ok:
                ok = parts[3] == region and parts[4] == account
            name, qualifier = (parts[6], parts[7] if len(parts) == 8 else None) if len(parts) >= 7 else (function, None)
        elif len(parts) >= 3 and parts[1] == "function":
            ok = len(parts) in (3, 4) and parts[0] == account
            name, qualifier = parts[2], (parts[3] if len(parts) == 4 else None)
        else:
            ok = len(parts) in (1, 2)
            name, qualifier = parts[0], (parts[1] if len(parts) == 2 else None)
        spec = self.functions.get(name) if ok else None
        if spec is None or (qualifier is not None and qualifier not in ("$LATEST", spec.version)
                            and (spec.alias is None or qualifier not in (spec.alias, "1"))):
            suffix = f":{qualifier}" if qualifier else ""
            raise FunctionNotFound(f"Function not found: arn:aws:lambda:{region}:{account}:function:{name}{suffix}")
        return spec, qualifier

    def settle_bound_s(self, spec: FunctionSpec) -> float:
        """An upper bound on how long `run` takes for `spec`: a cold start at the init limit, then
        a retried init and the invocation sharing the function timeout, the wait for a dead worker's
        exit status (2 s), plus a second of slack. A caller's deadline past it can never fire."""
        return self.settings.environment_wait + self.init_limit_s + float(spec.timeout) + 3.0

    # --- the Invoke API ----------------------------------------------------------------------
    async def invoke(self, function: str, payload: bytes, *, invocation_type: str = "RequestResponse",
                     client_context: str | None = None, log_tail: bool = False, source: str = "api",
                     request_id: str | None = None, stream: ResponseSink | None = None,
                     durable_execution_name: str | None = None) -> InvokeResult:
        """`stream`: the caller reads the response as the function writes it (a streaming
        function's chunks go there; the result then carries only errors and the accounting).
        A durable function's invocation starts a durable execution (named `durable_execution_name`):
        an Event returns once it started, a RequestResponse when it ended."""
        if invocation_type not in INVOCATION_TYPES:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to satisfy"
                " constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
        spec, qualifier = self._resolve(function)
        request_id = request_id or new_request_id()  # a UUID v4 string, cheaper than uuid.uuid4()
        limit = proto.ASYNC_REQUEST_LIMIT if invocation_type == "Event" else proto.SYNC_REQUEST_LIMIT
        label = "Event" if invocation_type == "Event" else "RequestResponse"
        if len(payload) > limit:
            raise RequestTooLarge(
                f"{len(payload)} byte payload is too large for the {label} invocation type (limit {limit} bytes)")
        if not payload.strip():
            payload = b"{}"
        else:
            try:
                json.loads(payload)
            except ValueError as exc:
                raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from None
        if client_context is not None and invocation_type != "Event":
            _check_client_context(client_context)
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", None, request_id, executed_version=spec.version)
        if spec.durable_timeout is not None and self.durable_sink is not None:
            return await self.durable_sink.start_execution(spec, payload, request_id, execution_name=durable_execution_name,
                                                 wait=invocation_type != "Event")
        if invocation_type == "Event":
            if self.async_sink is None:
                raise RuntimeError("asynchronous invocation is not available: no async dispatcher is attached")
            await self.async_sink(spec, payload, request_id)
            return InvokeResult(202, b"", None, request_id, executed_version=spec.version)
        invoked_arn = f"{spec.arn}:{qualifier}" if qualifier else spec.arn
        return await self.run(spec, payload, request_id, source=source, client_context=client_context,
                              log_tail=log_tail, invoked_arn=invoked_arn, stream=stream)

    # --- the run -----------------------------------------------------------------------------
    async def run(self, spec: FunctionSpec, payload: bytes, request_id: str, *, source: str,
                  client_context: str | None = None, log_tail: bool = False,
                  invoked_arn: str | None = None, stream: ResponseSink | None = None,
                  note: str | None = None) -> InvokeResult:
        """One synchronous run of an already-resolved function; raises TooManyRequests.
        A durable function's run from any source but the durable service's own replays starts
        an execution: asynchronous sources get it started, the others wait for its end."""
        if spec.durable_timeout is not None and source != "durable" and self.durable_sink is not None:
            return await self.durable_sink.start_execution(spec, payload, request_id, execution_name=None,
                                                 wait=source != "async")
        self._admit(spec, request_id, source)
        self._enter(spec)
        try:
            return await self._run(spec, payload, request_id, source, client_context, log_tail,
                                   invoked_arn or spec.arn, stream, note)
        finally:
            self._leave(spec)
            if stream is not None:
                stream.close()

    def run_warm(self, spec: FunctionSpec, payload: bytes, request_id: str, source: str,
                 done: Callable[[InvokeResult], None]) -> bool:
        """`run` without a coroutine, for the gateway's direct lane: when a warm environment is
        idle, send it the event and return True; `done` gets the result from a loop callback.
        False (nothing done, nothing counted) means a cold start is needed: use `run`.
        Raises TooManyRequests like `run`."""
        if not self.workers.has_idle(spec) or spec.durable_timeout is not None:
            return False
        self._admit(spec, request_id, source)
        env = self.workers.take_idle(spec)
        if env is None:
            return False
        self._enter(spec)
        env.tail = None
        env.request_id = request_id
        concurrency = self._active[spec.name]
        future, started = self._send(spec, env, payload, request_id, float(spec.timeout), spec.arn, None)

        def settle(fut: asyncio.Future[Reply]) -> None:
            self._deadlines.remove(env)
            result = self._settle(spec, env, fut.result(), request_id, source, started, None, concurrency)
            if result is not None:
                self._leave(spec)
                done(result)
                return
            # The worker died under the invocation: its exit status is awaited, then reported.
            task = asyncio.get_running_loop().create_task(
                self._settle_death(spec, env, request_id, source, started, concurrency))
            task.add_done_callback(died)

        def died(task: asyncio.Task[InvokeResult]) -> None:
            self._leave(spec)
            try:
                result = task.result()
            except Exception as exc:  # the caller is owed an answer
                log.exception("invocation %s: reporting the worker's death failed", request_id)
                result = self._platform_failure(spec, request_id, source, str(exc), "Runtime.Unknown", concurrency)
            done(result)

        future.add_done_callback(settle)
        return True

    def _enter(self, spec: FunctionSpec) -> None:
        self._active[spec.name] += 1
        self._unreserved_active += spec.reserved_concurrency is None
        self._inflight += 1
        self._idle.clear()

    def _leave(self, spec: FunctionSpec) -> None:
        self._active[spec.name] -= 1
        self._unreserved_active -= spec.reserved_concurrency is None
        self._inflight -= 1
        if not self._inflight:
            self._idle.set()

    def _admit(self, spec: FunctionSpec, request_id: str, source: str) -> None:
        if self._stopping:
            raise TooManyRequests("ConcurrentInvocationLimitExceeded", "The engine is shutting down.")
        active = self._active[spec.name]
        if spec.reserved_concurrency is not None:
            if active >= spec.reserved_concurrency:
                self._throttle(spec, request_id, source, "ReservedFunctionConcurrentInvocationLimitExceeded")
            return
        reserved = sum(f.reserved_concurrency or 0 for f in self.functions.values())
        if self._unreserved_active >= max(0, self.settings.account_concurrency - reserved):
            self._throttle(spec, request_id, source, "ConcurrentInvocationLimitExceeded")

    def _throttle(self, spec: FunctionSpec, request_id: str, source: str, reason: str) -> None:
        self.recorder.metrics.append((spec.name, spec.stack, int(time.time() * 1000), request_id, source, 0.0, 0,
                                      spec.memory_size, 0, None, 0, None, 1, self._active[spec.name],
                                      spec.architecture))
        raise TooManyRequests(reason)

    async def _run(self, spec: FunctionSpec, payload: bytes, request_id: str, source: str,
                   client_context: str | None, log_tail: bool, invoked_arn: str,
                   stream: ResponseSink | None = None, note: str | None = None) -> InvokeResult:
        tail: list[str] | None = [] if log_tail else None
        concurrency = self._active[spec.name]
        if spec.not_emulated:
            return self._platform_failure(spec, request_id, source, spec.not_emulated, "Runtime.InvalidRuntime",
                                          concurrency)
        env = self.workers.take_idle(spec)
        init_ms: float | None = None
        budget = float(spec.timeout)
        if env is None and not self.workers.make_room(spec):
            if source in RETRYING_SOURCES:
                self._throttle(spec, request_id, source, "ConcurrentInvocationLimitExceeded")
            env = await self._wait_for_environment(spec, request_id)  # None: room for a cold start
        if env is None:
            try:
                env, reply = await self.workers.cold_start(spec, self.init_limit_s, tail)
            except UnsupportedRuntime as exc:
                return self._platform_failure(spec, request_id, source, str(exc), "Runtime.InvalidRuntime",
                                              concurrency)
            env.request_id = request_id
            init_ms = env.init_ms
            if reply[0] == "timeout":
                # Init overran its 10 s: retried inside the invoke, under the function timeout.
                env.output(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: timeout")
                self.workers.release(env, keep=False)
                env, reply = await self.workers.cold_start(spec, float(spec.timeout), tail)
                env.request_id = request_id
                init_ms = env.init_ms
                budget = max(0.001, spec.timeout - (init_ms or 0) / 1000.0)
            if reply[0] != "ready":
                return await self._init_failed(spec, env, reply, request_id, source, concurrency)
        else:
            env.tail = tail
            env.request_id = request_id
        env.response_sink = stream
        future, started = self._send(spec, env, payload, request_id, budget, invoked_arn, client_context, note)
        try:
            reply = await future
        finally:
            self._deadlines.remove(env)
            env.response_sink = None
        result = self._settle(spec, env, reply, request_id, source, started, init_ms, concurrency)
        if result is None:
            result = await self._settle_death(spec, env, request_id, source, started, concurrency, init_ms)
        return result

    async def _wait_for_environment(self, spec: FunctionSpec, request_id: str) -> Environment | None:
        """All environments are busy at the local cap: wait in line for one, up to
        SAMLITE_ENVIRONMENT_WAIT seconds (AWS would run the request at once, so no 429 here)."""
        wait = self.settings.environment_wait
        try:
            return await self.workers.wait_for_environment(spec, wait)
        except asyncio.TimeoutError:
            if self._stopping:
                raise TooManyRequests("ConcurrentInvocationLimitExceeded", "The engine is shutting down.") from None
            cap = self.settings.max_environments
            message = (f"No execution environment came free within {wait:g} s: all {cap} allowed by"
                       f" SAMLITE_MAX_ENVIRONMENTS are busy. Raise SAMLITE_MAX_ENVIRONMENTS (more processes)"
                       f" or SAMLITE_ENVIRONMENT_WAIT (longer waits).")
            log.warning("invocation %s of %s: %s", request_id, spec.name, message)
            raise EnvironmentWaitTimeout(message) from None

    def _send(self, spec: FunctionSpec, env: Environment, payload: bytes, request_id: str, budget: float,
              invoked_arn: str, client_context: str | None,
              note: str | None = None) -> tuple[asyncio.Future[Reply], float]:
        """START, the event to the worker and its deadline: (reply future, start time). `note`: a
        line after START (a durable replay names its execution there)."""
        env.output(proto.start_line(request_id, spec.version))
        if note:
            env.output(note)
        header = {"t": "i", "id": request_id, "dl": int(time.time() * 1000 + budget * 1000), "arn": invoked_arn,
                  "cc": client_context}
        started = time.perf_counter()
        future = env.send_invoke(header, payload)
        self._deadlines.add(env, budget)
        return future, started

    def _settle(self, spec: FunctionSpec, env: Environment, reply: Reply, request_id: str, source: str,
                started: float, init_ms: float | None, concurrency: int) -> InvokeResult | None:
        """The worker's reply as Lambda's result; None when the worker died (see `_settle_death`)."""
        kind, head, body = reply
        duration = (time.perf_counter() - started) * 1000.0
        error_type: str | None = None
        status: str | None = None
        keep = True
        max_mb = _mb(int(head.get("m", 0)) or env.rss_kb)
        streamed = int(head.get("s", 0))
        if kind == "r":
            if not streamed and len(body) > proto.SYNC_RESPONSE_LIMIT:
                body, error_type = proto.response_too_large_payload(), "Function.ResponseSizeTooLarge"
        elif kind == "e":
            error_type = head.get("et") or "Unhandled"
        elif kind == "timeout":
            keep = False
            body, error_type, status = proto.timeout_payload(request_id, spec.timeout), "Sandbox.Timedout", "timeout"
            env.output(f"{_iso_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds")
        else:
            return None
        result = self._finish(spec, env, request_id, source, body, error_type, duration, init_ms, max_mb,
                              concurrency, keep, status)
        result.streamed = streamed
        return result

    async def _settle_death(self, spec: FunctionSpec, env: Environment, request_id: str, source: str,
                            started: float, concurrency: int, init_ms: float | None = None) -> InvokeResult:
        duration = (time.perf_counter() - started) * 1000.0
        body, error_type, max_mb = await self._death(env, request_id, spec, _mb(env.rss_kb))
        return self._finish(spec, env, request_id, source, body, error_type, duration, init_ms, max_mb,
                            concurrency, False, "error")

    async def _death(self, env: Environment, request_id: str, spec: FunctionSpec,
                     max_mb: int) -> tuple[bytes, str, int]:
        returncode = await env.exit_code()
        if env.oom or env.kill_reason == "oom":
            env.output(f"RequestId: {request_id} Error: Runtime exited with error: signal: killed\n"
                       "Runtime.OutOfMemory")
            return proto.oom_payload(request_id), "Runtime.OutOfMemory", spec.memory_size
        env.output(f"RequestId: {request_id} Error: Runtime exited with error: {proto.exit_reason(returncode)}\n"
                   "Runtime.ExitError")
        return proto.exit_payload(request_id, returncode), "Runtime.ExitError", max_mb

    async def _init_failed(self, spec: FunctionSpec, env: Environment, reply: Reply, request_id: str,
                           source: str, concurrency: int) -> InvokeResult:
        kind, head, body = reply
        init_ms = env.init_ms or 0.0
        max_mb = _mb(int(head.get("m", 0)) or env.rss_kb)
        if kind == "ie":
            error_type = head.get("et") or "Runtime.Unknown"
        elif kind == "timeout":
            error_type = "Sandbox.Timedout"
            body = proto.timeout_payload(request_id, spec.timeout)
            env.output(f"{_iso_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds")
        else:
            body, error_type, max_mb = await self._death(env, request_id, spec, max_mb)
        env.output(proto.init_report_line(init_ms, error_type))
        env.output(proto.start_line(request_id, spec.version))
        status = "timeout" if kind == "timeout" else "error"
        # The failed init ran inside this invocation: it is the Duration; no separate Init Duration.
        return self._finish(spec, env, request_id, source, body, error_type, init_ms, None, max_mb,
                            concurrency, False, status, cold=True)

    def _finish(self, spec: FunctionSpec, env: Environment, request_id: str, source: str, body: bytes,
                error_type: str | None, duration: float, init_ms: float | None, max_mb: int,
                concurrency: int, keep: bool, status: str | None, cold: bool | None = None) -> InvokeResult:
        billed = proto.billed_ms(duration, init_ms)
        env.output(proto.end_line(request_id))
        env.output(proto.report_line(request_id, duration, billed, spec.memory_size, max_mb, init_ms, status,
                                     error_type if status == "error" else None))
        tail = env.tail
        current = self.functions.get(spec.name)
        self.workers.release(env, keep and current is not None and current.code_sha == spec.code_sha)
        is_cold = init_ms is not None if cold is None else cold
        self.recorder.metrics.append((spec.name, spec.stack, int(time.time() * 1000), request_id, source, duration,
                                      billed, spec.memory_size, max_mb, init_ms, int(is_cold), error_type, 0,
                                      concurrency, spec.architecture))
        return InvokeResult(
            status_code=200, payload=body, function_error="Unhandled" if error_type else None,
            request_id=request_id, executed_version=spec.version,
            log_tail=_last_bytes("\n".join(tail) + "\n", LOG_TAIL_BYTES) if tail is not None else "",
            error_type=error_type, duration_ms=duration, billed_ms=billed, init_ms=init_ms, max_memory_mb=max_mb,
            cold=is_cold,
        )

    def _platform_failure(self, spec: FunctionSpec, request_id: str, source: str, message: str, error_type: str,
                          concurrency: int) -> InvokeResult:
        body = proto.error_payload(message, error_type)
        for line in (proto.start_line(request_id, spec.version), f"[ERROR] {error_type}: {message}",
                     proto.end_line(request_id)):
            self.recorder.log(spec.log_group, f"samlite/{spec.name}", line)
        self.recorder.metrics.append((spec.name, spec.stack, int(time.time() * 1000), request_id, source, 0.0, 0,
                                      spec.memory_size, 0, None, 0, error_type, 0, concurrency, spec.architecture))
        return InvokeResult(200, body, "Unhandled", request_id, executed_version=spec.version, error_type=error_type)

    # --- output ------------------------------------------------------------------------------
    def _on_output(self, env: Environment, line: str) -> None:
        self.recorder.log(env.spec.log_group, env.stream, line)


def _check_client_context(value: str) -> None:
    if len(value) > proto.CLIENT_CONTEXT_LIMIT:
        raise InvalidParameterValue(
            f"Client context must be at most {proto.CLIENT_CONTEXT_LIMIT} bytes, base64 encoded.")
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        decoded = None
    if not isinstance(decoded, dict):
        raise InvalidParameterValue("Client context must be a valid Base64-encoded JSON object.")


def split_event(message: str, limit: int = MAX_EVENT_BYTES) -> list[str]:
    """`message` in consecutive parts of at most `limit` UTF-8 bytes, cut between characters."""
    data = message.encode("utf-8", "surrogatepass")
    parts = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        parts.append(data[start:end].decode("utf-8", "surrogatepass"))
        start = end
    return parts


def _mb(kb: int) -> int:
    return (kb + 1023) // 1024


def _iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def _last_bytes(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", "ignore")

"""Lambda durable executions: started by invoking a function with DurableConfig, replayed through
the engine's invoke path, kept under `$SAMLITE_HOME/durable/executions.db` and resumed at start.

`DurableService` is the invoke service's `DurableSink` (every invocation of a durable function,
from any source, lands in `start_execution`), owns the backend (`backend.SamliteExecutor` and
AWS's checkpoint processor, scheduler and SQLite store) and serves `samlite executions`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from samlite.core import invoke as inv
from samlite.core.aws_api import AwsError
from samlite.core.runtime import protocol as proto
from samlite.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python_testing.execution import Execution
    from aws_durable_execution_sdk_python_testing.scheduler import Scheduler
    from aws_durable_execution_sdk_python_testing.worker.registry import ExecutionRegistry

    from samlite.config import Settings
    from samlite.core.invoke import InvokeResult, InvokeService
    from samlite.core.runtime import FunctionSpec
    from samlite.services.durable.backend import SamliteExecutor
    from samlite.services.durable.store import ExecutionStore

log = logging.getLogger("samlite.engine")

EXECUTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
PURGE_EVERY_S = 3600.0  # ended executions past their RetentionPeriodInDays are deleted this often

# A synchronous invocation of a durable function waits for the execution's end this long at most:
# Lambda's limit of a synchronous invocation, or less when the function's timeout or the execution
# timeout is lower. An Event invocation returns once the execution started.
SYNC_WAIT_S = 900.0


class DurableService:
    def __init__(self, settings: "Settings", invoker: "InvokeService") -> None:
        self.settings = settings
        self.invoker = invoker
        self.path = settings.home / "durable" / "executions.db"
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: "SamliteExecutor | None" = None
        self._scheduler: "Scheduler | None" = None
        self._registry: "ExecutionRegistry | None" = None
        self.store: "ExecutionStore | None" = None
        self._purger: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Take the durable functions' invocations. The backend (AWS's library, about 200 ms of
        imports) starts now only if an earlier engine kept executions, to resume them; otherwise
        at the first durable invocation or API call."""
        self._loop = asyncio.get_running_loop()
        self._starting = asyncio.Lock()
        self.invoker.durable_sink = self
        if self.path.exists():
            await self.ensure_started()

    async def ensure_started(self) -> "SamliteExecutor":
        """The backend, started on first use (store, scheduler, executor; then the recovery of
        what was running, after the deployed functions are known: it replays at once)."""
        if self._executor is not None:
            return self._executor
        assert self._starting is not None and self._loop is not None, "start() the service first"
        async with self._starting:
            if self._executor is None:
                await asyncio.to_thread(self._start_backend, self._loop)
                recovered = await asyncio.to_thread(self._recover)
                if recovered:
                    log.info("durable executions: resumed %d", recovered)
                self._purger = self._loop.create_task(self._purge_forever())
        assert self._executor is not None
        return self._executor

    def _start_backend(self, loop: asyncio.AbstractEventLoop) -> None:
        from aws_durable_execution_sdk_python_testing.checkpoint.processor import CheckpointProcessor
        from aws_durable_execution_sdk_python_testing.scheduler import Scheduler
        from aws_durable_execution_sdk_python_testing.worker.registry import ExecutionRegistry

        from samlite.services.durable.backend import (
            ENGINE_ANSWER_S,
            EngineChildDispatcher,
            EngineInvoker,
            SamliteExecutor,
        )
        from samlite.services.durable.store import ExecutionStore

        store = self.store = ExecutionStore.open(self.path)
        scheduler = self._scheduler = Scheduler()
        registry = self._registry = ExecutionRegistry(store, scheduler)
        processor = CheckpointProcessor(store, scheduler)
        executor = SamliteExecutor(
            store=store, scheduler=scheduler, invoker=EngineInvoker(loop, self._replay),
            checkpoint_processor=processor, invocation_timeout_seconds=int(ENGINE_ANSWER_S), registry=registry,
            child_dispatcher=EngineChildDispatcher(self.invoker.functions, loop, self._invoke_plain),
            region=self.settings.region, function_arn=self._function_arn, on_terminal=self._terminal)
        processor.add_execution_observer(executor)
        processor.set_chained_invoke_preflight(executor.preflight_chained_invoke)
        scheduler.start()
        self._executor = executor

    async def _purge_forever(self) -> None:
        while True:
            assert self.store is not None
            try:
                gone = await asyncio.to_thread(self.store.purge_expired, time.time())
                if gone:
                    log.info("durable executions: %d past their retention period deleted", gone)
            except Exception:  # the next round retries; executions are only kept longer
                log.exception("durable executions: purging expired executions failed")
            await asyncio.sleep(PURGE_EVERY_S)

    async def stop(self) -> None:
        """Stop replaying; what runs stays RUNNING in the store and is resumed at the next start."""
        self.invoker.durable_sink = None
        if self._purger is not None:
            self._purger.cancel()
        executor, registry, scheduler = self._executor, self._registry, self._scheduler
        if executor is None or registry is None or scheduler is None:
            return
        executor.shutdown()
        registry.shutdown()
        # The scheduler's loop thread cancels its tasks; a replay blocked on the engine's loop
        # (being stopped) cannot finish, so this is not waited for past a second.
        stopper = threading.Thread(target=scheduler.stop, name="durable-scheduler-stop", daemon=True)
        stopper.start()
        await asyncio.to_thread(stopper.join, 1.0)
        for arn in list(self._waiters):
            self._wake(arn)  # they answer with the execution as it stands (still running)
        if self.store is not None:
            self.store.close()

    @property
    def executor(self) -> "SamliteExecutor":
        if self._executor is None:
            raise RuntimeError("the durable execution backend is not started (ensure_started)")
        return self._executor

    def _recover(self) -> int:
        assert self.store is not None
        count = 0
        for execution in self.store.list_all():
            if execution.is_complete:
                continue
            try:
                self.executor.recover(execution)
                count += 1
            except Exception:  # one broken execution must not keep the others (or the engine) down
                log.exception("durable execution %s could not be resumed", execution.durable_execution_arn)
        return count

    # --- the invoke service's sink ---------------------------------------------------------------
    async def start_execution(self, spec: "FunctionSpec", payload: bytes, request_id: str, *,
                              execution_name: str | None, wait: bool) -> "InvokeResult":
        if spec.not_emulated:  # an image: it cannot run here, so no execution starts (its logs say why)
            failed = await self.invoker.run(spec, payload, request_id, source="durable")
            return failed if wait else inv.InvokeResult(202, b"", None, request_id, executed_version=spec.version)
        name = execution_name or request_id
        if not EXECUTION_NAME.fullmatch(name):
            raise inv.InvalidParameterValue(
                f"1 validation error detected: Value '{name}' at 'durableExecutionName' failed to satisfy constraint:"
                " Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ (1-64 characters)")
        await self.ensure_started()
        from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput

        text = payload.decode()
        existing = await asyncio.to_thread(self._by_name, spec.name, name) if execution_name else None
        if existing is not None:
            # Lambda's idempotency: the same name and input is the same execution.
            if (existing.start_input.input or "{}") != text:
                raise AwsError("DurableExecutionAlreadyStartedException",
                               f"A durable execution named {name} already exists with another input.", 409,
                               extra={"DurableExecutionArn": existing.durable_execution_arn})
            arn = existing.durable_execution_arn
        else:
            start = StartDurableExecutionInput(
                account_id=self.settings.account_id, function_name=spec.name, function_qualifier=spec.version,
                execution_name=name, execution_timeout_seconds=int(spec.durable_timeout or 0),
                execution_retention_period_days=spec.durable_retention_days or 14, input=text)
            started = await asyncio.to_thread(self.executor.start_execution, start)
            arn = str(started.execution_arn)
        if not wait:
            return inv.InvokeResult(202, b"", None, request_id, executed_version=spec.version,
                                    durable_execution_arn=arn)
        limit = min(SYNC_WAIT_S, float(spec.timeout), float(spec.durable_timeout or SYNC_WAIT_S))
        # The execution timeout ends the execution itself: wait a little past it for its TIMED_OUT.
        execution = await self._wait(arn, limit + (1.0 if limit == spec.durable_timeout else 0.0))
        return _sync_result(execution, arn, request_id, spec.version, limit)

    async def _wait(self, arn: str, timeout_s: float) -> "Execution | None":
        """The execution once it ended, or None if it is still running after `timeout_s`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(arn, []).append(future)
        try:
            execution = await asyncio.to_thread(self._load, arn)
            if not execution.is_complete:
                try:
                    await asyncio.wait_for(asyncio.shield(future), timeout_s)
                except asyncio.TimeoutError:
                    return None
                execution = await asyncio.to_thread(self._load, arn)
            return execution if execution.is_complete else None
        finally:
            waiters = self._waiters.get(arn, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(arn, None)

    def _terminal(self, arn: str) -> None:
        """From the backend's threads: an execution ended; wake whoever waits for it."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake, arn)

    def _wake(self, arn: str) -> None:
        for future in self._waiters.get(arn, []):
            if not future.done():
                future.set_result(None)

    # --- replays and chained invokes, on the engine's loop ---------------------------------------
    async def _replay(self, function_name: str, payload: bytes, request_id: str, arn: str) -> "InvokeResult":
        from aws_durable_execution_sdk_python_testing.exceptions import ResourceNotFoundException

        try:
            spec = self.invoker.resolve(function_name)
        except inv.FunctionNotFound as exc:
            raise ResourceNotFoundException(exc.message) from None
        return await self.invoker.run(spec, payload, request_id, source="durable",
                                      note=f"DURABLE ExecutionArn: {arn}")

    async def _invoke_plain(self, identifier: str, payload: bytes) -> "InvokeResult":
        return await self.invoker.invoke(identifier, payload, source="durable")

    def _function_arn(self, function_name: str) -> str:
        spec = self.invoker.functions.get(function_name)
        if spec is not None:
            return spec.arn
        return f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:function:{function_name}"

    # --- reading -------------------------------------------------------------------------------
    def _load(self, arn: str) -> "Execution":
        assert self.store is not None
        return self.store.load(arn)

    def _by_name(self, function_name: str, name: str) -> "Execution | None":
        assert self.store is not None
        for execution in self.store.list_all():
            if execution.start_input.function_name == function_name and execution.start_input.execution_name == name:
                return execution
        return None

    def _resolve_arn(self, arn: str) -> "Execution":
        from aws_durable_execution_sdk_python_testing.exceptions import ResourceNotFoundException

        try:
            return self._load(arn)
        except ResourceNotFoundException:
            raise NotFoundError(f"no durable execution {arn}",
                                hint="`samlite executions` lists the executions.") from None

    def delete_execution(self, arn: str) -> None:
        """DeleteDurableExecution: an ended execution's record goes; a running one must be stopped first."""
        from aws_durable_execution_sdk_python_testing.exceptions import ExecutionConflictException

        execution = self._load(arn)  # ResourceNotFoundException
        if not execution.is_complete:
            raise ExecutionConflictException("The durable execution is still running; stop it before deleting it.")
        assert self.store is not None
        self.store.delete(arn)

    # --- control surface (`samlite executions`) ------------------------------------------------
    async def cli_list(self, function: str | None = None) -> list[dict[str, Any]]:
        if self._executor is None and not self.path.exists():
            return []  # no durable function ever ran here: the backend need not start for this
        await self.ensure_started()
        name = None
        if function:
            name = _function_name(function)
        executions = await asyncio.to_thread(lambda: self.store.list_all() if self.store else [])
        rows = [_summary(e) for e in executions if name is None or e.start_input.function_name == name]
        rows.sort(key=lambda r: r["started"] or "", reverse=True)
        return rows

    async def cli_show(self, arn: str) -> dict[str, Any]:
        await self.ensure_started()
        execution = await asyncio.to_thread(self._resolve_arn, arn)
        history = await asyncio.to_thread(self.executor.get_execution_history, arn, True, False, None, 1000)
        events = _plain(history.to_dict().get("Events", []))
        return {**_summary(execution), "input": _input(execution), "result": _outcome(execution)[0],
                "error": _outcome(execution)[1], "events": events}

    async def cli_fire(self, arn: str) -> dict[str, Any]:
        await self.ensure_started()
        execution = await asyncio.to_thread(self._resolve_arn, arn)
        if execution.is_complete:
            raise UsageError(f"the execution has ended ({execution.current_status().value}): nothing to fire")
        fired = await asyncio.to_thread(self.executor.fire_due_now, arn)
        return {"arn": arn, "fired": fired}

    # --- the web console: reads of what the running backend keeps (never starts it) ----------
    @property
    def started(self) -> bool:
        """Whether the backend runs. It starts at engine start when executions were kept, else at
        the first durable invocation: not started means no execution exists."""
        return self._executor is not None and self.store is not None

    async def console_list(self, function: str | None, limit: int) -> list[dict[str, Any]]:
        """The `limit` newest executions (of one function), newest first, with what each waits for."""
        if not self.started:
            return []
        store = self.store
        assert store is not None
        executions = await asyncio.to_thread(store.newest, function, limit)
        return [{**_summary(e), "waits": [] if e.is_complete else _waits(e)} for e in executions]

    async def console_history(self, arn: str, max_events: int) -> dict[str, Any]:
        """One execution: its summary, input, outcome and its history's first `max_events` events."""
        if not self.started:
            raise NotFoundError(f"no durable execution {arn}")
        execution = await asyncio.to_thread(self._resolve_arn, arn)
        history = await asyncio.to_thread(self.executor.get_execution_history, arn, True, False, None, max_events)
        data = history.to_dict()
        result, error = _outcome(execution)
        return {**_summary(execution), "waits": [] if execution.is_complete else _waits(execution),
                "input": _input(execution), "result": result, "error": error,
                "events": _plain(data.get("Events", [])), "more_events": bool(data.get("NextMarker"))}

    async def console_fire(self, arn: str) -> dict[str, Any]:
        if not self.started:
            raise NotFoundError(f"no durable execution {arn}")
        return await self.cli_fire(arn)


def _waits(execution: "Execution") -> list[dict[str, Any]]:
    """Every pending wait (its due time), step retry (its next attempt), callback (its id) and
    chained invoke of a running execution."""
    out: list[dict[str, Any]] = []
    for op in list(execution.operations):
        kind, status, name = op.operation_type.value, op.status.value, op.name or op.operation_id
        if kind == "WAIT" and status == "STARTED" and op.wait_details is not None:
            out.append({"kind": "wait", "name": name, "due": _iso(op.wait_details.scheduled_end_timestamp)})
        elif kind == "STEP" and status == "PENDING" and op.step_details is not None:
            out.append({"kind": "retry", "name": name, "due": _iso(op.step_details.next_attempt_timestamp)})
        elif kind == "CALLBACK" and status == "STARTED" and op.callback_details is not None:
            out.append({"kind": "callback", "name": name, "callback_id": op.callback_details.callback_id})
        elif kind == "CHAINED_INVOKE" and status == "STARTED":
            out.append({"kind": "invoke", "name": name})
    return out


def _plain(value: Any) -> Any:
    """History events as JSON values: timestamps as ISO 8601, payload bytes as text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _function_name(function: str) -> str:
    """A function's name from its name, partial or full ARN (the qualifier dropped)."""
    parts = function.split(":")
    if function.startswith("arn:") and len(parts) >= 7:
        return parts[6]
    return parts[0]


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat(timespec="milliseconds") if ts is not None else None


def _summary(execution: "Execution") -> dict[str, Any]:
    op = execution.get_operation_execution_started()
    return {"arn": execution.durable_execution_arn, "function": execution.start_input.function_name,
            "name": execution.start_input.execution_name, "status": execution.current_status().value,
            "started": _iso(op.start_timestamp), "ended": _iso(op.end_timestamp),
            "waiting": None if execution.is_complete else _waiting(execution),
            "invocations": len(getattr(execution, "invocation_completions", []) or [])}


def _waiting(execution: "Execution") -> str | None:
    """What a running execution waits for: its earliest timer, or a callback, or nothing."""
    due = [op.wait_details.scheduled_end_timestamp for op in execution.operations
           if op.operation_type.value == "WAIT" and op.status.value == "STARTED"
           and op.wait_details is not None and op.wait_details.scheduled_end_timestamp is not None]
    retries = [op.step_details.next_attempt_timestamp for op in execution.operations
               if op.operation_type.value == "STEP" and op.status.value == "PENDING"
               and op.step_details is not None and op.step_details.next_attempt_timestamp is not None]
    if due:
        return f"wait until {_iso(min(due))}"
    if retries:
        return f"step retry at {_iso(min(retries))}"
    callbacks = [op.name or op.operation_id for op in execution.operations
                 if op.operation_type.value == "CALLBACK" and op.status.value == "STARTED"]
    if callbacks:
        return f"callback {callbacks[0]}"
    invokes = [op.name or op.operation_id for op in execution.operations
               if op.operation_type.value == "CHAINED_INVOKE" and op.status.value == "STARTED"]
    if invokes:
        return f"invoke {invokes[0]}"
    return None


def _input(execution: "Execution") -> str | None:
    details = execution.get_operation_execution_started().execution_details
    return details.input_payload if details is not None else None


def _outcome(execution: "Execution") -> tuple[str | None, dict[str, Any] | None]:
    """(Result, Error) of an ended execution."""
    out = execution.result
    if out is None:
        return None, None
    if out.status.value == "SUCCEEDED":
        return out.result, None
    return None, dict(out.error.to_dict()) if out.error is not None else {"ErrorMessage": "the execution failed"}


def _sync_result(execution: "Execution | None", arn: str, request_id: str, version: str,
                 limit_s: float) -> "InvokeResult":
    """What a synchronous invocation of a durable function answers: the execution's result, or its
    error as a function error (the Invoke's X-Amz-Function-Error)."""
    if execution is None:
        body = proto.error_payload(f"The synchronous invocation timed out after {limit_s:g} seconds (the lowest of"
                                   " 15 minutes, the function timeout and the execution timeout); the durable"
                                   " execution goes on, and GetDurableExecution reports its end.",
                                   "Sandbox.Timedout")
        return inv.InvokeResult(200, body, "Unhandled", request_id, executed_version=version,
                                error_type="Sandbox.Timedout", durable_execution_arn=arn)
    result, error = _outcome(execution)
    if error is None:
        return inv.InvokeResult(200, (result if result is not None else "null").encode(), None, request_id,
                                executed_version=version, durable_execution_arn=arn)
    status = execution.current_status().value
    error_type = error.get("ErrorType") or ("Sandbox.Timedout" if status == "TIMED_OUT" else "DurableExecutionFailed")
    body = json.dumps({"errorType": error_type, "errorMessage": error.get("ErrorMessage") or status,
                       **({"stackTrace": error["StackTrace"]} if error.get("StackTrace") else {})}).encode()
    return inv.InvokeResult(200, body, "Unhandled", request_id, executed_version=version, error_type=error_type,
                            durable_execution_arn=arn)

"""AWS's local durable execution backend, run inside the engine.

The checkpoint semantics (validation of every operation update, the operation state machine,
checkpoint tokens and their idempotency, the paginated execution state, callbacks with their
timeouts and heartbeats, step retries, chained invokes, the history) are those of
`aws-durable-execution-sdk-python-testing`, AWS's own local implementation: its `Executor`,
`CheckpointProcessor`, `Execution` model and SQLite store are used as a library. What samlite
adds here is how they meet the engine:

- `EngineInvoker`: a replay runs through samlite's invoke path (warm workers, limits, logs,
  metrics), on the engine's loop, instead of a boto3 Invoke;
- `EngineChildDispatcher`: `context.invoke` of another function resolves against the deployed
  functions: a durable one starts a child execution, a plain one is invoked once;
- `SamliteExecutor`: AWS-shaped execution ARNs, a hook on every terminal transition, and
  `recover`/`fire_due_now`, which the library has no notion of (its timers live in memory only).

The library's executor runs on threads of its own (a scheduler loop, a lane per execution,
invocation pools); everything here that reaches into the engine goes through
`asyncio.run_coroutine_threadsafe` onto the engine's loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Coroutine

from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    InitialExecutionState,
)
from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.checkpoint.processor import DEFAULT_MAX_INVOCATION_PAGE_BYTES
from aws_durable_execution_sdk_python_testing.child_dispatcher import (
    ChainedInvokeRequest,
    ChildOutcome,
    DispatchResult,
    FunctionTarget,
    RunInvocation,
    StartChild,
    function_not_found,
    result_outcome,
)
from aws_durable_execution_sdk_python_testing.exceptions import (
    DurableFunctionsTestError,
)
from aws_durable_execution_sdk_python_testing.execution import Execution, OperationPaginatorState
from aws_durable_execution_sdk_python_testing.executor import Executor
from aws_durable_execution_sdk_python_testing.invoker import InvokeResponse
from aws_durable_execution_sdk_python_testing.model import InvocationCompletedDetails, StartDurableExecutionInput
from aws_durable_execution_sdk_python_testing.token import CallbackToken
from aws_durable_execution_sdk_python_testing.worker.checkpoint_tasks import CallableTask

if TYPE_CHECKING:
    from samlite.core.invoke import InvokeResult
    from samlite.core.runtime import FunctionSpec

log = logging.getLogger("samlite.engine")

# A chained invoke of a plain function, or one replay, never waits longer than this for the
# engine to answer (the invoke service enforces the function's own timeout well before).
ENGINE_ANSWER_S = 960.0


def execution_arn(function_arn: str, qualifier: str, name: str, invocation_id: str) -> str:
    """Lambda's durable execution ARN: `<function ARN>:<qualifier>/durable-execution/<name>/<id>`."""
    return f"{function_arn}:{qualifier}/durable-execution/{name}/{invocation_id}"


class EngineInvoker:
    """The library's `Invoker`: one replay of a durable function through the engine's invoke path.

    `run(function_name, payload, request_id, execution_arn)` is a coroutine on the engine's loop
    returning the `InvokeResult`; it raises `ResourceNotFoundException` for an unknown function.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 run: Callable[[str, bytes, str, str], Coroutine[Any, Any, "InvokeResult"]],
                 max_page_bytes: int = DEFAULT_MAX_INVOCATION_PAGE_BYTES) -> None:
        self._loop = loop
        self._run = run
        self._max_page_bytes = max_page_bytes

    def create_invocation_input(self, execution: Execution) -> DurableExecutionInvocationInput:
        paginator = OperationPaginatorState.pin(execution)
        operations, next_marker = paginator.page(None, self._max_page_bytes)
        return DurableExecutionInvocationInput(
            durable_execution_arn=execution.durable_execution_arn,
            checkpoint_token=execution.get_new_checkpoint_token(),
            initial_execution_state=InitialExecutionState(operations=operations, next_marker=next_marker or ""),
            updated_operation_ids=list(execution.updated_operation_ids),
        )

    def invoke(self, function_name: str, input: DurableExecutionInvocationInput,
               endpoint_url: str | None = None, tenant_id: str | None = None, account_id: str | None = None,
               region_name: str | None = None) -> InvokeResponse:
        request_id = str(uuid.uuid4())
        payload = json.dumps(input.to_json_dict()).encode()
        future = asyncio.run_coroutine_threadsafe(
            self._run(function_name, payload, request_id, input.durable_execution_arn), self._loop)
        result = future.result(ENGINE_ANSWER_S)
        if result.function_error:
            # An unhandled error, a timeout or a crash of the invocation itself (not of the
            # execution, which the SDK reports as FAILED): the backend retries the invocation.
            raise invocation_error(result)
        return InvokeResponse.from_payload(result.payload, result.request_id)

    def update_endpoint(self, endpoint_url: str, region_name: str) -> None:
        """Nothing to do: replays never leave the engine."""

    def inherit_endpoint(self, child_execution_arn: str, parent_execution_arn: str) -> None:
        """Nothing to do: replays never leave the engine."""


def invocation_error(result: "InvokeResult") -> DurableFunctionsTestError:
    """A failed replay as the exception the backend records. The backend names an error by its
    exception's class, so the class is named after the invocation's own error type
    (`Sandbox.Timedout`, `Runtime.ExitError`, the handler's exception): the execution's Error then
    reads as the function's error did, not as this module's."""
    try:
        data = json.loads(result.payload)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    error_type = str(data.get("errorType") or result.error_type or "Unhandled")
    message = str(data.get("errorMessage") or result.payload.decode(errors="replace"))
    named = type(error_type, (DurableFunctionsTestError,), {"__module__": "builtins", "__qualname__": error_type})
    return named(f"invocation {result.request_id} failed: {message}")


class EngineChildDispatcher:
    """`context.invoke(...)` targets: the deployed functions (`functions`, the engine's own map).

    `invoke_plain(identifier, payload)` invokes a plain function once on the engine's loop and
    returns the `InvokeResult`."""

    def __init__(self, functions: dict[str, "FunctionSpec"], loop: asyncio.AbstractEventLoop,
                 invoke_plain: Callable[[str, bytes], Coroutine[Any, Any, "InvokeResult"]]) -> None:
        self._functions = functions
        self._loop = loop
        self._invoke_plain = invoke_plain

    def preflight(self, target: FunctionTarget) -> ChildOutcome | None:
        if target.name not in self._functions:
            return function_not_found(target.name).outcome
        return None

    def dispatch(self, request: ChainedInvokeRequest) -> DispatchResult:
        spec = self._functions.get(request.function_name)
        if spec is None:
            return function_not_found(request.function_name)
        if spec.durable_timeout is not None:
            return StartChild(child_start=StartDurableExecutionInput(
                account_id=request.account_id, function_name=request.function_name,
                function_qualifier=request.child_qualifier(), execution_name=str(uuid.uuid4()),
                execution_timeout_seconds=spec.durable_timeout,
                execution_retention_period_days=spec.durable_retention_days or 14,
                invocation_id=None, trace_fields=request.trace_fields, tenant_id=request.tenant_id,
                input=request.payload, lambda_endpoint=None))
        identifier = request.invoke_identifier()
        payload = (request.payload or "{}").encode()
        return RunInvocation(invocation=lambda: self._run_plain(identifier, payload))

    def _run_plain(self, identifier: str, payload: bytes) -> ChildOutcome:
        try:
            result = asyncio.run_coroutine_threadsafe(self._invoke_plain(identifier, payload),
                                                      self._loop).result(ENGINE_ANSWER_S)
        except Exception as exc:  # noqa: BLE001 - the operation fails with the refusal (throttle, not found)
            return ChildOutcome(error=ErrorObject(message=str(exc), type=type(exc).__name__, data=None,
                                                  stack_trace=None))
        body = result.payload.decode("utf-8", errors="replace")
        if result.function_error:
            try:
                data = json.loads(body)
            except ValueError:
                data = {"errorMessage": body}
            return ChildOutcome(error=ErrorObject(message=data.get("errorMessage"), type=data.get("errorType"),
                                                  data=None, stack_trace=data.get("stackTrace")))
        return result_outcome(body or None)


class SamliteExecutor(Executor):
    """The library's executor with AWS-shaped ARNs, a terminal-transition hook and restart recovery."""

    def __init__(self, *args: Any, function_arn: Callable[[str], str], on_terminal: Callable[[str], None],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._function_arn = function_arn
        self._on_terminal = on_terminal

    def _create_execution(self, input: StartDurableExecutionInput,
                          parent_execution_arn: str | None = None) -> Execution:
        invocation_id = input.invocation_id or str(uuid.uuid4())
        if input.invocation_id is None:
            input = StartDurableExecutionInput(
                account_id=input.account_id, function_name=input.function_name,
                function_qualifier=input.function_qualifier, execution_name=input.execution_name,
                execution_timeout_seconds=input.execution_timeout_seconds,
                execution_retention_period_days=input.execution_retention_period_days,
                invocation_id=invocation_id, trace_fields=input.trace_fields, tenant_id=input.tenant_id,
                input=input.input, lambda_endpoint=input.lambda_endpoint)
        arn = execution_arn(self._function_arn(input.function_name), input.function_qualifier,
                            input.execution_name, invocation_id)
        execution = Execution(durable_execution_arn=arn, start_input=input, operations=[])
        execution.region = self.region
        execution.parent_execution_arn = parent_execution_arn
        execution.start(now=self._clock.now())
        self._store.save(execution)
        return execution

    def _complete_events(self, execution_arn: str) -> None:
        super()._complete_events(execution_arn)
        self._on_terminal(execution_arn)

    def get_execution_history(self, execution_arn: str, *args: Any, **kwargs: Any) -> Any:
        """The library's history, with each InvocationCompleted event's details (start, end and
        the replay's request id) put back: 1.4.0 drops them when it numbers the events."""
        response = super().get_execution_history(execution_arn, *args, **kwargs)
        completions = {c.end_timestamp: c for c in self.get_execution(execution_arn).invocation_completions}
        events = []
        for event in response.events:
            done = completions.get(event.event_timestamp)
            if event.event_type == "InvocationCompleted" and event.invocation_completed_details is None and done:
                event = dataclasses.replace(event, invocation_completed_details=InvocationCompletedDetails(
                    start_timestamp=done.start_timestamp, end_timestamp=done.end_timestamp,
                    request_id=done.request_id))
            events.append(event)
        return dataclasses.replace(response, events=events)

    # --- what the library keeps in memory only, rebuilt from the store ------------------------
    def recover(self, execution: Execution) -> None:
        """Resume an execution the engine found running at start: re-arm its execution timeout
        (what is left of it) and its earliest timer (a wait or a step retry), or, with no timer,
        invoke it now (it was running, or waits for a callback: a replay that finds nothing new
        returns PENDING again)."""
        arn = execution.durable_execution_arn
        self._completion_events[arn] = self._scheduler.create_event()
        started = execution.get_operation_execution_started().start_timestamp
        timeout_s = execution.start_input.execution_timeout_seconds
        if timeout_s > 0 and started is not None:
            left = (started + timedelta(seconds=timeout_s) - self._clock.now()).total_seconds()

            def timed_out() -> None:
                self.on_timed_out(arn, ErrorObject.from_message(f"Execution timed out after {timeout_s} seconds."))

            self._execution_timeouts[arn] = self._scheduler.call_later(
                timed_out, delay=max(0.0, left), completion_event=self._completion_events[arn])
        self._rearm_callbacks(execution)
        if execution.is_paused:
            return
        if self._earliest_pending_timestamp(execution) is not None:
            self._schedule_earliest_pending(arn)
        else:
            self._invoke_execution(arn)

    def _rearm_callbacks(self, execution: Execution) -> None:
        """Re-arm each pending callback's TimeoutSeconds (from when it started) and
        HeartbeatTimeoutSeconds (from its last heartbeat, or its start), with what is left of them:
        one that passed while the engine was down fires at once, and the SDK sees the callback
        time out as on AWS (`Callback.Timeout` / `Callback.Heartbeat`)."""
        arn = execution.durable_execution_arn
        now = self._clock.now()
        completion_event = self._completion_events.get(arn)
        for op in list(execution.operations):
            if op.operation_type.value != "CALLBACK" or op.status.value != "STARTED" or op.callback_details is None:
                continue
            callback_id = op.callback_details.callback_id
            options = _callback_options(execution, op.operation_id)
            started = op.start_timestamp
            if options is None or started is None:
                continue
            timeout_left = heartbeat_left = None
            if options.timeout_seconds > 0:
                timeout_left = (started + timedelta(seconds=options.timeout_seconds) - now).total_seconds()
            if options.heartbeat_timeout_seconds > 0:
                beat = _last_heartbeat(self._store, callback_id)
                since = max(started, beat) if beat is not None else started
                heartbeat_left = (since + timedelta(seconds=options.heartbeat_timeout_seconds) - now).total_seconds()
            if timeout_left is not None and heartbeat_left is not None and max(timeout_left, heartbeat_left) <= 0:
                # Both passed while the engine was down: the callback timed out by the earlier one only.
                if timeout_left <= heartbeat_left:
                    heartbeat_left = None
                else:
                    timeout_left = None
            if timeout_left is not None:
                self._callback_timeouts[callback_id] = self._scheduler.call_later(
                    _bind(self._on_callback_timeout, arn, callback_id), delay=max(0.0, timeout_left),
                    completion_event=completion_event)
            if heartbeat_left is not None:
                self._callback_heartbeats[callback_id] = self._scheduler.call_later(
                    _bind(self._on_callback_heartbeat_timeout, arn, callback_id), delay=max(0.0, heartbeat_left),
                    completion_event=completion_event)

    def _process_callback_heartbeat(self, callback_id: str) -> None:
        """The library's heartbeat (it re-arms the heartbeat timer in memory), with the time
        written down: a restart re-arms the heartbeat timeout from it."""
        super()._process_callback_heartbeat(callback_id)
        record = getattr(self._store, "record_heartbeat", None)
        if record is not None:
            record(CallbackToken.from_str(callback_id).execution_arn, callback_id, self._clock.now())

    def fire_due_now(self, execution_arn: str) -> int:
        """Complete every pending wait and step retry of the execution now, as if their time had
        come, and invoke it: the tests' way past a long wait. Returns how many fired."""
        self._validate_execution_arn(execution_arn)

        def fire() -> int:
            execution = self._store.load(execution_arn)
            if execution.is_complete:
                return 0
            now = self._clock.now()
            fired = 0
            for op in list(execution.operations):
                kind, status = op.operation_type.value, op.status.value
                if kind == "WAIT" and status == "STARTED":
                    execution.complete_wait(op.operation_id, now=now)
                    fired += 1
                elif kind == "STEP" and status == "PENDING":
                    execution.complete_retry(op.operation_id)
                    fired += 1
            if fired:
                self._store.update(execution)
            return fired

        fired = self._registry.submit(execution_arn, CallableTask(fire)).result()
        if fired:
            self._invoke_execution(execution_arn)
            self._schedule_earliest_pending(execution_arn)
        return fired



def _callback_options(execution: Execution, operation_id: str) -> Any:
    """The CallbackOptions the callback was started with (its START update), or None."""
    for update in execution.updates:
        if update.operation_id == operation_id and update.action.value == "START" and update.callback_options:
            return update.callback_options
    return None


def _last_heartbeat(store: Any, callback_id: str) -> datetime | None:
    read = getattr(store, "last_heartbeat", None)
    return read(callback_id) if read is not None else None


def _bind(handler: Callable[[str, str], None], arn: str, callback_id: str) -> Callable[[], None]:
    def fire() -> None:
        handler(arn, callback_id)
    return fire

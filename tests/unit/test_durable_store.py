"""The durable execution store: loads share one object per execution, saves are on disk at once."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python_testing.exceptions import ResourceNotFoundException
from aws_durable_execution_sdk_python_testing.execution import Execution
from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput

from samlite.services.durable.backend import execution_arn
from samlite.services.durable.store import ExecutionStore


def _execution(name: str, now: datetime | None = None) -> Execution:
    start = StartDurableExecutionInput(account_id="123456789012", function_name="fn", function_qualifier="$LATEST",
                                       execution_name=name, execution_timeout_seconds=60,
                                       execution_retention_period_days=1, invocation_id=f"id-{name}", input="{}")
    arn = execution_arn("arn:aws:lambda:us-east-1:123456789012:function:fn", "$LATEST", name, f"id-{name}")
    execution = Execution(durable_execution_arn=arn, start_input=start, operations=[])
    execution.start(now=now)
    return execution


def test_saves_survive_reopening_and_loads_share_the_object(tmp_path: Path) -> None:
    path = tmp_path / "durable" / "executions.db"
    store = ExecutionStore.open(path)
    execution = _execution("a")
    store.save(execution)
    assert store.load(execution.durable_execution_arn) is execution
    execution.complete_success('"done"')
    store.update(execution)
    # A second store on the same file (another engine after a crash) reads what was written.
    again = ExecutionStore.open(path)
    loaded = again.load(execution.durable_execution_arn)
    assert loaded is not execution and loaded.is_complete and loaded.result is not None
    assert [e.durable_execution_arn for e in again.list_all()] == [execution.durable_execution_arn]
    again.delete(execution.durable_execution_arn)
    with pytest.raises(ResourceNotFoundException):
        again.load(execution.durable_execution_arn)
    store.close()
    again.close()
    store.save(_execution("late"))  # after close (the engine stopping): ignored, no error


def test_the_stored_document_is_the_librarys(tmp_path: Path) -> None:
    # The store converts operations one by one (cached); the document must stay the library's own.
    import json

    store = ExecutionStore.open(tmp_path / "executions.db")
    execution = _execution("doc")
    execution.complete_success('"r"')
    assert json.loads(json.dumps(store._json_dict(execution))) == json.loads(json.dumps(execution.to_json_dict()))
    store.close()


def test_ended_executions_past_their_retention_are_purged(tmp_path: Path) -> None:
    store = ExecutionStore.open(tmp_path / "executions.db")
    running, ended = _execution("running"), _execution("ended")
    ended.complete_success("1")
    store.save(running)
    store.save(ended)
    end = ended.get_operation_execution_started().end_timestamp
    assert end is not None
    assert store.purge_expired(end.timestamp() + 86400 - 60) == 0  # retention: 1 day
    assert store.purge_expired(end.timestamp() + 86400 + 60) == 1
    assert [e.durable_execution_arn for e in store.list_all()] == [running.durable_execution_arn]
    store.close()


def test_newest_lists_by_start_time_per_function(tmp_path: Path) -> None:
    store = ExecutionStore.open(tmp_path / "executions.db")
    first = _execution("first", datetime(2026, 1, 1, tzinfo=timezone.utc))
    second = _execution("second", datetime(2026, 1, 2, tzinfo=timezone.utc))
    for execution in (first, second):
        store.save(execution)
    names = [e.start_input.execution_name for e in store.newest(None, 50)]
    assert names == ["second", "first"]
    assert [e.start_input.execution_name for e in store.newest("fn", 1)] == ["second"]
    assert store.newest("other", 50) == []
    store.close()


def test_heartbeats_are_kept_and_go_with_their_execution(tmp_path: Path) -> None:
    path = tmp_path / "executions.db"
    store = ExecutionStore.open(path)
    kept, deleted = _execution("kept"), _execution("deleted")
    for execution in (kept, deleted):
        store.save(execution)
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    store.record_heartbeat(kept.durable_execution_arn, "cb-kept", at)
    store.record_heartbeat(deleted.durable_execution_arn, "cb-deleted", at)
    later = datetime(2026, 1, 2, 3, 5, tzinfo=timezone.utc)
    store.record_heartbeat(kept.durable_execution_arn, "cb-kept", later)  # the last one counts
    store.delete(deleted.durable_execution_arn)
    store.close()
    again = ExecutionStore.open(path)  # after a restart
    assert again.last_heartbeat("cb-kept") == later
    assert again.last_heartbeat("cb-deleted") is None and again.last_heartbeat("never") is None
    again.close()


def test_execution_arn_is_lambdas() -> None:
    assert execution_arn("arn:aws:lambda:us-east-1:123456789012:function:fn", "$LATEST", "n", "i") == \
        "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST/durable-execution/n/i"


def test_a_failed_replay_is_recorded_under_the_invocations_error_type() -> None:
    from aws_durable_execution_sdk_python.lambda_service import ErrorObject

    from samlite.core.invoke import InvokeResult
    from samlite.services.durable.backend import invocation_error

    result = InvokeResult(200, b'{"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}',
                          "Unhandled", "rid", error_type="Sandbox.Timedout")
    error = ErrorObject.from_exception(invocation_error(result))
    assert error.type == "Sandbox.Timedout"
    assert error.message == "invocation rid failed: Task timed out after 1.00 seconds"
    garbled = ErrorObject.from_exception(invocation_error(InvokeResult(200, b"not json", "Unhandled", "r2")))
    assert garbled.type == "Unhandled" and garbled.message == "invocation r2 failed: not json"

"""Bounded logs and metrics on a real engine: Logs::LogGroup retention and DeletionPolicy,
PutRetentionPolicy/DeleteRetentionPolicy/DeleteLogGroup/DeleteLogStream, Lambda's 256 KB event
limit, the default caps enforced by the sweep, and a stack delete taking its logs along."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from samlite.testing import EngineHandle, wait_for, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Keep:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, CodeUri: src/, Handler: app.handler}
  KeepLogs:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    Properties:
      LogGroupName: !Sub /aws/lambda/${Keep}
      RetentionInDays: 7
  Drop:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, CodeUri: src/, Handler: app.handler}
  DropLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${Drop}
      RetentionInDays: 3
  Plain:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, CodeUri: src/, Handler: app.handler}
"""
APP = '''\
def handler(event, context):
    print(event.get("line", "hello"))
    return "ok"
'''
MAX_EVENT_BYTES = 256 * 1024 - 26


@pytest.fixture(scope="module")
def stack(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    template = write_project(tmp_path_factory.mktemp("retention") / "app", TEMPLATE, {"src/app.py": APP})
    samlite_module_engine.deploy(template, "retention")
    names = {f["FunctionName"] for f in samlite_module_engine.client("lambda").list_functions()["Functions"]}
    return {logical: next(n for n in names if f"-{logical}-" in n) for logical in ("Keep", "Drop", "Plain")}


def _invoke(engine: EngineHandle, name: str, line: str = "hello") -> str:
    reply = engine.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"line": line}))
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply
    return str(reply["ResponseMetadata"]["RequestId"])


def _invoke_logged(engine: EngineHandle, name: str, line: str = "hello") -> None:
    """Invoke and wait until this invocation's REPORT, its last event, is stored (events are written
    ~50 ms after the reply). Counting REPORTs would let an earlier test's late REPORT stand in."""
    logs = engine.client("logs")
    request_id = _invoke(engine, name, line)
    wait_for(lambda: _events(logs, f"/aws/lambda/{name}", f'"REPORT RequestId: {request_id}"'),
             message=f"{name}'s REPORT for {request_id}")


def _events(logs: Any, group: str, pattern: str = "") -> list[dict[str, Any]]:
    try:
        return logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []


def _groups(logs: Any) -> dict[str, dict[str, Any]]:
    return {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]}


def test_declared_log_groups_exist_with_their_retention(samlite_module_engine: EngineHandle,
                                                        stack: dict[str, str]) -> None:
    groups = _groups(samlite_module_engine.client("logs"))
    assert groups[f"/aws/lambda/{stack['Keep']}"]["retentionInDays"] == 7
    assert groups[f"/aws/lambda/{stack['Drop']}"]["retentionInDays"] == 3


def test_a_line_over_256_kb_is_split_into_events(samlite_module_engine: EngineHandle, stack: dict[str, str]) -> None:
    engine, logs = samlite_module_engine, samlite_module_engine.client("logs")
    line = "big-" + "é" * 400_000 + "-end"  # 800 KB in UTF-8
    _invoke(engine, stack["Plain"], line)
    group = f"/aws/lambda/{stack['Plain']}"
    parts = wait_for(lambda: [e["message"] for e in _events(logs, group) if e["message"].startswith(("big-", "é"))
                              or e["message"].endswith("-end")] if any(
        e["message"].endswith("-end") for e in _events(logs, group)) else None, message="the split line")
    assert len(parts) == 4 and all(len(p.encode()) <= MAX_EVENT_BYTES for p in parts)
    assert "".join(parts) == line


def test_retention_policy_calls(samlite_module_engine: EngineHandle, stack: dict[str, str]) -> None:
    engine, logs = samlite_module_engine, samlite_module_engine.client("logs")
    _invoke_logged(engine, stack["Plain"])
    group = f"/aws/lambda/{stack['Plain']}"
    wait_for(lambda: group in _groups(logs), message="the Plain group")
    assert "retentionInDays" not in _groups(logs)[group]
    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    assert _groups(logs)[group]["retentionInDays"] == 14
    with pytest.raises(logs.exceptions.InvalidParameterException, match="retentionInDays"):
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_retention_policy(logGroupName="/aws/lambda/nope", retentionInDays=1)
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in _groups(logs)[group]


def test_delete_log_stream_and_group(samlite_module_engine: EngineHandle, stack: dict[str, str]) -> None:
    engine, logs = samlite_module_engine, samlite_module_engine.client("logs")
    group = f"/aws/lambda/{stack['Plain']}"
    _invoke_logged(engine, stack["Plain"])
    stream = wait_for(lambda: logs.describe_log_streams(logGroupName=group)["logStreams"], message="a stream")[0]
    name = stream["logStreamName"]
    logs.delete_log_stream(logGroupName=group, logStreamName=name)
    assert name not in {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}
    assert all(e["logStreamName"] != name for e in _events(logs, group))
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_stream(logGroupName=group, logStreamName=name)
    _invoke_logged(engine, stack["Plain"])  # (an event written after the delete would make the group again)
    logs.delete_log_group(logGroupName=group)
    assert group not in _groups(logs)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=group)
    # The function keeps logging into a new group of the same name.
    _invoke(engine, stack["Plain"], "after the delete")
    assert wait_for(lambda: _events(logs, group, '"after the delete"'), message="the new group")


def test_deleting_the_stack_deletes_its_logs_except_retained_groups(samlite_module_engine: EngineHandle,
                                                                    stack: dict[str, str]) -> None:
    engine, logs = samlite_module_engine, samlite_module_engine.client("logs")
    for name in stack.values():
        _invoke_logged(engine, name)
    result = engine.cli("delete", "--stack-name", "retention", "--no-prompts")
    assert result.returncode == 0, result.stderr
    groups = _groups(logs)
    kept = f"/aws/lambda/{stack['Keep']}"
    assert list(groups) == [kept] and groups[kept]["retentionInDays"] == 7
    assert _events(logs, kept, "REPORT")
    assert not _events(logs, f"/aws/lambda/{stack['Drop']}") and not _events(logs, f"/aws/lambda/{stack['Plain']}")


# --- the default caps, enforced by the sweep ------------------------------------------------------
@pytest.fixture
def capped(tmp_path: Path) -> Iterator[EngineHandle]:
    handle = EngineHandle(tmp_path / "home", {"SAMLITE_MAX_LOG_EVENTS": "40", "SAMLITE_MAX_METRICS": "10",
                                              "SAMLITE_SWEEP_INTERVAL": "0.2"}).start()
    try:
        yield handle
    finally:
        handle.close()


def test_the_caps_keep_the_newest_log_events_and_metrics(capped: EngineHandle, tmp_path: Path) -> None:
    template = write_project(tmp_path / "app", TEMPLATE.split("  Keep:")[0] + "  Plain:" + TEMPLATE.split("  Plain:")[1],
                             {"src/app.py": APP})
    capped.deploy(template, "capped")
    name = capped.client("lambda").list_functions()["Functions"][0]["FunctionName"]
    for i in range(30):  # at least 4 events each (START, the line, END, REPORT)
        _invoke(capped, name, f"line {i}")
    logs = capped.client("logs")
    group = f"/aws/lambda/{name}"
    wait_for(lambda: _events(logs, group, '"line 29"') and len(_events(logs, group)) <= 40, timeout=20,
             message="the log cap")
    assert not _events(logs, group, '"line 0"')

    def invocations() -> int:
        out = subprocess.run([sys.executable, "-m", "samlite", "metrics", "--stack-name", "capped", "--output", "json"],
                             env=capped.env, capture_output=True, text=True, check=True).stdout
        return json.loads(out)["total"]["invocations"]

    wait_for(lambda: invocations() <= 10, timeout=20, message="the metric cap")


# --- a big store is read off the loop ----------------------------------------------------------
def test_a_full_scan_filter_does_not_hold_up_the_engine(tmp_path: Path) -> None:
    import threading

    from samlite.core.store import Store

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    store = Store(home / "state.db")
    store.append_log_events("/aws/lambda/big", "s", [(1, '{"level": "INFO", "n": %d}' % i) for i in range(300_000)])
    store.close()
    engine = EngineHandle(home).start()
    try:
        logs, sqs = engine.client("logs"), engine.client("sqs")
        found: list[Any] = []
        scan = threading.Thread(target=lambda: found.append(logs.filter_log_events(
            logGroupName="/aws/lambda/big", filterPattern='{ $.level = "ERROR" }')))
        scan.start()
        answered_during_scan = 0
        while scan.is_alive():
            sqs.list_queues()
            answered_during_scan += scan.is_alive()
        scan.join()
        assert found and found[0]["events"] == []
        assert answered_during_scan >= 3  # the endpoint kept answering while the scan ran
    finally:
        engine.close()

"""A pending callback's own TimeoutSeconds and HeartbeatTimeoutSeconds survive an engine restart:
the timeout passes while the engine is down (SIGKILL) and the callback times out at once after
the restart; a heartbeat timeout still running at a graceful stop fires, counted from the last
heartbeat, after the start. The handler sees the SDK's CallbackTimeoutError either way.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from samlite.testing import EngineHandle, wait_for, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Approval:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Timeout: 30
      DurableConfig:
        ExecutionTimeout: 600
"""

APP = """\
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration
from aws_durable_execution_sdk_python.exceptions import CallbackTimeoutError


@durable_execution
def handler(event, context: DurableContext):
    config = CallbackConfig(timeout=Duration.from_seconds(event.get("timeout", 0)),
                            heartbeat_timeout=Duration.from_seconds(event.get("heartbeat", 0)))
    callback = context.create_callback(name="approval", config=config)
    try:
        return {"approved": callback.result()}
    except CallbackTimeoutError as exc:
        return {"timed_out": type(exc).__name__, "message": str(exc)}
"""

TIMEOUT_S = 5  # the engine is killed well before this passes, and kept down until after it
HEARTBEAT_S = 8  # long enough that a stop and start under load fit before it


def history(lam: Any, arn: str) -> list[dict[str, Any]]:
    return lam.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]


def event(lam: Any, arn: str, kind: str) -> dict[str, Any] | None:
    return next((e for e in history(lam, arn) if e["EventType"] == kind), None)


def start(engine: EngineHandle, payload: dict[str, int]) -> tuple[Any, str, dict[str, Any]]:
    lam = engine.client("lambda")
    name = lam.list_functions()["Functions"][0]["FunctionName"]
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload))["DurableExecutionArn"]
    started = wait_for(lambda: event(lam, arn, "CallbackStarted"), timeout=60, interval=0.1,
                       message="the callback to start")
    return lam, arn, started


def ended(lam: Any, arn: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        got = lam.get_durable_execution(DurableExecutionArn=arn)
        return got if got["Status"] != "RUNNING" else None

    return wait_for(done, timeout=90, interval=0.2, message="the execution to end after the callback timed out")


def test_callback_timeouts_are_re_armed_after_a_restart(tmp_path: Path) -> None:
    engine = EngineHandle(tmp_path / "home").start()
    try:
        template = write_project(tmp_path / "project", TEMPLATE, {"src/app.py": APP})
        engine.deploy(template, "approval")

        # 1. TimeoutSeconds passes while the engine is down (SIGKILL): it fires at the restart.
        lam, arn, started = start(engine, {"timeout": TIMEOUT_S})
        engine.kill()
        killed_at = time.time()
        deadline = started["EventTimestamp"] + timedelta(seconds=TIMEOUT_S)
        assert killed_at < deadline.timestamp(), "the engine must be down before the callback's timeout"
        wait_for(lambda: time.time() > deadline.timestamp() + 0.5, timeout=TIMEOUT_S + 5, interval=0.1,
                 message="the callback's timeout to pass while the engine is down")
        engine.start()
        lam = engine.client("lambda")
        got = ended(lam, arn)
        assert got["Status"] == "SUCCEEDED", got
        assert json.loads(got["Result"])["timed_out"] == "CallbackTimeoutError"
        timed_out = event(lam, arn, "CallbackTimedOut")
        assert timed_out is not None
        assert timed_out["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Timeout"
        assert timed_out["EventTimestamp"].timestamp() > killed_at  # it fired after the restart

        # 2. HeartbeatTimeoutSeconds, counted from the last heartbeat, over a graceful stop and start.
        lam, arn, started = start(engine, {"heartbeat": HEARTBEAT_S})
        callback_id = started["CallbackStartedDetails"]["CallbackId"]
        # The heartbeat comes 3 s after the start: a timeout counted from the start would fire
        # 3 s before the one counted from the heartbeat, and fail the last assertion.
        beat_due = started["EventTimestamp"].timestamp() + 3
        wait_for(lambda: time.time() >= beat_due, timeout=10, interval=0.1, message="3 s after the callback's start")
        lam.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
        beat_at = time.time()
        engine.stop()
        engine.start()
        lam = engine.client("lambda")
        got = ended(lam, arn)
        assert got["Status"] == "SUCCEEDED", got
        assert json.loads(got["Result"])["timed_out"] == "CallbackTimeoutError"
        timed_out = event(lam, arn, "CallbackTimedOut")
        assert timed_out is not None
        assert timed_out["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Heartbeat"
        # Not before the heartbeat's own deadline (a little slack for clock rounding).
        assert timed_out["EventTimestamp"].timestamp() >= beat_at + HEARTBEAT_S - 0.5
    finally:
        engine.close()

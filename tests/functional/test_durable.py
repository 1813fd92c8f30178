"""Lambda durable functions end to end, with the Python SDK (aws-durable-execution-sdk-python):
a step, a 2 s wait, a callback sent from the test with boto3, a parallel block, an invoke of
another function and a step retried by its retry strategy; the execution's history; an engine
killed (SIGKILL) during a 5 s wait resumes the execution after restart; `samlite executions`;
and the durable APIs' answers to bad input.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from samlite.testing import EngineHandle, wait_for, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Workflow:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Timeout: 30
      DurableConfig:
        ExecutionTimeout: 600
        RetentionPeriodInDays: 7
      Environment:
        Variables:
          HELPER: !Ref Helper
  Sleeper:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: sleeper.handler
      CodeUri: src/
      AutoPublishAlias: live
      DurableConfig:
        ExecutionTimeout: 600
  Overdue:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: sleeper.handler
      CodeUri: src/
      Timeout: 30
      DurableConfig:
        ExecutionTimeout: 3
  Helper:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: helper.handler
      CodeUri: src/
"""

APP = """\
import os

from aws_durable_execution_sdk_python import DurableContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy


@durable_step
def double(step_context, x):
    return x * 2


@durable_step
def flaky(step_context):
    # Fails its first two attempts: the retry strategy runs it a third time.
    if step_context.attempt < 3:
        raise RuntimeError(f"attempt {step_context.attempt} fails")
    return step_context.attempt


RETRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(
    max_attempts=3, initial_delay=Duration.from_seconds(1), backoff_rate=1,
    jitter_strategy=JitterStrategy.NONE)))


@durable_execution
def handler(event, context: DurableContext):
    doubled = context.step(double(event["x"]), name="double")
    context.wait(Duration.from_seconds(2), name="pause")
    approval = context.create_callback(name="approval").result()
    branches = context.parallel([
        lambda ctx: ctx.step(lambda _: "left", name="left"),
        lambda ctx: ctx.step(lambda _: "right", name="right"),
    ], name="both")
    helped = context.invoke(os.environ["HELPER"], {"n": doubled}, name="help")
    attempts = context.step(flaky(), name="flaky", config=RETRY)
    return {"doubled": doubled, "approval": approval, "parallel": branches.get_results(),
            "helped": helped, "attempts": attempts}
"""

SLEEPER = """\
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def handler(event, context: DurableContext):
    before = context.step(lambda _: "before", name="before")
    context.wait(Duration.from_seconds(event.get("seconds", 5)), name="nap")
    return {"before": before, "after": "woke"}
"""

HELPER = """\
def handler(event, context):
    return {"helped": event["n"] + 1}
"""


def _deploy(engine: EngineHandle, root: Path) -> None:
    template = write_project(root, TEMPLATE, {"src/app.py": APP, "src/sleeper.py": SLEEPER,
                                              "src/helper.py": HELPER})
    engine.deploy(template, "durable")


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    _deploy(samlite_module_engine, tmp_path_factory.mktemp("durable-project"))
    return samlite_module_engine


@pytest.fixture(scope="module")
def lam(engine: EngineHandle) -> Any:
    return engine.client("lambda")


def function_name(lam: Any, logical_id: str) -> str:
    [name] = [f["FunctionName"] for f in lam.list_functions()["Functions"]
              if f["FunctionName"].startswith(f"durable-{logical_id}-")]
    return name


def history(lam: Any, arn: str) -> list[dict[str, Any]]:
    return lam.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]


def callback_id(lam: Any, arn: str) -> str | None:
    for event in history(lam, arn):
        if event["EventType"] == "CallbackStarted":
            return str(event["CallbackStartedDetails"]["CallbackId"])
    return None


def status(lam: Any, arn: str) -> str:
    return str(lam.get_durable_execution(DurableExecutionArn=arn)["Status"])


def test_durable_config_is_deployed_and_shown(engine: EngineHandle, lam: Any) -> None:
    conf = lam.get_function_configuration(FunctionName=function_name(lam, "Workflow"))
    assert conf["DurableConfig"] == {"ExecutionTimeout": 600, "RetentionPeriodInDays": 7}
    assert "DurableConfig" not in lam.get_function_configuration(FunctionName=function_name(lam, "Helper"))
    rows = json.loads(engine.cli("list", "functions", "--output", "json", check=True).stdout)
    by_id = {r["logical_id"]: r for r in rows}
    assert by_id["Sleeper"]["durable_config"] == {"ExecutionTimeout": 600, "RetentionPeriodInDays": 14}
    assert by_id["Helper"]["durable"] is None
    table = engine.cli("list", "functions", check=True).stdout
    assert "600 s / 7 d" in table


def test_python_sdk_step_wait_callback_parallel_invoke_retry(engine: EngineHandle, lam: Any) -> None:
    name = function_name(lam, "Workflow")
    started = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"x": 21}),
                         DurableExecutionName="order-21")
    assert started["StatusCode"] == 202
    arn = started["DurableExecutionArn"]
    assert arn.startswith(f"arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST/durable-execution/order-21/")

    # The step ran and the 2 s wait passed on the real clock: the execution now waits for the callback.
    cb = wait_for(lambda: callback_id(lam, arn), timeout=60, interval=0.2, message="the callback to be created")
    listed = json.loads(engine.cli("executions", name, "--output", "json", check=True).stdout)
    [row] = [r for r in listed if r["arn"] == arn]
    assert row["status"] == "RUNNING" and row["waiting"] == "callback approval"

    lam.send_durable_execution_callback_heartbeat(CallbackId=cb)
    lam.send_durable_execution_callback_success(CallbackId=cb, Result=b"approved")  # the raw string
    wait_for(lambda: status(lam, arn) != "RUNNING", timeout=90, interval=0.2, message="the execution to end")

    got = lam.get_durable_execution(DurableExecutionArn=arn)
    assert got["Status"] == "SUCCEEDED", got
    assert json.loads(got["Result"]) == {"doubled": 42, "approval": "approved", "parallel": ["left", "right"],
                                         "helped": {"helped": 43}, "attempts": 3}
    assert got["DurableExecutionName"] == "order-21"

    events = history(lam, arn)
    kinds = [e["EventType"] for e in events]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    for kind in ("StepSucceeded", "WaitStarted", "WaitSucceeded", "CallbackStarted", "CallbackSucceeded",
                 "ContextSucceeded", "ChainedInvokeSucceeded", "StepFailed", "InvocationCompleted"):
        assert kind in kinds, (kind, kinds)
    [wait_started] = [e for e in events if e["EventType"] == "WaitStarted"]
    [wait_done] = [e for e in events if e["EventType"] == "WaitSucceeded"]
    assert (wait_done["EventTimestamp"] - wait_started["EventTimestamp"]).total_seconds() >= 2.0
    # The flaky step failed twice and was retried by its strategy (attempts 1 and 2 failed).
    assert [e["EventType"] for e in events if e.get("Name") == "flaky"] == [
        "StepStarted", "StepFailed", "StepStarted", "StepFailed", "StepStarted", "StepSucceeded"], \
        [(e["EventType"], e.get("Name")) for e in events]

    shown = json.loads(engine.cli("executions", "show", arn, "--output", "json", check=True).stdout)
    assert shown["status"] == "SUCCEEDED" and shown["events"][-1]["EventType"] == "ExecutionSucceeded"

    # Each replay is attributed to its execution: the history names its request id, and the
    # function's log names the execution after that invocation's START.
    request_ids = [e["InvocationCompletedDetails"]["RequestId"] for e in events
                   if e["EventType"] == "InvocationCompleted"]
    assert len(request_ids) >= 3  # the wait, the callback and the retries each ended one

    def logs_of_every_replay() -> str | None:
        logs = str(engine.cli("logs", "-n", name, check=True).stdout)
        seen = all(f"END RequestId: {request_id}" in logs for request_id in request_ids)
        return logs if seen else None

    logs = wait_for(logs_of_every_replay, timeout=30, interval=0.3, message="every replay's log lines")
    for request_id in request_ids:
        assert f"START RequestId: {request_id} Version: $LATEST\n" in logs
    assert logs.count(f"DURABLE ExecutionArn: {arn}") == len(request_ids)


def test_synchronous_invoke_waits_for_the_execution(lam: Any, engine: EngineHandle) -> None:
    name = function_name(lam, "Sleeper")
    # By its AutoPublishAlias, as `!Ref Sleeper.Alias` names it.
    res = lam.invoke(FunctionName=name, Qualifier="live", Payload=json.dumps({"seconds": 1}))
    assert res["StatusCode"] == 200 and "FunctionError" not in res
    assert json.loads(res["Payload"].read()) == {"before": "before", "after": "woke"}
    arn = res["DurableExecutionArn"]
    assert status(lam, arn) == "SUCCEEDED"
    listed = lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"]
    assert arn in [e["DurableExecutionArn"] for e in listed]

    # `samlite invoke` too, naming the execution on stderr.
    cli = engine.cli("invoke", "Sleeper", "--stack-name", "durable", "--payload", '{"seconds": 1}', check=True)
    assert json.loads(cli.stdout) == {"before": "before", "after": "woke"}
    assert f"Durable execution: arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST/" in cli.stderr

    # The caller waits no longer than the function's timeout (3 s); the execution goes on.
    res = lam.invoke(FunctionName=name, Payload=json.dumps({"seconds": 3600}))
    assert res["FunctionError"] == "Unhandled"
    assert "timed out after 3 seconds" in res["Payload"].read().decode()
    assert status(lam, res["DurableExecutionArn"]) == "RUNNING"
    lam.stop_durable_execution(DurableExecutionArn=res["DurableExecutionArn"])


def test_fire_completes_a_long_wait_now(lam: Any, engine: EngineHandle) -> None:
    name = function_name(lam, "Sleeper")
    arn = lam.invoke(FunctionName=name, InvocationType="Event",
                     Payload=json.dumps({"seconds": 3600}))["DurableExecutionArn"]

    def waiting() -> Any:
        rows = json.loads(engine.cli("executions", "--output", "json", check=True).stdout)
        return next((r["waiting"] for r in rows if r["arn"] == arn and (r["waiting"] or "").startswith("wait")), None)

    wait_for(waiting, timeout=60, interval=0.3, message="the hour-long wait to start")
    fired = json.loads(engine.cli("executions", "fire", arn, "--output", "json", check=True).stdout)
    assert fired["fired"] == 1
    wait_for(lambda: status(lam, arn) == "SUCCEEDED", timeout=60, interval=0.2, message="the execution to end")
    again = engine.cli("executions", "fire", arn)
    assert again.returncode != 0 and "has ended" in again.stderr


def test_execution_timeout_is_not_the_function_timeout(lam: Any) -> None:
    # Each invocation takes milliseconds (under the 30 s function timeout); the execution, waiting
    # 60 s, runs past its 3 s ExecutionTimeout and times out.
    res = lam.invoke(FunctionName=function_name(lam, "Overdue"), Payload=b'{"seconds": 60}')
    assert res["FunctionError"] == "Unhandled"
    assert "timed out" in res["Payload"].read().decode()
    got = lam.get_durable_execution(DurableExecutionArn=res["DurableExecutionArn"])
    assert got["Status"] == "TIMED_OUT"
    assert 2.5 <= (got["EndTimestamp"] - got["StartTimestamp"]).total_seconds() < 30


def test_stop_and_callback_failure(lam: Any) -> None:
    name = function_name(lam, "Workflow")
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"x": 1}')["DurableExecutionArn"]
    cb = wait_for(lambda: callback_id(lam, arn), timeout=60, interval=0.2, message="the callback to be created")
    lam.send_durable_execution_callback_failure(CallbackId=cb, Error={"ErrorType": "Rejected",
                                                                      "ErrorMessage": "no"})
    wait_for(lambda: status(lam, arn) == "FAILED", timeout=60, interval=0.2, message="the execution to fail")
    got = lam.get_durable_execution(DurableExecutionArn=arn)
    assert "no" in json.dumps(got["Error"])
    # A callback can complete once.
    with pytest.raises(ClientError):
        lam.send_durable_execution_callback_success(CallbackId=cb, Result=b'"late"')

    # Stop a sleeping one.
    sleeper = lam.invoke(FunctionName=function_name(lam, "Sleeper"), InvocationType="Event",
                         Payload=b'{"seconds": 3600}')["DurableExecutionArn"]
    wait_for(lambda: any(e["EventType"] == "WaitStarted" for e in history(lam, sleeper)), timeout=60,
             interval=0.2, message="the wait to start")
    lam.stop_durable_execution(DurableExecutionArn=sleeper)
    assert status(lam, sleeper) == "STOPPED"
    lam.delete_durable_execution(DurableExecutionArn=sleeper)
    with pytest.raises(ClientError) as err:
        lam.get_durable_execution(DurableExecutionArn=sleeper)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_bad_input_gets_clear_errors(lam: Any) -> None:
    name = function_name(lam, "Sleeper")
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"seconds": 3600}')["DurableExecutionArn"]
    unknown = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as err:
        lam.get_durable_execution(DurableExecutionArn=unknown)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        lam.get_durable_execution(DurableExecutionArn="not-an-arn")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    # A token that is not base64, and one of another execution's.
    for token in ("%%%not-a-token", base64.b64encode(json.dumps({"arn": unknown}).encode()).decode()):
        with pytest.raises(ClientError) as err:
            lam.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=token, Updates=[])
        assert err.value.response["Error"]["Code"] == "InvalidParameterValueException", err.value.response
    with pytest.raises(ClientError) as err:
        lam.send_durable_execution_callback_success(CallbackId=base64.b64encode(b"nope").decode(), Result=b"1")
    assert err.value.response["Error"]["Code"] in ("InvalidParameterValueException", "ResourceNotFoundException")
    with pytest.raises(ClientError) as err:
        lam.send_durable_execution_callback_success(CallbackId="QUJD", Result=b"x" * (1024 * 1024 + 1))
    assert err.value.response["Error"]["Code"] == "RequestTooLargeException"
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}", DurableExecutionName="bad name!")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    # A name is idempotent with the same input, a conflict with another.
    first = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"seconds": 3600}',
                       DurableExecutionName="once")["DurableExecutionArn"]
    again = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"seconds": 3600}',
                       DurableExecutionName="once")["DurableExecutionArn"]
    assert again == first
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"seconds": 1}', DurableExecutionName="once")
    assert err.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    lam.stop_durable_execution(DurableExecutionArn=first)
    lam.stop_durable_execution(DurableExecutionArn=arn)


def test_bad_durable_config_fails_validation(tmp_path: Path, samlite_engine: EngineHandle) -> None:
    template = write_project(tmp_path, TEMPLATE.replace("ExecutionTimeout: 600\n        RetentionPeriodInDays: 7",
                                                        "ExecutionTimeout: 0\n        RetentionPeriodInDays: 91")
                             .replace("ExecutionTimeout: 600", "ExecutionTimeot: 600"),
                             {"src/app.py": APP, "src/sleeper.py": SLEEPER, "src/helper.py": HELPER})
    result = samlite_engine.cli("validate", "-t", str(template), cwd=tmp_path)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "ExecutionTimeout" in out and "0 is out of range: must be 1-31,622,400" in out
    assert "RetentionPeriodInDays" in out and "91 is out of range: must be 1-90" in out
    assert "unknown property 'ExecutionTimeot'" in out


def test_execution_survives_sigkill_and_stop_start_during_a_wait(tmp_path: Path) -> None:
    engine = EngineHandle(tmp_path / "home").start()
    try:
        _deploy(engine, tmp_path / "project")
        lam = engine.client("lambda")
        arn = lam.invoke(FunctionName=function_name(lam, "Sleeper"), InvocationType="Event",
                         Payload=b'{"seconds": 5}')["DurableExecutionArn"]
        wait_for(lambda: any(e["EventType"] == "WaitStarted" for e in history(lam, arn)), timeout=60,
                 interval=0.1, message="the 5 s wait to start")
        engine.kill()
        engine.start()
        lam = engine.client("lambda")
        wait_for(lambda: status(lam, arn) == "SUCCEEDED", timeout=60, interval=0.2,
                 message="the execution to complete after the restart")
        got = lam.get_durable_execution(DurableExecutionArn=arn)
        assert json.loads(got["Result"]) == {"before": "before", "after": "woke"}
        kinds = [e["EventType"] for e in history(lam, arn)]
        assert kinds.count("StepSucceeded") == 1  # the step before the wait was not run again

        # A graceful stop and start during the wait.
        arn = lam.invoke(FunctionName=function_name(lam, "Sleeper"), InvocationType="Event",
                         Payload=b'{"seconds": 5}')["DurableExecutionArn"]
        wait_for(lambda: any(e["EventType"] == "WaitStarted" for e in history(lam, arn)), timeout=60,
                 interval=0.1, message="the second 5 s wait to start")
        engine.stop()
        engine.start()
        lam = engine.client("lambda")
        wait_for(lambda: status(lam, arn) == "SUCCEEDED", timeout=60, interval=0.2,
                 message="the execution to complete after stop and start")
    finally:
        engine.close()

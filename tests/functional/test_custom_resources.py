"""Lambda-backed custom resources: CloudFormation's requests on create, update and delete, the
answer through the ResponseURL (cfnresponse's HTTP PUT), Data behind GetAtt, and a FAILED,
missing or garbage answer failing the deploy with the previous stack kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from samlite.testing import EngineHandle, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Provider:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Environment:
        Variables:
          RECORD_URL: !Ref Requests
  Requests:
    Type: AWS::SQS::Queue
  Greeting:
    Type: {rtype}
    Properties:
      ServiceToken: !GetAtt Provider.Arn
      Name: {name}
      Mode: {mode}
  User:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.user
      CodeUri: src/
      Environment:
        Variables:
          GREETING: !GetAtt Greeting.Message
Outputs:
  Message:
    Value: !GetAtt Greeting.Message
  Physical:
    Value: !Ref Greeting
  Version:
    Value: {version}
"""

APP = """\
import json
import os
import urllib.request

import boto3


def _answer(event, status, data=None, reason=None, body=None):
    payload = body if body is not None else json.dumps({
        "Status": status, "Reason": reason or "see the log", "PhysicalResourceId": "greeting-" +
        event["ResourceProperties"]["Name"], "StackId": event["StackId"], "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"], "NoEcho": False, "Data": data or {}}).encode()
    request = urllib.request.Request(event["ResponseURL"], data=payload, method="PUT",
                                     headers={"content-type": ""})
    urllib.request.urlopen(request).read()


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["RECORD_URL"], MessageBody=json.dumps(event))
    mode = event["ResourceProperties"].get("Mode")
    if event["RequestType"] == "Delete":
        _answer(event, "SUCCESS")
    elif mode == "fail":
        _answer(event, "FAILED", reason="the name is taken")
    elif mode == "garbage":
        _answer(event, None, body=b"not json")
    elif mode == "silent":
        return
    else:
        _answer(event, "SUCCESS", {"Message": "hello " + event["ResourceProperties"]["Name"]})


def user(event, context):
    return os.environ["GREETING"]
"""


def _deploy(engine: EngineHandle, root: Path, name: str, mode: str = "ok", version: str = "1",
            rtype: str = "Custom::Greeting") -> Any:
    path = write_project(root, TEMPLATE.format(name=name, mode=mode, version=version, rtype=rtype),
                         {"src/app.py": APP})
    return engine.cli("deploy", "-t", str(path), "--stack-name", "custom", "--no-confirm-changeset", cwd=root)


def _requests(engine: EngineHandle) -> list[dict[str, Any]]:
    sqs = engine.client("sqs")
    [url] = sqs.list_queues(QueueNamePrefix="custom-Requests-")["QueueUrls"]
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_create_update_delete_and_data_behind_getatt(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    result = _deploy(samlite_engine, tmp_path, "ana")
    assert result.returncode == 0, result.stderr
    outputs = samlite_engine.outputs("custom")
    assert outputs["Message"] == "hello ana" and outputs["Physical"] == "greeting-ana"
    invoked = samlite_engine.cli("invoke", "User", "--stack-name", "custom")
    assert json.loads(invoked.stdout) == "hello ana"  # GetAtt reached the other function's environment
    [create] = _requests(samlite_engine)
    assert create["RequestType"] == "Create" and create["LogicalResourceId"] == "Greeting"
    assert create["ResourceType"] == "Custom::Greeting"
    assert create["StackId"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/custom/")
    assert create["ResourceProperties"] == {"ServiceToken": create["ServiceToken"], "Name": "ana", "Mode": "ok"}
    assert create["ServiceToken"].endswith(":function:" + create["ServiceToken"].rsplit(":", 1)[1])
    assert "PhysicalResourceId" not in create and "OldResourceProperties" not in create
    assert create["ResponseURL"].startswith("http://127.0.0.1:")

    assert _deploy(samlite_engine, tmp_path, "ana", version="2").returncode == 0
    assert _requests(samlite_engine) == []  # unchanged properties: no request

    assert _deploy(samlite_engine, tmp_path, "bob").returncode == 0
    [update] = _requests(samlite_engine)
    assert update["RequestType"] == "Update" and update["PhysicalResourceId"] == "greeting-ana"
    assert update["OldResourceProperties"]["Name"] == "ana" and update["ResourceProperties"]["Name"] == "bob"
    assert samlite_engine.outputs("custom")["Message"] == "hello bob"

    samlite_engine.cli("delete", "--stack-name", "custom", "--no-prompts", check=True)
    # The queue went with the stack; the delete request reached the function before it did.
    assert "custom" not in samlite_engine.cli("list", "stacks").stdout


def test_the_generic_custom_resource_type_runs_its_function(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    # AWS::CloudFormation::CustomResource is the same resource as a Custom::* name.
    result = _deploy(samlite_engine, tmp_path, "eve", rtype="AWS::CloudFormation::CustomResource")
    assert result.returncode == 0 and "not emulated" not in result.stderr, result.stderr
    assert samlite_engine.outputs("custom")["Message"] == "hello eve"
    [create] = _requests(samlite_engine)
    assert create["RequestType"] == "Create" and create["ResourceType"] == "AWS::CloudFormation::CustomResource"
    samlite_engine.cli("delete", "--stack-name", "custom", "--no-prompts", check=True)


def test_failed_garbage_and_silent_answers_fail_the_deploy(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    assert _deploy(samlite_engine, tmp_path, "ana").returncode == 0
    _requests(samlite_engine)
    failed = _deploy(samlite_engine, tmp_path, "zed", mode="fail", version="2")
    assert failed.returncode != 0
    assert "Received response status [FAILED] from custom resource. Message returned: the name is taken" \
        in failed.stderr
    outputs = samlite_engine.outputs("custom")
    assert outputs["Message"] == "hello ana" and outputs["Version"] == "1"  # the previous stack stands

    garbage = _deploy(samlite_engine, tmp_path, "zed", mode="garbage", version="3")
    assert garbage.returncode != 0 and "Invalid response object" in garbage.stderr
    silent = _deploy(samlite_engine, tmp_path, "zed", mode="silent", version="4")
    assert silent.returncode != 0
    assert "CloudFormation did not receive a response from your Custom Resource" in silent.stderr
    assert samlite_engine.outputs("custom")["Version"] == "1"


def test_a_failed_create_is_rolled_back_with_a_delete(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    first = tmp_path / "other"
    first.mkdir()
    template = TEMPLATE.format(name="x", mode="ok", version="1", rtype="Custom::Greeting").replace(
        "  User:", "  Broken:\n    Type: Custom::Broken\n    Properties: {ServiceToken: !GetAtt Provider.Arn, "
        "Name: y, Mode: fail, After: !GetAtt Greeting.Message}\n  User:")
    path = write_project(first, template, {"src/app.py": APP})
    result = samlite_engine.cli("deploy", "-t", str(path), "--stack-name", "custom", "--no-confirm-changeset",
                                cwd=first)
    assert result.returncode != 0 and "[FAILED]" in result.stderr
    assert "custom" not in [s["stack"] for s in json.loads(
        samlite_engine.cli("list", "stacks", "--output", "json").stdout)]

"""Real templates that samlite used to reject or mishandle: not-emulated runtimes and types,
OpenApiVersion, SQS events whose Queue is not a queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from samlite.testing import EngineHandle, write_project

JAVA = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  JavaFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: java25
      Handler: example.Handler::handleRequest
      CodeUri: src/
  GoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: src/
"""
WARNING = "runtime java25 is not emulated by samlite: the function is deployed but cannot be invoked locally"


def samlite(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "samlite", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd)


def test_runtimes_samlite_cannot_run_deploy_with_a_warning(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = write_project(tmp_path / "java", JAVA, {"src/example/Handler.java": "class Handler {}\n"}).parent
    validated = samlite("validate", cwd=project)
    assert validated.returncode == 0, validated.stderr
    assert f"JavaFunction.Properties.Runtime: {WARNING}" in validated.stderr
    assert "provided.al2023 is not emulated" in validated.stderr and "no executable bootstrap" in validated.stderr

    deployed = samlite_engine.cli("deploy", "--stack-name", "java", "--no-confirm-changeset", cwd=project)
    assert deployed.returncode == 0, deployed.stderr
    assert WARNING in deployed.stderr
    invoked = samlite_engine.cli("invoke", "JavaFunction", "--stack-name", "java")
    assert invoked.returncode == 4, invoked.stderr
    error = json.loads(invoked.stdout)
    assert error["errorType"] == "Runtime.InvalidRuntime" and WARNING in error["errorMessage"]
    go = samlite_engine.cli("invoke", "GoFunction", "--stack-name", "java")
    assert go.returncode == 4, go.stderr
    assert "bootstrap" in go.stdout, go.stdout


def _validate(tmp_path: Path, template: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "template.yaml"
    path.write_text(template)
    return samlite("validate", "-t", str(path), "-o", "json")


def test_open_api_version_under_globals(tmp_path: Path) -> None:
    for version in ("3.0.1", "'2.0'", "3.0"):  # an unquoted 3.0 is a YAML number; SAM takes it
        result = _validate(tmp_path, f"Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Api:\n"
                                     f"    OpenApiVersion: {version}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n")
        assert result.returncode == 0, (version, result.stdout)
    bad = _validate(tmp_path, "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Api:\n    OpenApiVersion: [3]\n"
                              "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    assert bad.returncode == 3


def test_real_types_are_warnings_and_misspellings_errors(tmp_path: Path) -> None:
    result = _validate(tmp_path, "Resources:\n  Domain:\n    Type: AWS::ApiGateway::DomainNameV2\n"
                                 "  Prompt:\n    Type: AWS::Bedrock::Prompt\n  Typo:\n    Type: AWS::SQS::Queu\n"
                                 "  Junk:\n    Type: AWS::Nope\n")
    assert result.returncode == 3
    report = json.loads(result.stdout)
    assert {w["logical_id"] for w in report["warnings"]} == {"Domain", "Prompt"}
    assert all("is not emulated by samlite" in w["message"] for w in report["warnings"])
    errors = {e["logical_id"]: e["message"] for e in report["errors"]}
    assert set(errors) == {"Typo", "Junk"} and "did you mean 'AWS::SQS::Queue'" in errors["Typo"]


SQS_EVENT = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: "def handler(event, context): pass"
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: QUEUE
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: "def handler(event, context): pass"
  Jobs:
    Type: AWS::SQS::Queue
"""


def test_sqs_event_queue_must_be_a_queue_arn(tmp_path: Path) -> None:
    for queue, needle in (("!GetAtt Other.Arn", "arn:aws:lambda:"), ("!Ref Jobs", "gives its URL"),
                          ("https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "URL")):
        result = _validate(tmp_path, SQS_EVENT.replace("QUEUE", queue))
        assert result.returncode == 3, (queue, result.stdout)
        [error] = json.loads(result.stdout)["errors"]
        assert error["path"] == "Properties.Events.Work.Properties.Queue"
        assert "must be an SQS queue ARN" in error["message"] and needle in error["message"], error
    for queue in ("!GetAtt Jobs.Arn", "arn:aws:sqs:us-east-1:123456789012:jobs"):
        assert _validate(tmp_path, SQS_EVENT.replace("QUEUE", queue)).returncode == 0, queue

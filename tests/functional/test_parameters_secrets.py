"""The AWS Parameters and Secrets Lambda Extension, served by the engine for functions with its layer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from samlite.testing import EngineHandle, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
    Timeout: 10
Resources:
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: ps-reader
      Layers:
        - arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:11
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: ps-plain
"""

APP = """\
import json, os, urllib.error, urllib.request

def handler(event, context):
    port = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
    if port is None:
        return {"port": None}
    headers = {}
    if event.get("token") != "none":
        headers["X-Aws-Parameters-Secrets-Token"] = event.get("token") or os.environ["AWS_SESSION_TOKEN"]
    request = urllib.request.Request(f"http://localhost:{port}{event['path']}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return {"status": response.status, "body": json.loads(response.read())}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": json.loads(exc.read() or b"null")}
"""


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    root = tmp_path_factory.mktemp("ps")
    write_project(root, TEMPLATE, {"src/app.py": APP})
    samlite_module_engine.cli("deploy", "-t", str(root / "template.yaml"), "--stack-name", "ps",
                              "--no-confirm-changeset", check=True)
    return samlite_module_engine


def _call(engine: EngineHandle, name: str, event: dict) -> dict:
    out = engine.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def test_only_functions_with_the_layer_get_the_extension(engine: EngineHandle) -> None:
    assert _call(engine, "ps-plain", {}) == {"port": None}


@pytest.mark.parametrize(("event", "status", "message"), [
    ({"path": "/secretsmanager/get?secretId=x", "token": "none"}, 401, "missing X-Aws-Parameters-Secrets-Token header"),
    ({"path": "/secretsmanager/get?secretId=x", "token": "wrong"}, 401, "invalid X-Aws-Parameters-Secrets-Token"),
    ({"path": "/secretsmanager/get"}, 400, "secretId is required"),
    ({"path": "/systemsmanager/parameters/get"}, 400, "name is required"),
    ({"path": "/elsewhere"}, 404, "no such path /elsewhere"),
])
def test_token_and_request_checks(engine: EngineHandle, event: dict, status: int, message: str) -> None:
    assert _call(engine, "ps-reader", event) == {"status": status, "body": {"message": message}}


def test_reads_a_secret_and_a_parameter(engine: EngineHandle, tmp_path: Path) -> None:
    try:
        engine.client("secretsmanager").create_secret(Name="db-password", SecretString="s3cr3t")
        engine.client("ssm").put_parameter(Name="/app/color", Value="blue", Type="String")
    except ClientError as exc:
        if "UnknownOperation" in str(exc) or "InvalidAction" in str(exc):
            pytest.skip("the engine's AWS endpoint does not serve Secrets Manager / SSM yet")
        raise
    secret = _call(engine, "ps-reader", {"path": "/secretsmanager/get?secretId=db-password"})
    assert secret["status"] == 200 and secret["body"]["SecretString"] == "s3cr3t"
    assert secret["body"]["Name"] == "db-password"
    parameter = _call(engine, "ps-reader", {"path": "/systemsmanager/parameters/get?name=%2Fapp%2Fcolor"})
    assert parameter["status"] == 200 and parameter["body"]["Parameter"]["Value"] == "blue"
    missing = _call(engine, "ps-reader", {"path": "/secretsmanager/get?secretId=nope"})
    assert missing["status"] == 400 and "ResourceNotFoundException" in json.dumps(missing["body"])

"""Well-known public layers: Powertools for AWS Lambda from PyPI and npm (cached between runs);
other public layer ARNs are warned about once, by ARN."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from samlite.package import public_layers
from samlite.testing import EngineHandle, require_registry, shared_cache_dir, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  PyFn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: pt-py
      CodeUri: py/
      Handler: app.handler
      Runtime: python3.11
      Layers:
        - !Sub arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV2:32
        - arn:aws:lambda:us-east-1:175033217214:layer:graphicsmagick:2
  OtherPy:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: pt-other
      CodeUri: py/
      Handler: app.handler
      Runtime: python3.11
      Layers:
        - arn:aws:lambda:us-east-1:175033217214:layer:graphicsmagick:2
        - !Sub arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV2:32
  NodeFn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: pt-node
      CodeUri: node/
      Handler: app.handler
      Runtime: nodejs20.x
      Layers:
        - !Sub arn:aws:lambda:${AWS::Region}:094274105915:layer:AWSLambdaPowertoolsTypeScriptV2:20
"""

FILES = {
    "py/app.py": """\
from aws_lambda_powertools import Logger

logger = Logger(service="orders")

def handler(event, context):
    logger.info("order placed", extra={"order": 7})
    return {"ok": True}
""",
    "node/app.js": """\
const { Logger } = require("@aws-lambda-powertools/logger");
const logger = new Logger({ serviceName: "orders" });
exports.handler = async () => { logger.info("order placed", { order: 7 }); return { ok: true }; };
""",
}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineHandle, str]]:
    cache = shared_cache_dir()
    names = ("powertools-python-2.43.1-python3.11", f"powertools-typescript-2-{public_layers.NPM_SNAPSHOT}")
    if not all((cache / "layers" / f"{name}.zip").is_file() for name in names):
        require_registry("pypi.org")
        require_registry("registry.npmjs.org")
    if shutil.which("node") is None:
        pytest.skip("needs node on PATH")
    handle = EngineHandle(tmp_path_factory.mktemp("layers") / "home", {"SAMLITE_CACHE_DIR": str(cache)}).start()
    try:
        root = tmp_path_factory.mktemp("layers-project")
        write_project(root, TEMPLATE, FILES)
        out = handle.cli("deploy", "-t", str(root / "template.yaml"), "--stack-name", "pt",
                         "--no-confirm-changeset", check=True, timeout=900)
        yield handle, out.stderr
    finally:
        handle.close()


def _structured(engine: EngineHandle, name: str) -> dict:
    out = engine.client("lambda").invoke(FunctionName=name, LogType="Tail")
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == {"ok": True}
    tail = base64.b64decode(out["LogResult"]).decode()
    line = next(line for line in tail.splitlines() if "order placed" in line)
    return json.loads(line[line.index("{"):])


def test_python_powertools_layer_logs_structured_json(deployed: tuple[EngineHandle, str]) -> None:
    record = _structured(deployed[0], "pt-py")
    assert record["message"] == "order placed" and record["service"] == "orders" and record["order"] == 7
    assert record["level"] == "INFO" and "timestamp" in record


def test_typescript_powertools_layer(deployed: tuple[EngineHandle, str]) -> None:
    record = _structured(deployed[0], "pt-node")
    assert record["message"] == "order placed" and record["service"] == "orders" and record["order"] == 7


def test_unknown_public_layer_is_warned_once_by_arn(deployed: tuple[EngineHandle, str]) -> None:
    stderr = deployed[1]
    assert stderr.count("layer:graphicsmagick:2 is a public layer samlite cannot download") == 1, stderr
    assert "OtherPy, PyFn run without it" in stderr
    assert "Powertools" not in stderr


def test_arn_matching(tmp_path: Path) -> None:
    v3 = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:7"
    assert public_layers.known(v3).name == "powertools-python-3.19.0"
    assert public_layers.known("arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2-Arm64:3")
    assert public_layers.known("arn:aws:lambda:us-east-1:094274105915:layer:AWSLambdaPowertoolsTypeScript:9").name \
        == f"powertools-typescript-1-{public_layers.NPM_SNAPSHOT}"
    assert public_layers.known("arn:aws:lambda:us-east-1:123456789012:layer:AWSLambdaPowertoolsPythonV2:3") is None
    assert public_layers.is_parameters_and_secrets(
        "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:4")

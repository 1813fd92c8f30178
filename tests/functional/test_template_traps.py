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
    assert error["errorType"] == "Runtime.InvalidRuntime" and "java25" in error["errorMessage"]
    go = samlite_engine.cli("invoke", "GoFunction", "--stack-name", "java")
    assert go.returncode == 4, go.stderr
    assert "bootstrap" in go.stdout, go.stdout

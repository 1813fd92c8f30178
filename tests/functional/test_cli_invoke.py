"""`samlite invoke`, `samlite logs` and `samlite generate-event` as a user runs them, with exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from samlite.testing import EngineHandle, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: src/
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
  Boom:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.boom
"""
APP = '''\
import json
def echo(event, context):
    print("echo marker", json.dumps(event, sort_keys=True))
    return event
def boom(event, context):
    raise RuntimeError("it broke")
'''


def write_app(root: Path) -> Path:
    return write_project(root, TEMPLATE, {"src/app.py": APP})


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    samlite_module_engine.deploy(write_app(tmp_path_factory.mktemp("cli-invoke") / "app"), "cli")
    return samlite_module_engine


def test_invoke_payload_to_stdout_log_to_stderr(engine: EngineHandle) -> None:
    r = engine.cli("invoke", "Echo", "--payload", '{"a": 1}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"a": 1}
    assert "START RequestId: " in r.stderr and "REPORT RequestId: " in r.stderr
    assert 'echo marker {"a": 1}' in r.stderr


def test_invoke_event_file_and_stdin(engine: EngineHandle, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    r = engine.cli("invoke", "Echo", "--stack-name", "cli", "-e", str(event))
    assert r.returncode == 0 and json.loads(r.stdout) == {"from": "file"}
    r = engine.cli("invoke", "Echo", "-e", "-", input='{"from": "stdin"}')
    assert r.returncode == 0 and json.loads(r.stdout) == {"from": "stdin"}
    # A generated sample event pipes straight in.
    sample = engine.cli("generate-event", "sqs", "receive-message", "--body", "hello", check=True).stdout
    r = engine.cli("invoke", "Echo", "-e", "-", input=sample)
    assert r.returncode == 0 and json.loads(r.stdout)["Records"][0]["body"] == "hello"


def test_invoke_by_physical_name(engine: EngineHandle) -> None:
    name = json.loads(engine.cli("list", "resources", "--output", "json", check=True).stdout)
    physical = next(r["physical_id"] for r in name if r["logical_id"] == "Echo")
    r = engine.cli("invoke", physical, "--payload", "[1, 2]")
    assert r.returncode == 0 and json.loads(r.stdout) == [1, 2]


def test_function_error_exits_4_with_payload(engine: EngineHandle) -> None:
    r = engine.cli("invoke", "Boom")
    assert r.returncode == 4
    body = json.loads(r.stdout)
    assert body["errorType"] == "RuntimeError" and body["errorMessage"] == "it broke"
    assert "[ERROR] RuntimeError: it broke" in r.stderr


def test_event_and_dry_run(engine: EngineHandle) -> None:
    r = engine.cli("invoke", "Echo", "--invocation-type", "Event", "--payload", '{"async": 1}')
    assert r.returncode == 0 and r.stdout == "" and "202" in r.stderr
    r = engine.cli("invoke", "Echo", "--invocation-type", "DryRun")
    assert r.returncode == 0 and r.stdout == "" and "204" in r.stderr


def test_bad_input(engine: EngineHandle, tmp_path: Path) -> None:
    r = engine.cli("invoke", "Echo", "--payload", "{nope")
    assert r.returncode == 1 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr
    big = tmp_path / "big.json"
    big.write_text('{"x": "' + "a" * 6_291_456 + '"}')
    r = engine.cli("invoke", "Echo", "-e", str(big))
    assert r.returncode == 1 and "6291456" in r.stderr
    r = engine.cli("invoke", "Echo", "-e", str(tmp_path / "missing.json"))
    assert r.returncode == 1 and "cannot read" in r.stderr
    r = engine.cli("invoke", "Echo", "--payload", "{}", "-e", "-")
    assert r.returncode == 2
    r = engine.cli("invoke", "NoSuchFunction")
    assert r.returncode == 1 and "not deployed" in r.stderr
    r = engine.cli("invoke", "Echo", "--invocation-type", "Sometimes")
    assert r.returncode == 2


def test_engine_not_running_exits_5(tmp_path: Path) -> None:
    env = {**os.environ, "SAMLITE_HOME": str(tmp_path / "empty-home")}
    r = subprocess.run([sys.executable, "-m", "samlite", "invoke", "Echo"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 5 and "not running" in r.stderr
    r = subprocess.run([sys.executable, "-m", "samlite", "logs"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 5


def test_one_shot_from_template_without_engine(tmp_path: Path) -> None:
    template = write_app(tmp_path / "app")
    env = {**os.environ, "SAMLITE_HOME": str(tmp_path / "no-engine-home")}
    run = lambda *a: subprocess.run([sys.executable, "-m", "samlite", "invoke", *a], env=env, capture_output=True,  # noqa: E731
                                    text=True, timeout=120, cwd=tmp_path / "app")
    r = run("Echo", "-t", str(template), "--payload", '{"one": "shot"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"one": "shot"} and "REPORT RequestId" in r.stderr
    r = run("Boom", "-t", str(template))
    assert r.returncode == 4 and json.loads(r.stdout)["errorType"] == "RuntimeError"
    r = run("Missing", "-t", str(template))
    assert r.returncode == 1 and "Echo" in r.stderr
    assert not (tmp_path / "no-engine-home" / "engine.json").exists()


def test_logs_prints_and_filters(engine: EngineHandle) -> None:
    engine.cli("invoke", "Echo", "--payload", '{"logs": "first"}', check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = engine.cli("logs", "-n", "Echo", "--filter", "first")
        if '"logs": "first"' in r.stdout:
            break
        time.sleep(0.05)
    assert r.returncode == 0 and '"logs": "first"' in r.stdout
    assert all("first" in line for line in r.stdout.splitlines())
    r = engine.cli("logs", "--stack-name", "cli", "-s", "10m ago", "--output", "json")
    rows = json.loads(r.stdout)
    assert {row["function"].split("-")[1] for row in rows} >= {"Echo"}
    r = engine.cli("logs", "-n", "Echo", "-s", "1 hour ago", "-e", "2h ago")
    assert r.returncode == 2 and "before the start" in r.stderr
    r = engine.cli("logs", "-n", "Echo", "-s", "yesterday-ish")
    assert r.returncode == 2 and "cannot read the time" in r.stderr
    r = engine.cli("logs", "-n", "Nope")
    assert r.returncode == 1


def test_logs_tail_sees_new_invocation_and_stops_on_ctrl_c(engine: EngineHandle) -> None:
    engine.cli("invoke", "Echo", "--payload", '{"tail": "before"}', check=True)
    proc = subprocess.Popen([sys.executable, "-m", "samlite", "logs", "--stack-name", "cli", "--tail", "-s", "10m ago"],
                            env=engine.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()

    def wait_line(marker: str) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [line for line in list(lines) if marker in line]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"{marker} not seen; got {lines!r}")

    try:
        # History first: once it shows, the follower is polling; then a new invocation must appear.
        wait_line('"tail": "before"')
        engine.cli("invoke", "Echo", "--payload", '{"tail": "after"}', check=True)
        line = wait_line('"tail": "after"')
        # Several functions in the stack: lines carry the function name.
        assert line.startswith("cli-Echo-")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_generate_event_shapes(engine: EngineHandle) -> None:
    rest = json.loads(engine.cli("generate-event", "apigateway", "aws-proxy", "--method", "GET",
                                 "--path", "/items/42?q=a&q=b", check=True).stdout)
    assert rest["httpMethod"] == "GET" and rest["body"] is None
    assert rest["multiValueQueryStringParameters"] == {"q": ["a", "b"]} and rest["queryStringParameters"] == {"q": "b"}
    assert rest["requestContext"]["path"] == "/prod/items/42"
    http = json.loads(engine.cli("generate-event", "apigateway", "http-api-proxy", check=True).stdout)
    assert http["version"] == "2.0" and http["rawQueryString"] == "" and "cookies" not in http
    url = json.loads(engine.cli("generate-event", "lambda", "function-url", check=True).stdout)
    assert url["routeKey"] == "$default" and url["requestContext"]["accountId"] == "anonymous"
    assert "pathParameters" not in url
    sched = json.loads(engine.cli("generate-event", "cloudwatch", "scheduled-event", check=True).stdout)
    assert sched["detail-type"] == "Scheduled Event" and sched["source"] == "aws.events"
    sqs = json.loads(engine.cli("generate-event", "sqs", "receive-message", "--body", "hi", check=True).stdout)
    record = sqs["Records"][0]
    assert record["md5OfBody"] == "49f68a5c8493ec2c0bf489821c21fc3b" and record["messageAttributes"] == {}
    s3 = json.loads(engine.cli("generate-event", "s3", "put", "--bucket", "b1", "--key", "in/a b.txt",
                               "--body", "hello", check=True).stdout)["Records"][0]
    assert s3["eventVersion"] == "2.1" and s3["eventName"] == "ObjectCreated:Put"
    assert s3["s3"]["object"]["key"] == "in/a+b.txt" and s3["s3"]["object"]["size"] == 5
    assert s3["s3"]["object"]["eTag"] == "5d41402abc4b2a76b9719d911017c592" and s3["s3"]["bucket"]["name"] == "b1"
    removed = json.loads(engine.cli("generate-event", "s3", "delete", check=True).stdout)["Records"][0]
    assert set(removed["s3"]["object"]) == {"key", "sequencer"}
    sns = json.loads(engine.cli("generate-event", "sns", "notification", "--body", "m", check=True).stdout)
    assert sns["Records"][0]["EventSource"] == "aws:sns" and sns["Records"][0]["Sns"]["Message"] == "m"
    assert "SigningCertUrl" in sns["Records"][0]["Sns"]
    eb = json.loads(engine.cli("generate-event", "eventbridge", "event", "--source", "shop", "--body", '{"n": 1}',
                               check=True).stdout)
    assert eb["source"] == "shop" and eb["detail"] == {"n": 1} and eb["version"] == "0"
    r = engine.cli("generate-event", "alexa", "skill")
    assert r.returncode == 2 and "sqs receive-message" in r.stderr

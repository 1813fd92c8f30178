"""CloudWatch Logs reads on the AWS endpoint over real invocation logs, plus the filter-pattern subset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from samlite.services.logs.service import BadFilterPattern, compile_pattern
from samlite.testing import EngineHandle, signed_headers, wait_for, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Chatty:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: src/
      Handler: app.handler
"""
APP = '''\
import json
def handler(event, context):
    print(f"ERROR disk full {event['n']}" if event["n"] % 3 == 0 else f"INFO all good {event['n']}")
    print(json.dumps({"level": "WARN" if event["n"] % 2 else "DEBUG", "n": event["n"], "user": "bot-7"}))
    return event["n"]
'''
N = 6


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    template = write_project(tmp_path_factory.mktemp("logs-api") / "app", TEMPLATE, {"src/app.py": APP})
    samlite_module_engine.deploy(template, "logs")
    return samlite_module_engine


@pytest.fixture(scope="module")
def group(engine: EngineHandle) -> str:
    lam = engine.client("lambda")
    name = lam.list_functions()["Functions"][0]["FunctionName"]
    for n in range(N):
        lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}))
    group = f"/aws/lambda/{name}"
    logs = engine.client("logs")
    # The invoke service flushes logs every 50 ms: poll until all REPORT lines are stored.
    def reports() -> int:
        try:
            return len(logs.filter_log_events(logGroupName=group, filterPattern="REPORT")["events"])
        except logs.exceptions.ResourceNotFoundException:  # the group appears with the first flush
            return 0

    wait_for(lambda: reports() == N, message="REPORT lines")
    return group


@pytest.fixture(scope="module")
def logs(engine: EngineHandle) -> Any:
    return engine.client("logs")


def test_describe_log_groups(logs: Any, group: str) -> None:
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    assert groups[0]["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    assert groups[0]["storedBytes"] > 0
    assert logs.describe_log_groups(logGroupNamePrefix="/nothing/")["logGroups"] == []


def test_describe_log_streams(logs: Any, group: str) -> None:
    streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    assert streams and all("[$LATEST]" in s["logStreamName"] for s in streams)
    assert streams[0]["lastEventTimestamp"] >= streams[-1]["lastEventTimestamp"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="2")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName="/aws/lambda/missing")


def test_get_log_events_paging(logs: Any, group: str) -> None:
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    everything = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert everything[0]["message"].startswith("START RequestId: ")
    # Page forward two at a time until the token repeats (AWS's end-of-stream signal).
    seen: list[str] = []
    token = None
    for _ in range(100):
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2, **kwargs)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [e["message"] for e in everything]
    # Without startFromHead the newest events come back; the backward token pages to older ones.
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2)
    assert [e["message"] for e in tail["events"]] == seen[-2:]
    before = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in before["events"]] == seen[-4:-2]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken="garbage")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=group, logStreamName="no-such-stream")


@pytest.mark.parametrize("pattern, expected", [
    ("ERROR", 2),                       # n = 0, 3
    ('"disk full"', 2),
    ("INFO good", 4),
    ("?ERROR ?INFO", N),
    ("good -4", 3),                     # INFO lines except n = 4
    ('{ $.level = "WARN" }', 3),
    ('{ $.n >= 4 }', 2),
    ('{ $.level = "DEB*" && $.n > 1 }', 2),
    ('{ ($.n = 0) || ($.n = 5) }', 2),
    ('{ $.user != "bot*" }', 0),
    ('{ $.missing NOT EXISTS && $.n < 1 }', 1),
])
def test_filter_log_events(logs: Any, group: str, pattern: str, expected: int) -> None:
    events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    assert len(events) == expected, [e["message"] for e in events]


def test_filter_paging_and_times(logs: Any, group: str) -> None:
    everything = logs.filter_log_events(logGroupName=group)["events"]
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 5}))
    assert [e["eventId"] for p in pages for e in p["events"]] == [e["eventId"] for e in everything]
    assert len(pages) > 1
    first = everything[0]["timestamp"]
    assert logs.filter_log_events(logGroupName=group, endTime=first - 1)["events"] == []
    later = logs.filter_log_events(logGroupName=group, startTime=everything[-1]["timestamp"])["events"]
    assert 1 <= len(later) < len(everything)
    streams = [everything[0]["logStreamName"]]
    assert all(e["logStreamName"] in streams
               for e in logs.filter_log_events(logGroupName=group, logStreamNames=streams)["events"])


def test_filter_errors(engine: EngineHandle, logs: Any, group: str) -> None:
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName="/aws/lambda/missing")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, filterPattern='{ $.level = "x" ')
    for body in (b"{broken", b'{"logGroupName": 5}', b'{"logGroupName": "' + group.encode() + b'", "limit": "x"}'):
        r = requests.post(engine.aws_url, data=body, timeout=10, headers=signed_headers("POST", engine.aws_url, body, {
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.FilterLogEvents"}, "logs"))
        assert r.status_code == 400 and r.json()["__type"], r.text
    r = requests.post(engine.aws_url, data=b"{}", timeout=10, headers=signed_headers("POST", engine.aws_url, b"{}", {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.PutLogEvents"}, "logs"))
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"


def test_aws_cli_filter_log_events(engine: EngineHandle, group: str) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": engine.aws_url, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)
    aws = str(Path(sys.executable).with_name("aws"))
    r = subprocess.run([aws, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "ERROR"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [e["message"] for e in json.loads(r.stdout)["events"]] == ["ERROR disk full 0", "ERROR disk full 3"]


# --- the pattern compiler alone (pure) -------------------------------------------------------
def test_pattern_is_case_sensitive_and_rejects_garbage() -> None:
    assert compile_pattern("ERROR")("an ERROR here") and not compile_pattern("ERROR")("an error here")
    assert compile_pattern("")("anything") and compile_pattern(None)("anything")
    for bad in ('"unbalanced', "{ $.a = 1", "[ip, user]", "{ level = 1 }", "{ $.a ~ 1 }"):
        with pytest.raises(BadFilterPattern):
            compile_pattern(bad)

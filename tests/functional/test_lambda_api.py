"""The Lambda REST API on the AWS endpoint, judged by boto3 and the aws CLI against a real engine."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError, ParamValidationError

from samlite.testing import EngineHandle, signed_headers, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: src/
    Timeout: 10
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.hello
      Description: says hello
      MemorySize: 256
      Environment:
        Variables:
          GREETING: hi
  Boom:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.boom
  Throttled:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.hello
      ReservedConcurrentExecutions: 0
  Caller:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.caller
      Environment:
        Variables:
          TARGET: !Ref Hello
          QUEUE_URL: !Ref Jobs
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.hello
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
"""

APP = '''\
import json, os
import boto3

def hello(event, context):
    print("hello event", json.dumps(event))
    return {"greeting": os.environ.get("GREETING"), "event": event,
            "client_context": getattr(context.client_context, "custom", None) if context.client_context else None}

def boom(event, context):
    raise ValueError("boom")

def caller(event, context):
    # Unmodified AWS code: the endpoint comes from the injected AWS_ENDPOINT_URL.
    comprehend = boto3.client("comprehend")
    sentiment = comprehend.detect_sentiment(Text=event["text"], LanguageCode="en")["Sentiment"]
    lam = boto3.client("lambda")
    answer = lam.invoke(FunctionName=os.environ["TARGET"], Payload=json.dumps({"from": "caller"}))
    inner = json.loads(answer["Payload"].read())
    sent = boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody="from caller")
    return {"sentiment": sentiment, "inner": inner, "message_id": sent["MessageId"]}
'''


def write_app(root: Path) -> Path:
    return write_project(root, TEMPLATE, {"src/app.py": APP})


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    samlite_module_engine.deploy(write_app(tmp_path_factory.mktemp("lambda-api") / "app"), "app")
    return samlite_module_engine


@pytest.fixture(scope="module")
def lam(engine: EngineHandle) -> Any:
    return engine.client("lambda")


@pytest.fixture(scope="module")
def names(lam: Any) -> dict[str, str]:
    found = {}
    for fn in lam.list_functions()["Functions"]:
        logical = fn["FunctionName"].split("-")[1]
        found[logical] = fn["FunctionName"]
    return found


def _err(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


# --- Invoke ----------------------------------------------------------------------------------
def test_invoke_request_response_with_tail(lam: Any, names: dict[str, str]) -> None:
    r = lam.invoke(FunctionName=names["Hello"], Payload=b'{"a": 1}', LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in r
    body = json.loads(r["Payload"].read())
    assert body["greeting"] == "hi" and body["event"] == {"a": 1}
    log = base64.b64decode(r["LogResult"]).decode()
    request_id = r["ResponseMetadata"]["RequestId"]
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST")
    assert 'hello event {"a": 1}' in log
    assert f"END RequestId: {request_id}" in log
    assert f"REPORT RequestId: {request_id}\tDuration: " in log


def test_invoke_by_arn_and_qualifier(lam: Any, names: dict[str, str]) -> None:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{names['Hello']}"
    assert lam.invoke(FunctionName=arn, Payload=b"{}")["StatusCode"] == 200
    assert lam.invoke(FunctionName=names["Hello"], Qualifier="$LATEST", Payload=b"{}")["StatusCode"] == 200
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.invoke(FunctionName=names["Hello"], Qualifier="live", Payload=b"{}")
    assert _err(exc)[1] == f"Function not found: {arn}:live"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.invoke(FunctionName=f"{names['Hello']}:$LATEST", Qualifier="other", Payload=b"{}")


def test_function_error_is_200_with_header(lam: Any, names: dict[str, str]) -> None:
    r = lam.invoke(FunctionName=names["Boom"], Payload=b"{}")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom"
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]


def test_event_and_dry_run(lam: Any, names: dict[str, str]) -> None:
    r = lam.invoke(FunctionName=names["Hello"], InvocationType="DryRun", Payload=b"{}")
    assert r["StatusCode"] == 204 and r["Payload"].read() == b""
    r = lam.invoke(FunctionName=names["Hello"], InvocationType="Event", Payload=b'{"async": true}')
    assert r["StatusCode"] == 202 and r["Payload"].read() == b""


def test_client_context(lam: Any, names: dict[str, str]) -> None:
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    r = lam.invoke(FunctionName=names["Hello"], ClientContext=ctx, Payload=b"{}")
    assert json.loads(r["Payload"].read())["client_context"] == {"k": "v"}
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.invoke(FunctionName=names["Hello"], ClientContext="not base64 json!", Payload=b"{}")


def test_not_found(engine: EngineHandle, lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert _err(exc) == ("ResourceNotFoundException",
                         "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope", 404)
    # Raw wire shape: capital "Message" and the x-amzn-ErrorType header.
    url = f"{engine.aws_url}/2015-03-31/functions/nope/invocations"
    raw = requests.post(url, data=b"{}", timeout=10, headers=signed_headers("POST", url, b"{}", service="lambda"))
    assert raw.status_code == 404
    assert raw.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert raw.json() == {"Type": "User",
                          "Message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"}


def test_throttled_by_reserved_concurrency_zero(engine: EngineHandle, lam: Any, names: dict[str, str]) -> None:
    with pytest.raises(lam.exceptions.TooManyRequestsException) as exc:
        lam.invoke(FunctionName=names["Throttled"], Payload=b"{}")
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert _err(exc)[1:] == ("Rate Exceeded.", 429)
    url = f"{engine.aws_url}/2015-03-31/functions/{names['Throttled']}/invocations"
    raw = requests.post(url, data=b"{}", timeout=10, headers=signed_headers("POST", url, b"{}", service="lambda"))
    assert raw.status_code == 429 and raw.headers.get("Retry-After")
    assert raw.json()["Type"] == "User" and raw.json()["message"] == "Rate Exceeded."


def test_request_too_large(lam: Any, names: dict[str, str]) -> None:
    payload = b'{"x": "' + b"a" * 6_291_456 + b'"}'
    with pytest.raises(lam.exceptions.RequestTooLargeException) as exc:
        lam.invoke(FunctionName=names["Hello"], Payload=payload)
    assert _err(exc) == ("RequestTooLargeException", f"{len(payload)} byte payload is too large for the "
                         "RequestResponse invocation type (limit 6291456 bytes)", 413)
    small_for_sync = b'{"x": "' + b"a" * 1_048_576 + b'"}'
    with pytest.raises(lam.exceptions.RequestTooLargeException) as exc:
        lam.invoke(FunctionName=names["Hello"], InvocationType="Event", Payload=small_for_sync)
    assert "(limit 1048576 bytes)" in _err(exc)[1]


def test_invalid_json_payload(lam: Any, names: dict[str, str]) -> None:
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as exc:
        lam.invoke(FunctionName=names["Hello"], Payload=b"{not json")
    code, message, status = _err(exc)
    assert status == 400 and message.startswith("Could not parse request body into json")


def test_function_calls_other_services(engine: EngineHandle, lam: Any, names: dict[str, str]) -> None:
    r = lam.invoke(FunctionName=names["Caller"], Payload=json.dumps({"text": "I love strawberry cake!"}))
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    assert body["sentiment"] == "POSITIVE"
    assert body["inner"]["event"] == {"from": "caller"}
    assert body["message_id"]


# --- functions -------------------------------------------------------------------------------
def test_list_functions_paging(lam: Any, names: dict[str, str]) -> None:
    seen = []
    marker = None
    while True:
        kwargs = {"MaxItems": 2, **({"Marker": marker} if marker else {})}
        page = lam.list_functions(**kwargs)
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(seen) == sorted(names.values()) and len(seen) == 5
    paginated = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
                 for f in p["Functions"]]
    assert paginated == seen


def test_get_function(engine: EngineHandle, lam: Any, names: dict[str, str]) -> None:
    r = lam.get_function(FunctionName=names["Hello"])
    conf = r["Configuration"]
    assert conf["FunctionName"] == names["Hello"]
    assert conf["FunctionArn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{names['Hello']}"
    assert conf["Runtime"] == "python3.12" and conf["Handler"] == "app.hello"
    assert conf["MemorySize"] == 256 and conf["Timeout"] == 10 and conf["Description"] == "says hello"
    assert conf["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert conf["Role"].startswith("arn:aws:iam::123456789012:role/app-HelloRole-")
    assert conf["State"] == "Active" and conf["LastUpdateStatus"] == "Successful" and conf["PackageType"] == "Zip"
    assert conf["Version"] == "$LATEST" and conf["Architectures"] == ["x86_64"]
    assert conf["EphemeralStorage"] == {"Size": 512}
    assert conf["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{names['Hello']}"}
    assert conf["LastModified"].endswith("+0000")
    zipped = requests.get(r["Code"]["Location"], timeout=10)
    assert zipped.status_code == 200
    import hashlib
    assert base64.b64encode(hashlib.sha256(zipped.content).digest()).decode() == conf["CodeSha256"]
    assert len(zipped.content) == conf["CodeSize"]
    assert "app.py" in zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert r["Code"]["RepositoryType"] == "S3"
    assert lam.get_function_configuration(FunctionName=names["Hello"]) | {"ResponseMetadata": None} == \
        conf | {"ResponseMetadata": None}
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="missing-fn")


def test_account_settings(lam: Any) -> None:
    r = lam.get_account_settings()
    limit = r["AccountLimit"]
    assert limit["ConcurrentExecutions"] == 1000 and limit["UnreservedConcurrentExecutions"] == 1000
    assert limit["CodeSizeUnzipped"] == 262144000 and limit["CodeSizeZipped"] == 52428800
    assert r["AccountUsage"]["FunctionCount"] == 5 and r["AccountUsage"]["TotalCodeSize"] > 0


# --- event source mappings -------------------------------------------------------------------
def test_event_source_mappings(lam: Any, names: dict[str, str]) -> None:
    mappings = lam.list_event_source_mappings(FunctionName=names["Worker"])["EventSourceMappings"]
    assert len(mappings) == 1
    m = mappings[0]
    assert m["BatchSize"] == 5 and m["FunctionArn"].endswith(names["Worker"])
    assert lam.list_event_source_mappings(EventSourceArn=m["EventSourceArn"])["EventSourceMappings"][0]["UUID"] == m["UUID"]
    assert lam.list_event_source_mappings(FunctionName=names["Hello"])["EventSourceMappings"] == []
    assert lam.get_event_source_mapping(UUID=m["UUID"])["UUID"] == m["UUID"]
    updated = lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=7, Enabled=False)
    assert updated["BatchSize"] == 7
    assert lam.get_event_source_mapping(UUID=m["UUID"])["BatchSize"] == 7
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ClientError) as exc:
        lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=20000)
    assert _err(exc)[2] == 400


# --- bad input -------------------------------------------------------------------------------
def test_unknown_paths_and_methods_are_4xx(engine: EngineHandle) -> None:
    for method, path in (("GET", "/2015-03-31/nothing-here"), ("POST", "/2015-03-31/functions"),
                         ("DELETE", "/2015-03-31/functions/x")):
        r = requests.request(method, engine.aws_url + path, data=b"{}", timeout=10,
                             headers=signed_headers(method, engine.aws_url + path, b"{}", service="lambda"))
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        assert r.headers.get("x-amzn-ErrorType")
        assert "Traceback" not in r.text


def test_malformed_esm_update_body(engine: EngineHandle, lam: Any, names: dict[str, str]) -> None:
    uuid = lam.list_event_source_mappings(FunctionName=names["Worker"])["EventSourceMappings"][0]["UUID"]
    url = f"{engine.aws_url}/2015-03-31/event-source-mappings/{uuid}"
    for body in (b"{oops", b'{"BatchSize": "ten"}', b"[1]", b'{"Enabled": "yes"}'):
        r = requests.put(url, data=body, timeout=10, headers=signed_headers("PUT", url, body, service="lambda"))
        assert r.status_code == 400, (body, r.text)


def test_invalid_log_type(lam: Any, names: dict[str, str]) -> None:
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=names["Hello"], LogType="Everything", Payload=b"{}")
    assert _err(exc)[2] == 400


def test_client_side_validation_still_applies(lam: Any) -> None:
    with pytest.raises(ParamValidationError):
        lam.invoke(FunctionName="", Payload=b"{}")


# --- the aws CLI -----------------------------------------------------------------------------
def _aws(engine: EngineHandle, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": engine.aws_url, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}
    env.pop("AWS_PROFILE", None)
    aws = str(Path(sys.executable).with_name("aws"))
    return subprocess.run([aws, *args], env=env, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_aws_cli_invoke(engine: EngineHandle, names: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    r = _aws(engine, "lambda", "invoke", "--function-name", names["Hello"],
             "--payload", '{"cli": true}', "--log-type", "Tail", str(out))
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert "START RequestId" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(out.read_text())["event"] == {"cli": True}
    r = _aws(engine, "lambda", "invoke", "--function-name", "nope", str(out))
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr
    r = _aws(engine, "lambda", "list-functions")
    assert r.returncode == 0 and len(json.loads(r.stdout)["Functions"]) == 5

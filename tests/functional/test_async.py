"""Asynchronous invocations end to end: retries, OnSuccess / OnFailure destinations (SQS and
Lambda), the function DLQ, maximum event age under throttling, and durability across SIGKILL.

The engine runs with SAMLITE_ASYNC_RETRY_BASE=0.2 (samlite.testing's default), so the async
clock runs 300x faster: retries after 0.2 s and 0.4 s, and 60 s of event age last 0.2 s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqs_esm_stack import STACK, deploy, deployed_engine, queue_url

from samlite.testing import EngineHandle, wait_for


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    return deployed_engine(samlite_module_engine, tmp_path_factory)


@pytest.fixture(scope="module")
def sqs(engine: EngineHandle) -> Any:
    return engine.client("sqs")


@pytest.fixture(scope="module")
def lam(engine: EngineHandle) -> Any:
    return engine.client("lambda")


def function_name(lam: Any, logical_id: str) -> str:
    [name] = [f["FunctionName"] for f in lam.list_functions()["Functions"]
              if f["FunctionName"].startswith(f"{STACK}-{logical_id}-")]
    return name


def invoke_event(lam: Any, name: str, event: dict[str, Any]) -> str:
    res = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert res["StatusCode"] == 202
    return res["ResponseMetadata"]["RequestId"]


def receive(sqs: Any, url: str, timeout: float = 15.0, **kwargs: Any) -> list[dict[str, Any]]:
    def step() -> Any:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        return got.get("Messages")

    messages = wait_for(step, timeout=timeout, interval=0.0, message=f"a message in {url.rsplit('/', 1)[1]}")
    sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return messages


def test_success_goes_to_on_success(lam: Any, sqs: Any) -> None:
    name = function_name(lam, "AsyncWorker")
    request_id = invoke_event(lam, name, {"order": 7})
    [message] = receive(sqs, queue_url(sqs, "SuccessQueue"))
    record = json.loads(message["Body"])
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST",
        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"order": 7}}


def test_retries_then_on_failure_with_same_request_id(lam: Any, sqs: Any, engine: EngineHandle) -> None:
    name = function_name(lam, "AsyncWorker")
    request_id = invoke_event(lam, name, {"fail": True, "message": "boom"})
    [message] = receive(sqs, queue_url(sqs, "FailureQueue"))
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts: 1
    assert record["requestPayload"] == {"fail": True, "message": "boom"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "boom"
    assert record["responsePayload"]["errorType"] == "ValueError"
    # Both attempts ran under the same request id.
    logs = engine.client("logs")

    def starts() -> int:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        return sum(e["message"].startswith(f"START RequestId: {request_id}") for e in events)

    assert wait_for(lambda: starts() >= 2, timeout=10, message="two START lines") and starts() == 2


def test_dlq_and_lambda_on_failure(lam: Any, sqs: Any) -> None:
    name = function_name(lam, "DlqWorker")
    long_message = "é" * 1500  # 3000 bytes: the DLQ keeps the first 1 KB
    payload = {"fail": True, "message": long_message}
    request_id = invoke_event(lam, name, payload)
    [dead] = receive(sqs, queue_url(sqs, "AsyncDLQ"), MessageAttributeNames=["All"])
    assert json.loads(dead["Body"]) == payload
    attrs = dead["MessageAttributes"]
    assert attrs["RequestID"] == {"StringValue": request_id, "DataType": "String"}
    assert attrs["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    error_message = attrs["ErrorMessage"]["StringValue"]
    assert len(error_message.encode()) <= 1024 and long_message.startswith(error_message)
    assert len(error_message) == 512
    # OnFailure is a Lambda function, invoked asynchronously with the record as its event.
    [recorded] = receive(sqs, queue_url(sqs, "RecorderQueue"))
    record = json.loads(recorded["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts: 0
    assert record["requestContext"]["requestId"] == request_id


def test_throttled_until_event_age_exceeded(lam: Any, sqs: Any) -> None:
    name = function_name(lam, "Throttled")  # ReservedConcurrentExecutions: 0
    request_id = invoke_event(lam, name, {"n": 1})
    [message] = receive(sqs, queue_url(sqs, "AgeQueue"))
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestPayload"] == {"n": 1}


def test_bad_async_payloads_are_rejected(lam: Any) -> None:
    name = function_name(lam, "AsyncWorker")
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'"' + b"x" * (1024 * 1024) + b'"')
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{not json")


def test_accepted_events_survive_sigkill(tmp_path: Path) -> None:
    handle = EngineHandle(tmp_path / "home").start()
    try:
        deploy(handle, tmp_path)
        lam, sqs = handle.client("lambda"), handle.client("sqs")
        name = function_name(lam, "SlowWorker")  # concurrency 1, 50 ms per event
        done = queue_url(sqs, "SlowDoneQueue")
        for i in range(40):
            invoke_event(lam, name, {"i": i})
        handle.kill()  # most events are still queued (40 x 50 ms at concurrency 1)
        handle.start()
        sqs = handle.client("sqs")
        seen: set[int] = set()

        def step() -> bool:
            got = sqs.receive_message(QueueUrl=done, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            for m in got:
                seen.add(json.loads(m["Body"])["requestPayload"]["i"])
                sqs.delete_message(QueueUrl=done, ReceiptHandle=m["ReceiptHandle"])
            return seen == set(range(40))

        wait_for(step, timeout=40, interval=0.0, message="all 40 accepted events delivered after restart")
    finally:
        handle.stop()
        handle.kill()

"""Throttling under ReservedConcurrentExecutions: 1, per invocation type.

Sync callers get 429; an async event that meets a busy function is kept and delivered later;
an SQS mapping that is throttled loses nothing. Throttles are counted in the metrics.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, wait_for

STACK_DIR = Path(__file__).parent / "stacks" / "throttle"
STACK = "throttle"


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    project = tmp_path_factory.mktemp("throttle") / "project"
    shutil.copytree(STACK_DIR, project)
    samlite_module_engine.deploy(project / "template.yaml", STACK)
    return samlite_module_engine


def outputs(engine: EngineHandle) -> dict[str, str]:
    rows = json.loads(engine.cli("list", "resources", "--stack-name", STACK, "--output", "json", check=True).stdout)
    return {r["logical_id"]: r["physical_id"] for r in rows}


def throttles(engine: EngineHandle, function: str) -> int:
    summary = json.loads(engine.cli("metrics", function, "--stack-name", STACK, "--output", "json", check=True).stdout)
    return sum(f["throttles"] for f in summary["functions"])


def drain(sqs: Any, url: str, want: int, timeout: float = 60) -> list[str]:
    bodies: list[str] = []

    def more() -> bool:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in got.get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(bodies) >= want

    wait_for(more, timeout=timeout, interval=0, message=f"{want} messages on {url}")
    return bodies


def test_async_event_throttled_then_delivered(engine: EngineHandle) -> None:
    ids = outputs(engine)
    lam = engine.client("lambda")
    sqs = engine.client("sqs")
    # Hold the function's only slot with a slow synchronous call...
    busy = threading.Thread(target=lambda: lam.invoke(FunctionName=ids["SlowFunction"],
                                                      Payload=json.dumps({"sleep": 1.5})))
    busy.start()
    wait_for(lambda: throttle_free_started(engine, ids["SlowFunction"]), timeout=10, message="the slow call to start")
    # ...so the async event meets a throttle, is kept, and runs once the slot frees.
    accepted = lam.invoke(FunctionName=ids["SlowFunction"], InvocationType="Event",
                          Payload=json.dumps({"tag": "later"}))
    assert accepted["StatusCode"] == 202
    busy.join(30)
    record = json.loads(drain(sqs, ids["SuccessQueue"], 1)[0])
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"]["tag"] == "later"
    assert record["requestContext"]["approximateInvokeCount"] == 1  # throttles do not consume attempts
    assert throttles(engine, "SlowFunction") >= 1


def throttle_free_started(engine: EngineHandle, name: str) -> bool:
    logs = engine.cli("logs", "-n", "SlowFunction", "--stack-name", STACK).stdout
    return "START RequestId" in logs


def test_sync_caller_gets_429_while_busy(engine: EngineHandle) -> None:
    ids = outputs(engine)
    lam = engine.client("lambda")
    held = threading.Event()

    def hold_slot() -> None:
        # A probe below can win the slot first and throttle this call: retry until it runs.
        deadline = time.monotonic() + 20
        while not held.is_set() and time.monotonic() < deadline:
            try:
                lam.invoke(FunctionName=ids["SlowFunction"], Payload=json.dumps({"sleep": 1.5}))
                held.set()
            except lam.exceptions.TooManyRequestsException:
                time.sleep(0.05)

    busy = threading.Thread(target=hold_slot)
    busy.start()
    try:
        def throttled() -> bool:
            try:
                lam.invoke(FunctionName=ids["SlowFunction"], Payload=b"{}")
            except lam.exceptions.TooManyRequestsException as exc:
                assert exc.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
                return True
            return False

        wait_for(throttled, timeout=10, message="a 429 while the only slot is busy")
    finally:
        busy.join(30)


def test_sqs_mapping_under_throttling_loses_nothing(engine: EngineHandle) -> None:
    ids = outputs(engine)
    sqs = engine.client("sqs")
    lam = engine.client("lambda")
    before = throttles(engine, "WorkerFunction")
    # Direct calls keep taking the function's only slot, so the mapping's batches get throttled.
    stop = threading.Event()

    def hog() -> None:
        while not stop.is_set():
            try:
                lam.invoke(FunctionName=ids["WorkerFunction"], Payload=b'{"Records": []}')
            except lam.exceptions.TooManyRequestsException:
                pass

    hogs = [threading.Thread(target=hog) for _ in range(2)]
    for t in hogs:
        t.start()
    bodies = [f"job-{i}" for i in range(30)]
    try:
        for start in range(0, len(bodies), 10):
            sqs.send_message_batch(QueueUrl=ids["WorkQueue"], Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:start + 10])])
        # Hog for a while, then let the mapping catch up: two hogs that never stop could starve
        # the mapping for longer than any deadline (the test was flaky that way).
        hogged_until = time.monotonic() + 3
        wait_for(lambda: time.monotonic() > hogged_until and throttles(engine, "WorkerFunction") > before,
                 timeout=30, interval=0.2, message="throttled invocations")
    finally:
        stop.set()
        for t in hogs:
            t.join(30)
    done = [d.split("|") for d in drain(sqs, ids["DoneQueue"], len(bodies), timeout=90)]
    assert sorted(body for body, _ in done) == sorted(bodies)  # every message processed once; none lost
    # A throttled batch is not deleted: its message comes back (receive count 2+) and is processed then.
    assert max(int(count) for _, count in done) >= 2
    assert throttles(engine, "WorkerFunction") > before
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=ids["WorkQueue"], AttributeNames=["All"])["Attributes"]
             ["ApproximateNumberOfMessagesNotVisible"] == "0", timeout=30, message="the work queue to drain")
    attrs = sqs.get_queue_attributes(QueueUrl=ids["WorkQueue"], AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"

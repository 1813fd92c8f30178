"""Throttling under ReservedConcurrentExecutions: 1, per invocation type.

Sync callers get 429; an async event that meets a busy function is kept and delivered later;
an SQS mapping that is throttled loses nothing. Throttles are counted in the metrics.

The local cap on live environments (SAMLITE_MAX_ENVIRONMENTS) is not a throttle: synchronous
callers beyond it wait in line (up to SAMLITE_ENVIRONMENT_WAIT) instead of getting a 429.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, wait_for

STACK_DIR = Path(__file__).parent / "stacks" / "throttle"
STACK = "throttle"
CAP_DIR = Path(__file__).parent / "stacks" / "envcap"
CAP_STACK = "envcap"


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


# --- the local environment cap ----------------------------------------------------------------
def capped_engine(tmp_path: Path, cap: int, wait: float) -> EngineHandle:
    engine = EngineHandle(tmp_path / "home", {"SAMLITE_MAX_ENVIRONMENTS": str(cap),
                                              "SAMLITE_ENVIRONMENT_WAIT": str(wait)}).start()
    try:
        project = tmp_path / "project"
        shutil.copytree(CAP_DIR, project)
        engine.deploy(project / "template.yaml", CAP_STACK)
    except BaseException:
        engine.close()
        raise
    return engine


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An engine that may run only 2 environments at once, and lets callers wait up to 60 s."""
    engine = capped_engine(tmp_path_factory.mktemp("envcap"), cap=2, wait=60)
    try:
        yield engine
    finally:
        engine.close()


def cap_ids(engine: EngineHandle) -> dict[str, str]:
    rows = json.loads(engine.cli("list", "resources", "--stack-name", CAP_STACK, "--output", "json",
                                 check=True).stdout)
    return {r["logical_id"]: r["physical_id"] for r in rows}


def started(engine: EngineHandle, function: str, count: int = 1) -> bool:
    logs = engine.cli("logs", "-n", function, "--stack-name", CAP_STACK).stdout
    return logs.count("START RequestId") >= count


def test_sync_invokes_beyond_the_cap_wait_instead_of_429(capped: EngineHandle) -> None:
    ids = cap_ids(capped)
    lam = capped.client("lambda")

    def call(_: int) -> dict[str, Any]:
        out = lam.invoke(FunctionName=ids["SlowFunction"], Payload=json.dumps({"sleep": 0.5}))
        assert out["StatusCode"] == 200 and "FunctionError" not in out
        return json.loads(out["Payload"].read())

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(call, range(6)))  # a 429 would raise TooManyRequestsException here
    # Six concurrent calls, two environments: the later calls queued for the ones in use.
    assert len({r["pid"] for r in results}) <= 2
    assert throttles_in(capped, "SlowFunction") == 0


def test_gateway_requests_beyond_the_cap_wait_instead_of_429(capped: EngineHandle) -> None:
    url = next(e["url"] for e in capped.endpoints(CAP_STACK) if e["kind"] == "http-api").rstrip("/") + "/slow?sleep=0.3"

    def get(_: int) -> tuple[int, int]:
        with urllib.request.urlopen(url, timeout=60) as resp:  # a 429 or 503 raises HTTPError
            return resp.status, json.loads(resp.read())["pid"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(get, range(8)))
    assert [status for status, _ in results] == [200] * 8
    assert len({pid for _, pid in results}) <= 2


def test_reserved_concurrency_still_429s_at_once(capped: EngineHandle) -> None:
    ids = cap_ids(capped)
    lam = capped.client("lambda")
    before = capped.cli("logs", "-n", "ReservedFunction", "--stack-name", CAP_STACK).stdout.count("START RequestId")
    busy = threading.Thread(target=lambda: lam.invoke(FunctionName=ids["ReservedFunction"],
                                                      Payload=json.dumps({"sleep": 3})))
    busy.start()
    try:
        wait_for(lambda: started(capped, "ReservedFunction", before + 1), timeout=20,
                 message="the reserved function's only slot to be taken")
        with pytest.raises(lam.exceptions.TooManyRequestsException) as err:
            lam.invoke(FunctionName=ids["ReservedFunction"], Payload=b"{}")
        assert err.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        busy.join(30)


def throttles_in(engine: EngineHandle, function: str) -> int:
    summary = json.loads(engine.cli("metrics", function, "--stack-name", CAP_STACK, "--output", "json",
                                    check=True).stdout)
    return sum(f["throttles"] for f in summary["functions"])


def test_a_wait_past_the_bound_is_a_clear_error(tmp_path: Path) -> None:
    engine = capped_engine(tmp_path, cap=1, wait=0.5)
    try:
        ids = cap_ids(engine)
        lam = engine.client("lambda")
        busy = threading.Thread(target=lambda: lam.invoke(FunctionName=ids["SlowFunction"],
                                                          Payload=json.dumps({"sleep": 4})))
        busy.start()
        try:
            wait_for(lambda: started(engine, "SlowFunction"), timeout=20, message="the only environment to be taken")
            with pytest.raises(lam.exceptions.ServiceException) as err:
                lam.invoke(FunctionName=ids["ReservedFunction"], Payload=b"{}")
            message = err.value.response["Error"]["Message"]
            assert "No execution environment came free within 0.5 s" in message
            assert "SAMLITE_MAX_ENVIRONMENTS" in message
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500  # not a 429 throttle
        finally:
            busy.join(30)
        assert "No execution environment came free" in engine.log_tail(200)
    finally:
        engine.close()


@pytest.mark.parametrize(("name", "value", "says"), [
    ("SAMLITE_MAX_ENVIRONMENTS", "-2", "SAMLITE_MAX_ENVIRONMENTS must be a whole number of environments, at least 1"),
    ("SAMLITE_MAX_ENVIRONMENTS", "lots", "SAMLITE_MAX_ENVIRONMENTS must be a whole number of environments, at least 1"),
    ("SAMLITE_ENVIRONMENT_WAIT", "-1", "SAMLITE_ENVIRONMENT_WAIT must be a number of seconds, 0 or more"),
    ("SAMLITE_ENVIRONMENT_WAIT", "soon", "SAMLITE_ENVIRONMENT_WAIT must be a number of seconds, 0 or more"),
])
def test_bad_cap_settings_stop_the_engine_with_one_clear_line(tmp_path: Path, name: str, value: str,
                                                               says: str) -> None:
    engine = EngineHandle(tmp_path / "home", {name: value})
    with pytest.raises(RuntimeError):
        engine.start()
    lines = [line for line in engine.log_tail(50).splitlines() if line.strip()]
    assert len(lines) == 1, lines  # one line, no traceback
    assert lines[0].startswith(f"Error: {says}, got {value!r} (unset: ")

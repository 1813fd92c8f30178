"""SQS event source mappings end to end: a deployed stack (tests/functional/stacks/sqs_esm),
real functions that report what they received to "record" queues, driven with boto3."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqs_esm_stack import deploy, deployed_engine, queue_url

from samlite.testing import EngineHandle, wait_for


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    return deployed_engine(samlite_module_engine, tmp_path_factory)


@pytest.fixture(scope="module")
def sqs(engine: EngineHandle) -> Any:
    return engine.client("sqs")


def collect(sqs: Any, url: str, predicate: Any, timeout: float = 15.0) -> list[Any]:
    """Drain JSON records from `url` until predicate(records) holds."""
    records: list[Any] = []

    def step() -> bool:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            records.append(json.loads(m["Body"]))
        if got:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        return bool(predicate(records))

    wait_for(step, timeout=timeout, interval=0.0, message=f"records in {url.rsplit('/', 1)[1]}")
    return records


def counts(sqs: Any, url: str) -> tuple[int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_record_shape_partial_failures_and_redrive(sqs: Any) -> None:
    work, dlq, rec = queue_url(sqs, "WorkQueue"), queue_url(sqs, "WorkDLQ"), queue_url(sqs, "RecordQueue")
    work_arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sent = sqs.send_message_batch(QueueUrl=work, Entries=[
        {"Id": "a", "MessageBody": "ok-a", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "b", "MessageBody": "ok-b"},
        {"Id": "c", "MessageBody": "fail-c"}])["Successful"]
    ids = {s["Id"]: s["MessageId"] for s in sent}
    # fail-c is seen twice (receive counts 1 and 2), then moves to the DLQ on the third receive.
    records = collect(sqs, rec, lambda rs: sum(r["body"] == "fail-c" for r in rs) >= 2)
    ok_a = next(r for r in records if r["body"] == "ok-a")
    assert ok_a["messageId"] == ids["a"]
    assert ok_a["eventSource"] == "aws:sqs" and ok_a["eventSourceARN"] == work_arn
    assert ok_a["awsRegion"] == "us-east-1"
    assert ok_a["messageAttributes"] == {"k": {"stringValue": "v", "stringListValues": [], "binaryListValues": [],
                                               "dataType": "String"}}
    assert ok_a["md5OfMessageAttributes"] == "0a77b0642718c3d9dd47090567d11e0d"
    assert set(ok_a["attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                       "ApproximateFirstReceiveTimestamp"}
    ok_b = next(r for r in records if r["body"] == "ok-b")
    assert ok_b["messageAttributes"] == {} and "md5OfMessageAttributes" not in ok_b
    assert [r["body"] for r in records].count("ok-a") == 1  # reported successes were deleted
    counts_seen = sorted(r["attributes"]["ApproximateReceiveCount"] for r in records if r["body"] == "fail-c")
    assert counts_seen == ["1", "2"]
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1,
                                                 AttributeNames=["All"]).get("Messages"), timeout=15,
                     message="fail-c in the DLQ")
    assert moved[0]["MessageId"] == ids["c"]
    assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"] == work_arn
    assert counts(sqs, work) == (0, 0)


def test_batching_window_and_filter(sqs: Any) -> None:
    src, rec = queue_url(sqs, "WindowQueue"), queue_url(sqs, "WindowRecordQueue")
    for batch in range(3):
        sqs.send_message_batch(QueueUrl=src, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"keep": True, "n": batch * 10 + i})} for i in range(10)])
    sqs.send_message_batch(QueueUrl=src, Entries=[
        {"Id": "drop1", "MessageBody": json.dumps({"keep": False})},
        {"Id": "drop2", "MessageBody": "plain text is never matched by a body pattern"}])
    records = collect(sqs, rec, lambda rs: sum(r["size"] for r in rs) >= 30)
    bodies = [json.loads(b) for r in records for b in r["bodies"]]
    assert sorted(b["n"] for b in bodies) == list(range(30))
    # The window gathered more than one receive's worth (10) into a batch.
    assert max(r["size"] for r in records) > 10
    # Filtered-out messages were deleted without invoking.
    wait_for(lambda: counts(sqs, src) == (0, 0), timeout=10, message="window queue empty")


def test_fifo_order_and_failing_group_blocks_only_itself(sqs: Any) -> None:
    src, rec = queue_url(sqs, "OrderQueue"), queue_url(sqs, "FifoRecordQueue")
    entries = []
    for i in range(6):
        entries.append({"Id": f"a{i}", "MessageBody": f"a{i}", "MessageGroupId": "A"})
        if i == 1:
            entries.append({"Id": "bad", "MessageBody": "bad0", "MessageGroupId": "bad"})
        if i < 4:
            entries.append({"Id": f"c{i}", "MessageBody": f"c{i}", "MessageGroupId": "C"})
    for start in range(0, len(entries), 10):
        sqs.send_message_batch(QueueUrl=src, Entries=entries[start:start + 10])
    records = collect(sqs, rec, lambda rs: sum(len(r["bodies"]) for r in rs) >= 10)
    for r in records:
        assert len(set(r["groups"])) == 1  # one message group per batch
    order = [b for r in records for b in r["bodies"]]
    assert [b for b in order if b.startswith("a")] == [f"a{i}" for i in range(6)]
    assert [b for b in order if b.startswith("c")] == [f"c{i}" for i in range(4)]
    assert "bad0" not in order
    # The handler records a batch before returning, and the batch is deleted after: poll.
    wait_for(lambda: sum(counts(sqs, src)) == 1, timeout=10,
             message="only the failing group's message to be left")


def test_powertools_batch_processor(sqs: Any) -> None:
    src, rec, dlq = queue_url(sqs, "PtQueue"), queue_url(sqs, "PtRecordQueue"), queue_url(sqs, "PtDLQ")
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": "1", "MessageBody": "good1"},
                                                  {"Id": "2", "MessageBody": "bad"},
                                                  {"Id": "3", "MessageBody": "good2"}])
    records = collect(sqs, rec, lambda rs: {r["ok"] for r in rs} >= {"good1", "good2"})
    assert sorted(r["ok"] for r in records) == ["good1", "good2"]
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"), timeout=15,
                     message="the failed record in the DLQ")
    assert moved[0]["Body"] == "bad"


def test_disable_and_enable_through_the_lambda_api(engine: EngineHandle, sqs: Any) -> None:
    lam = engine.client("lambda")
    work, rec = queue_url(sqs, "WorkQueue"), queue_url(sqs, "RecordQueue")
    work_arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    [mapping] = [m for m in lam.list_event_source_mappings()["EventSourceMappings"] if m["EventSourceArn"] == work_arn]
    assert mapping["State"] == "Enabled" and mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    updated = lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    assert updated["State"] == "Disabled"
    sqs.send_message(QueueUrl=work, MessageBody="while-disabled")
    deadline = time.monotonic() + 1.5  # a disabled mapping must deliver nothing
    while time.monotonic() < deadline:
        assert counts(sqs, work) == (1, 0)
        time.sleep(0.1)
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    records = collect(sqs, rec, lambda rs: any(r["body"] == "while-disabled" for r in rs))
    assert any(r["body"] == "while-disabled" for r in records)


def test_nothing_lost_when_the_engine_is_killed_mid_stream(tmp_path: Path) -> None:
    handle = EngineHandle(tmp_path / "home").start()
    try:
        deploy(handle, tmp_path)
        sqs = handle.client("sqs")
        work, rec = queue_url(sqs, "WorkQueue"), queue_url(sqs, "RecordQueue")
        bodies = {f"m{i}" for i in range(150)}
        ordered = sorted(bodies)
        for start in range(0, 150, 10):
            sqs.send_message_batch(QueueUrl=work, Entries=[
                {"Id": str(n), "MessageBody": b} for n, b in enumerate(ordered[start:start + 10])])
        # Kill once some batches were processed, while others are still in flight.
        wait_for(lambda: counts(sqs, rec)[0] >= 10, timeout=15, message="first batches processed")
        handle.kill()
        handle.start()
        sqs = handle.client("sqs")
        records = collect(sqs, rec, lambda rs: {r["body"] for r in rs} >= bodies, timeout=30)
        assert {r["body"] for r in records} >= bodies  # at least once, nothing lost
        wait_for(lambda: counts(sqs, work) == (0, 0), timeout=15, message="work queue drained")
    finally:
        handle.stop()
        handle.kill()


# --- pure rules (no engine) ----------------------------------------------------------------
@pytest.mark.parametrize("response, kept", [
    (b'{"batchItemFailures": []}', set()),
    (b'{"batchItemFailures": null}', set()),
    (b"{}", set()),
    (b"null", set()),
    (b"", set()),
    (b'{"batchItemFailures": [{"itemIdentifier": "m2"}]}', {"m2"}),
    (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
    (b'{"batchItemFailures": [{"itemIdentifier": null}]}', None),
    (b'{"batchItemFailures": [{"id": "m1"}]}', None),
    (b'{"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}', None),
    (b"not json", None),
    (b'"a string"', None),
])
def test_report_batch_item_failures_edge_cases(response: bytes, kept: set[str] | None) -> None:
    from samlite.services.lambda_.batch_response import failed_ids

    assert failed_ids(response, {"m1", "m2", "m3"}) == kept


def test_mapping_checks_match_aws_messages() -> None:
    from samlite.services.lambda_.esm import EsmManager

    check = EsmManager.check_mapping
    assert check(60, {"VisibilityTimeout": "30"}, {"BatchSize": 10}) == (
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds")
    assert check(3, {"VisibilityTimeout": "30"}, {"BatchSize": 10}) is None
    assert "greater than 10" in (check(3, {}, {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 0}) or "")
    assert check(3, {}, {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 1}) is None
    assert check(3, {"FifoQueue": "true"}, {"BatchSize": 11, "MaximumBatchingWindowInSeconds": 1})
    assert check(3, {}, {"ScalingConfig": {"MaximumConcurrency": 1}})
    assert check(3, {}, {"FilterCriteria": {"Filters": [{"Pattern": "{bad"}]}})


def test_list_mappings_shows_each_mapping(engine: EngineHandle) -> None:
    from samlite.cli.listing import LISTINGS

    rows = json.loads(engine.cli("list", "mappings", "--output", "json", check=True).stdout)
    template = (Path(__file__).parent / "stacks" / "sqs_esm" / "template.yaml").read_text()
    # One mapping per SQS event (event types sit at 10 spaces; destination types elsewhere).
    assert len(rows) == template.count("\n          Type: SQS\n") == 4
    columns = LISTINGS["mappings"][1]
    for row in rows:
        assert all(c in row for c in columns), row
        assert row["State"] in ("Enabled", "Disabled")
    text = engine.cli("list", "mappings", check=True).stdout
    assert text.split()[: len(columns)] == list(columns)

"""SQS queue semantics through boto3 (JSON protocol) against a real engine process.

Visibility, delays, receipt handles, DLQ redrive, FIFO order/dedup/group locking, long-poll
wake-up, purge, create/delete rules, durability across SIGKILL, and `samlite send-message`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, wait_for


@pytest.fixture(scope="module")
def sqs(engine: EngineHandle) -> Any:
    return engine.client("sqs")


_counter = iter(range(1_000_000))


def new_queue(sqs: Any, fifo: bool = False, **attributes: str) -> str:
    name = f"q{next(_counter)}-{int(time.time() * 1000) % 100000}"
    if fifo:
        name += ".fifo"
        attributes["FifoQueue"] = "true"
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def count(sqs: Any, url: str) -> tuple[int, int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


def test_send_receive_delete_with_attributes_and_md5(sqs: Any) -> None:
    url = new_queue(sqs)
    sent = sqs.send_message(QueueUrl=url, MessageBody="hi", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})
    assert sent["MD5OfMessageBody"] == "49f68a5c8493ec2c0bf489821c21fc3b"
    assert sent["MD5OfMessageAttributes"] == "0a77b0642718c3d9dd47090567d11e0d"
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
    [m] = got["Messages"]
    assert m["MessageId"] == sent["MessageId"] and m["Body"] == "hi"
    assert m["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert m["MD5OfMessageAttributes"] == "0a77b0642718c3d9dd47090567d11e0d"
    attrs = m["Attributes"]
    assert attrs["ApproximateReceiveCount"] == "1"
    assert int(attrs["SentTimestamp"]) <= int(attrs["ApproximateFirstReceiveTimestamp"])
    assert attrs["SenderId"]
    assert count(sqs, url) == (0, 1, 0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert count(sqs, url) == (0, 0, 0)
    # No messages: the Messages key is omitted.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_visibility_timeout_new_receipts_and_not_inflight(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    second = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["ApproximateReceiveCount"])
    m2 = second["Messages"][0]
    assert m2["ReceiptHandle"] != first["ReceiptHandle"]
    assert m2["Attributes"] == {"ApproximateReceiveCount": "2"}
    # Make it visible at once, then changing visibility again is MessageNotInflight.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=0)
    with pytest.raises(sqs.exceptions.MessageNotInflight):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=10)
    m3 = sqs.receive_message(QueueUrl=url)["Messages"][0]
    # A stale, well-formed handle on a standard queue deletes without error.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert count(sqs, url) == (0, 0, 0)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as info:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert 'The input receipt handle "garbage" is not a valid receipt handle.' in str(info.value)
    assert m3["MessageId"] == m2["MessageId"]


def test_change_visibility_batch_and_delete_batch(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": f"b{i}"} for i in range(3)])
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 3
    res = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "nope", "VisibilityTimeout": 0}])
    assert [s["Id"] for s in res["Successful"]] == ["a"]
    assert res["Failed"][0]["Id"] == "b" and res["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    again = sqs.receive_message(QueueUrl=url)["Messages"][0]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": again["ReceiptHandle"]},
        {"Id": "y", "ReceiptHandle": msgs[1]["ReceiptHandle"]},
        {"Id": "z", "ReceiptHandle": msgs[2]["ReceiptHandle"]}])
    assert sorted(s["Id"] for s in deleted["Successful"]) == ["x", "y", "z"]
    assert count(sqs, url) == (0, 0, 0)


def test_delay_seconds_queue_and_message(sqs: Any) -> None:
    url = new_queue(sqs, DelaySeconds="1")
    sqs.send_message(QueueUrl=url, MessageBody="queue-delay")
    sqs.send_message(QueueUrl=url, MessageBody="no-delay", DelaySeconds=0)
    assert count(sqs, url) == (1, 0, 1)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "no-delay"
    started = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]
    assert got["Body"] == "queue-delay"
    assert time.monotonic() - started < 2.0  # the long poll woke when the delay ended


def test_long_poll_wakes_at_once_on_send(sqs: Any, engine: EngineHandle) -> None:
    url = new_queue(sqs)
    receiver = engine.client("sqs")
    result: dict[str, Any] = {}

    def receive() -> None:
        t = time.monotonic()
        result["messages"] = receiver.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        result["done"] = time.monotonic()
        result["waited"] = result["done"] - t

    thread = threading.Thread(target=receive)
    thread.start()
    time.sleep(0.3)  # let the long poll start waiting
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="wake")
    thread.join(10)
    assert result["messages"][0]["Body"] == "wake"
    assert result["waited"] >= 0.25
    assert result["done"] - sent_at < 1.0


def test_long_poll_times_out_empty(sqs: Any) -> None:
    url = new_queue(sqs)
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert 0.9 <= time.monotonic() - started < 3


def test_redrive_to_dlq_keeps_message_id(sqs: Any) -> None:
    dlq = new_queue(sqs)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = new_queue(sqs, RedrivePolicy=f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}')
    src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison")
    for expected in ("1", "2"):
        m = sqs.receive_message(QueueUrl=src, VisibilityTimeout=0, AttributeNames=["All"])["Messages"][0]
        assert m["Attributes"]["ApproximateReceiveCount"] == expected
    # The third receive would push the count past 2: the message moves instead.
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == sent["MessageId"] and moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == src_arn
    assert moved["Attributes"]["ApproximateReceiveCount"] == "1"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]


def test_fifo_order_group_lock_dedup_and_sequence(sqs: Any) -> None:
    url = new_queue(sqs, fifo=True, ContentBasedDeduplication="true")
    seqs = []
    for i in range(4):
        seqs.append(sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="A")["SequenceNumber"])
    sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="B")
    dup = sqs.send_message(QueueUrl=url, MessageBody="a0", MessageGroupId="A")  # content dedup: same body
    explicit = sqs.send_message(QueueUrl=url, MessageBody="a0", MessageGroupId="A", MessageDeduplicationId="other")
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert dup["SequenceNumber"] == seqs[0]
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a1"]
    assert first[0]["Attributes"]["MessageGroupId"] == "A"
    assert first[0]["Attributes"]["SequenceNumber"] == seqs[0]
    assert first[0]["Attributes"]["MessageDeduplicationId"]
    # Group A is locked while a0/a1 are in flight: only B is available.
    nxt = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in nxt] == ["b0"]
    for m in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["a2", "a3", "a0"]
    assert explicit["MessageId"] == rest[2]["MessageId"]


def test_fifo_rules(sqs: Any) -> None:
    url = new_queue(sqs, fifo=True)
    with pytest.raises(sqs.exceptions.ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert info.value.response["Error"]["Code"] == "MissingParameter"
    with pytest.raises(sqs.exceptions.ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")  # no dedup id, no content dedup
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                         DelaySeconds=5)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert count(sqs, url) == (0, 0, 0)


def test_purge_and_purge_in_progress(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "p"} for i in range(5)])
    sqs.purge_queue(QueueUrl=url)
    assert count(sqs, url) == (0, 0, 0)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress):
        sqs.purge_queue(QueueUrl=url)


def test_create_idempotent_name_exists_and_deleted_recently(sqs: Any) -> None:
    name = f"idem-{int(time.time() * 1000)}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "41"})
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)
    with pytest.raises(sqs.exceptions.QueueDeletedRecently):
        sqs.create_queue(QueueName=name)


def test_set_and_get_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert before["VisibilityTimeout"] == "30" and before["MaximumMessageSize"] == "1048576"
    assert before["MessageRetentionPeriod"] == "345600" and before["QueueArn"].endswith(url.rsplit("/", 1)[1])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5", "DelaySeconds": "2"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "DelaySeconds"])
    assert got["Attributes"] == {"VisibilityTimeout": "5", "DelaySeconds": "2"}
    with pytest.raises(sqs.exceptions.InvalidAttributeValue) as info:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    assert "Invalid value for the parameter VisibilityTimeout." in str(info.value)
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Bogus": "1"})
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    # A rejected change changes nothing.
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "5"}


def test_aws_style_urls_reach_the_queue(sqs: Any) -> None:
    url = new_queue(sqs)
    name = url.rsplit("/", 1)[1]
    for alias in (f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}",
                  f"https://queue.amazonaws.com/123456789012/{name}"):
        sqs.send_message(QueueUrl=alias, MessageBody="via alias")
    assert count(sqs, url)[0] == 2


def test_messages_survive_sigkill(tmp_path: Path) -> None:
    handle = EngineHandle(tmp_path / "home").start()
    try:
        sqs = handle.client("sqs")
        url = sqs.create_queue(QueueName="durable")["QueueUrl"]
        ids = set()
        for batch in range(20):
            res = sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": f"m{batch}-{i}"} for i in range(10)])
            ids |= {s["MessageId"] for s in res["Successful"]}
        in_flight = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
        assert len(in_flight) == 10
        handle.kill()
        handle.start()
        sqs = handle.client("sqs")
        url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
        seen: set[str] = set()

        def drain() -> bool:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                seen.add(m["MessageId"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return seen == ids

        wait_for(drain, timeout=15, message="all 200 acknowledged messages after restart")
    finally:
        handle.stop()
        handle.kill()


def test_send_message_cli(engine: EngineHandle, sqs: Any, tmp_path: Path) -> None:
    url = new_queue(sqs)
    name = url.rsplit("/", 1)[1]
    body_file = tmp_path / "body.json"
    body_file.write_text('{"from": "file"}')
    out = engine.cli("send-message", name, "--body", "hello", "--attribute", "color=red",
                     "--attribute", "n=Number:5", check=True)
    message_id = out.stdout.strip()
    engine.cli("send-message", url, "--body-file", str(body_file), check=True)
    engine.cli("send-message", name, "-", input="from stdin", check=True)
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    by_body = {m["Body"]: m for m in msgs}
    assert set(by_body) == {"hello", '{"from": "file"}', "from stdin"}
    assert by_body["hello"]["MessageId"] == message_id
    assert by_body["hello"]["MessageAttributes"] == {"color": {"StringValue": "red", "DataType": "String"},
                                                     "n": {"StringValue": "5", "DataType": "Number"}}
    missing = engine.cli("send-message", "NoSuchQueue", "--body", "x")
    assert missing.returncode == 1 and "no queue 'NoSuchQueue'" in missing.stderr
    both = engine.cli("send-message", name, "--body", "x", "--body-file", str(body_file))
    assert both.returncode == 2
    too_big = engine.cli("send-message", name, "-", input="x" * (1024 * 1024 + 1))
    assert too_big.returncode == 2 and "InvalidParameterValue" in too_big.stderr

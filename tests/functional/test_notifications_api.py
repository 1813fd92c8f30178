"""S3 notifications, SNS fan-out and EventBridge rules made through the API reach samlite's own
queues (SQS targets make every delivered record easy to read back), with AWS's record shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from samlite.testing import EngineHandle, wait_for


def _queue(engine: EngineHandle, name: str, **attrs: str) -> tuple[str, str]:
    sqs = engine.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _receive(engine: EngineHandle, url: str, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
    sqs = engine.client("sqs")
    got: list[dict[str, Any]] = []

    def enough() -> bool:
        got.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"]).get("Messages", []))
        return len(got) >= count

    wait_for(enough, timeout=timeout, message=f"{count} message(s) on {url}")
    return got


def _nothing(engine: EngineHandle, url: str) -> None:
    got = engine.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert got == [], got


def test_s3_put_copy_delete_notify_a_queue(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "s3-events")
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="notified")
    s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration={"QueueConfigurations": [{
        "Id": "uploads", "QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                           {"Name": "suffix", "Value": ".txt"}]}}}]})
    s3.put_object(Bucket="notified", Key="in/red flower=1.txt", Body=b"hello")
    s3.put_object(Bucket="notified", Key="out/skipped.txt", Body=b"x")  # filtered out by prefix
    s3.put_object(Bucket="notified", Key="in/skipped.bin", Body=b"x")  # and by suffix
    record = json.loads(_receive(engine, url)[0]["Body"])["Records"][0]
    assert set(record) == {"eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
                           "requestParameters", "responseElements", "s3"}
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put" and record["awsRegion"] == "us-east-1"
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == 24
    s3rec = record["s3"]
    assert s3rec["s3SchemaVersion"] == "1.0" and s3rec["configurationId"] == "uploads"
    assert s3rec["bucket"]["name"] == "notified" and s3rec["bucket"]["arn"] == "arn:aws:s3:::notified"
    obj = s3rec["object"]
    assert obj["key"] == "in/red+flower%3D1.txt"  # URL-encoded as a form value, slashes kept
    assert obj["size"] == 5 and isinstance(obj["size"], int)
    assert obj["eTag"] == "5d41402abc4b2a76b9719d911017c592"
    assert isinstance(obj["sequencer"], str) and "versionId" not in obj

    s3.copy_object(Bucket="notified", Key="in/copy.txt",
                   CopySource={"Bucket": "notified", "Key": "in/red flower=1.txt"})
    assert json.loads(_receive(engine, url)[0]["Body"])["Records"][0]["eventName"] == "ObjectCreated:Copy"
    s3.delete_object(Bucket="notified", Key="in/copy.txt")
    deleted = json.loads(_receive(engine, url)[0]["Body"])["Records"][0]
    assert deleted["eventName"] == "ObjectRemoved:Delete"
    assert set(deleted["s3"]["object"]) == {"key", "sequencer"}
    _nothing(engine, url)


def test_s3_versioned_bucket_records_carry_version_ids(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "s3-versions")
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="versioned-n")
    s3.put_bucket_versioning(Bucket="versioned-n", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket="versioned-n", NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    version = s3.put_object(Bucket="versioned-n", Key="k", Body=b"v1")["VersionId"]
    created = json.loads(_receive(engine, url)[0]["Body"])["Records"][0]
    assert created["s3"]["object"]["versionId"] == version
    marker = s3.delete_object(Bucket="versioned-n", Key="k")["VersionId"]
    removed = json.loads(_receive(engine, url)[0]["Body"])["Records"][0]
    assert removed["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert removed["s3"]["object"]["versionId"] == marker


def test_sns_fans_out_with_filter_policies_and_raw_delivery(engine: EngineHandle) -> None:
    enveloped_url, enveloped_arn = _queue(engine, "sns-enveloped")
    raw_url, raw_arn = _queue(engine, "sns-raw")
    body_url, body_arn = _queue(engine, "sns-body-filter")
    sns = engine.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=enveloped_arn, ReturnSubscriptionArn=True,
                        Attributes={"FilterPolicy": json.dumps({"kind": ["order"], "total": [{"numeric": [">", 10]}]})}
                        )["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=body_arn, Attributes={
        "FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"item": {"colour": [{"prefix": "bl"}]}})})

    attrs = {"kind": {"DataType": "String", "StringValue": "order"},
             "total": {"DataType": "Number", "StringValue": "12"}}
    message_id = sns.publish(TopicArn=topic, Message=json.dumps({"item": {"colour": "blue"}}), Subject="New order",
                             MessageAttributes=attrs)["MessageId"]
    sns.publish(TopicArn=topic, Message='{"item": {"colour": "red"}}',
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "refund"}})

    envelope = json.loads(_receive(engine, enveloped_url)[0]["Body"])
    assert list(envelope) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                              "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"]
    assert envelope["Type"] == "Notification" and envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == topic and envelope["Subject"] == "New order"
    assert envelope["SignatureVersion"] == "1" and envelope["SigningCertURL"].endswith(".pem")
    assert envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={sub}")
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"},
                                             "total": {"Type": "Number", "Value": "12"}}
    _nothing(engine, enveloped_url)  # the refund did not pass the filter policy

    raw = _receive(engine, raw_url, 2)
    bodies = sorted(m["Body"] for m in raw)
    assert bodies == sorted([json.dumps({"item": {"colour": "blue"}}), '{"item": {"colour": "red"}}'])
    first = next(m for m in raw if "blue" in m["Body"])
    assert first["MessageAttributes"]["total"] == {"DataType": "Number", "StringValue": "12"}

    by_body = _receive(engine, body_url)
    assert json.loads(json.loads(by_body[0]["Body"])["Message"]) == {"item": {"colour": "blue"}}
    _nothing(engine, body_url)


def test_sns_fifo_topic_to_fifo_queue_keeps_groups(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "sns-out.fifo", FifoQueue="true")
    sns = engine.client("sns")
    topic = sns.create_topic(Name="ledger.fifo", Attributes={"FifoTopic": "true",
                                                             "ContentBasedDeduplication": "true"})["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    for i in range(3):
        sns.publish(TopicArn=topic, Message=f"entry {i}", MessageGroupId="acct-1")
    got = _receive(engine, url, 1)
    sqs = engine.client("sqs")
    bodies = [m["Body"] for m in got]
    while len(bodies) < 3:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[-1]["ReceiptHandle"])
        got = _receive(engine, url, 1)
        bodies += [m["Body"] for m in got]
    assert bodies == ["entry 0", "entry 1", "entry 2"]


def test_bad_filter_policy_is_refused(engine: EngineHandle) -> None:
    sns = engine.client("sns")
    topic = sns.create_topic(Name="strict")["TopicArn"]
    with pytest.raises(ClientError) as err:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:x",
                      Attributes={"FilterPolicy": json.dumps({"kind": "not-a-list"})})
    assert err.value.response["Error"]["Code"] == "InvalidParameter"


def test_eventbridge_rule_with_input_transformer_to_a_queue(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "eb-target")
    events = engine.client("events")
    events.create_event_bus(Name="shop")
    events.put_rule(Name="big-orders", EventBusName="shop", EventPattern=json.dumps({
        "source": ["shop.orders"], "detail-type": [{"prefix": "Order "}],
        "detail": {"total": [{"numeric": [">=", 100]}], "$or": [{"country": ["FR"]}, {"vip": [True]}],
                   "sku": [{"wildcard": "BOOK-*"}], "coupon": [{"exists": False}]}}))
    events.put_targets(Rule="big-orders", EventBusName="shop", Targets=[{
        "Id": "q", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"sku": "$.detail.sku", "total": "$.detail.total"},
            "InputTemplate": '{"sku": <sku>, "total": <total>, "text": "sku <sku> costs <total>",'
                             ' "rule": "<aws.events.rule-name>"}'}}])

    def put(detail: dict[str, Any], detail_type: str = "Order Placed") -> None:
        result = events.put_events(Entries=[{"Source": "shop.orders", "DetailType": detail_type,
                                             "Detail": json.dumps(detail), "EventBusName": "shop"}])
        assert result["FailedEntryCount"] == 0

    put({"total": 150, "country": "FR", "sku": "BOOK-42"})
    put({"total": 150, "country": "DE", "sku": "BOOK-43"})  # neither FR nor vip
    put({"total": 50, "country": "FR", "sku": "BOOK-44"})  # too small
    put({"total": 150, "vip": True, "sku": "PEN-1"})  # not a book
    put({"total": 150, "vip": True, "sku": "BOOK-45", "coupon": "X"})  # has a coupon
    put({"total": 150, "country": "FR", "sku": "BOOK-46"}, "Refund Issued")
    got = _receive(engine, url)
    assert json.loads(got[0]["Body"]) == {"sku": "BOOK-42", "total": 150, "text": "sku BOOK-42 costs 150",
                                          "rule": "big-orders"}
    _nothing(engine, url)


def test_eventbridge_plain_event_shape_and_input_path(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "eb-plain")
    path_url, path_arn = _queue(engine, "eb-path")
    events = engine.client("events")
    events.put_rule(Name="all-app", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="all-app", Targets=[{"Id": "whole", "Arn": arn},
                                                {"Id": "part", "Arn": path_arn, "InputPath": "$.detail.user"}])
    event_id = events.put_events(Entries=[{"Source": "my.app", "DetailType": "Signed Up", "Resources": ["r1"],
                                           "Detail": json.dumps({"user": {"id": 7}})}])["Entries"][0]["EventId"]
    event = json.loads(_receive(engine, url)[0]["Body"])
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                           "detail"]
    assert event["id"] == event_id and event["version"] == "0" and event["account"] == "123456789012"
    assert event["detail-type"] == "Signed Up" and event["resources"] == ["r1"]
    assert event["detail"] == {"user": {"id": 7}}
    assert len(event["time"]) == 20 and event["time"].endswith("Z")
    assert json.loads(_receive(engine, path_url)[0]["Body"]) == {"id": 7}


@pytest.mark.parametrize("pattern, reason", [
    ({"source": "not-a-list"}, "source"),
    ({"detail": {"n": [{"numeric": [">", "x"]}]}}, "numeric"),
    ({"detail": {"n": [{"nope": 1}]}}, "nope"),
    ({"$or": [{"a": ["1"]}]}, "$or"),
])
def test_bad_event_patterns_are_refused(engine: EngineHandle, pattern: dict[str, Any], reason: str) -> None:
    with pytest.raises(ClientError) as err:
        engine.client("events").put_rule(Name="bad", EventPattern=json.dumps(pattern))
    assert err.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert reason in err.value.response["Error"]["Message"]


@pytest.mark.parametrize("expression", ["cron(0 10 * * * *)", "rate(1 minutes)", "cron(0 25 * * ? *)", "rate(0 hours)"])
def test_bad_schedule_expressions_are_refused(engine: EngineHandle, expression: str) -> None:
    with pytest.raises(ClientError) as err:
        engine.client("events").put_rule(Name="bad-schedule", ScheduleExpression=expression)
    assert err.value.response["Error"]["Code"] == "ValidationException"

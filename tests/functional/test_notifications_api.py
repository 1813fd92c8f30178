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


def test_s3_eventbridge_configuration_sends_object_created_to_the_default_bus(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "s3-to-bus")
    s3, events = engine.client("s3"), engine.client("events")
    s3.create_bucket(Bucket="bus-bucket")
    s3.put_bucket_notification_configuration(Bucket="bus-bucket",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    events.put_rule(Name="s3-created", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": ["bus-bucket"]}}}))
    events.put_targets(Rule="s3-created", Targets=[{"Id": "q", "Arn": arn}])
    s3.put_object(Bucket="bus-bucket", Key="photos/a b.jpg", Body=b"12345")
    event = json.loads(_receive(engine, url)[0]["Body"])
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert event["resources"] == ["arn:aws:s3:::bus-bucket"]
    detail = event["detail"]
    assert detail["version"] == "0" and detail["bucket"] == {"name": "bus-bucket"} and detail["reason"] == "PutObject"
    assert detail["object"]["key"] == "photos/a b.jpg" and detail["object"]["size"] == 5
    assert detail["object"]["etag"] == "827ccb0eea8a706c4c34a16891f84e7b" and "sequencer" in detail["object"]
    assert set(detail) == {"version", "bucket", "object", "request-id", "requester", "source-ip-address", "reason"}
    s3.delete_object(Bucket="bus-bucket", Key="photos/a b.jpg")
    deleted = json.loads(_receive(engine, url)[0]["Body"])
    assert deleted["detail-type"] == "Object Deleted" and deleted["detail"]["deletion-type"] == "Permanently Deleted"


def test_sns_http_subscriber_on_this_machine_gets_the_notification(engine: EngineHandle) -> None:
    import http.server
    import threading

    got: list[tuple[dict[str, str], bytes]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(({k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sns = engine.client("sns")
        topic = sns.create_topic(Name="webhooks")["TopicArn"]
        endpoint = f"http://127.0.0.1:{server.server_port}/hook"
        sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint, ReturnSubscriptionArn=True)
        message_id = sns.publish(TopicArn=topic, Message="ping")["MessageId"]
        wait_for(lambda: got, timeout=15, message="a POST to the subscriber")
        headers, body = got[0]
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert headers["x-amz-sns-message-id"] == message_id and headers["x-amz-sns-topic-arn"] == topic
        assert headers["x-amz-sns-subscription-arn"] == sub["SubscriptionArn"]
        envelope = json.loads(body)
        assert envelope["Message"] == "ping" and envelope["Type"] == "Notification" and "Subject" not in envelope
    finally:
        server.shutdown()


def test_rule_targets_a_state_machine_and_another_bus(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "eb-forwarded")
    sfn, events = engine.client("stepfunctions"), engine.client("events")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(name="on-event", roleArn="arn:aws:iam::123456789012:role/sfn",
                                       definition=definition)["stateMachineArn"]
    bus = events.create_event_bus(Name="audit")["EventBusArn"]
    events.put_rule(Name="audit-all", EventBusName="audit", EventPattern=json.dumps({"source": ["billing"]}))
    events.put_targets(Rule="audit-all", EventBusName="audit", Targets=[{"Id": "q", "Arn": arn}])
    events.put_rule(Name="billing", EventPattern=json.dumps({"source": ["billing"]}))
    events.put_targets(Rule="billing", Targets=[{"Id": "sfn", "Arn": machine, "InputPath": "$.detail"},
                                                {"Id": "bus", "Arn": bus}])
    events.put_events(Entries=[{"Source": "billing", "DetailType": "Invoice", "Detail": json.dumps({"amount": 3})}])
    forwarded = json.loads(_receive(engine, url)[0]["Body"])
    assert forwarded["source"] == "billing" and forwarded["detail"] == {"amount": 3}
    executions = wait_for(lambda: sfn.list_executions(stateMachineArn=machine)["executions"], timeout=10,
                          message="an execution")
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == {"amount": 3}


def test_an_accepted_publish_is_delivered_once_across_a_kill(samlite_engine: EngineHandle) -> None:
    """The deliveries of a call are committed before its answer; a journal replay delivers nothing again."""
    url, arn = _queue(samlite_engine, "durable-sink")
    sns = samlite_engine.client("sns")
    topic = sns.create_topic(Name="durable")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="kept")
    samlite_engine.kill()
    samlite_engine.start()
    sqs, sns = samlite_engine.client("sqs"), samlite_engine.client("sns")  # the ports change on restart
    url = sqs.get_queue_url(QueueName="durable-sink")["QueueUrl"]
    sns.publish(TopicArn=topic, Message="after")  # moto reloads (and replays its journal) here
    bodies = [m["Body"] for m in _receive(samlite_engine, url, 2)]
    wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None, timeout=5)
    assert sorted(bodies) == ["after", "kept"]


def test_multipart_upload_delete_objects_and_publish_batch(engine: EngineHandle) -> None:
    url, arn = _queue(engine, "s3-multi")
    s3, sns = engine.client("s3"), engine.client("sns")
    s3.create_bucket(Bucket="multi-n")
    s3.put_bucket_notification_configuration(Bucket="multi-n", NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": arn, "Events": ["s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*"]}]})
    upload = s3.create_multipart_upload(Bucket="multi-n", Key="big")["UploadId"]
    etag = s3.upload_part(Bucket="multi-n", Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 10)["ETag"]
    s3.complete_multipart_upload(Bucket="multi-n", Key="big", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    record = json.loads(_receive(engine, url)[0]["Body"])["Records"][0]
    assert record["eventName"] == "ObjectCreated:CompleteMultipartUpload" and record["s3"]["object"]["size"] == 10
    s3.put_object(Bucket="multi-n", Key="small", Body=b"y")  # Put is not configured
    s3.delete_objects(Bucket="multi-n", Delete={"Objects": [{"Key": "big"}, {"Key": "small"}]})
    names = sorted(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in _receive(engine, url, 2))
    assert names == ["big", "small"]

    raw_url, raw_arn = _queue(engine, "batch-raw")
    topic = sns.create_topic(Name="batched")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": str(i), "Message": f"b{i}"} for i in range(3)])
    assert sorted(m["Body"] for m in _receive(engine, raw_url, 3)) == ["b0", "b1", "b2"]

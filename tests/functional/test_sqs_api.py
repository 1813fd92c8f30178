"""The SQS wire protocols: the legacy query protocol (form in, XML out) next to the JSON protocol,
error shapes of both, limits and bad input (which must change nothing)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests

from samlite.testing import EngineHandle, signed_headers

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}


@pytest.fixture(scope="module")
def sqs(engine: EngineHandle) -> Any:
    return engine.client("sqs")


def query(engine: EngineHandle, action: str, path: str = "/", **params: str) -> tuple[int, ET.Element, dict]:
    form = {"Action": action, "Version": "2012-11-05", **params}
    r = requests.post(engine.aws_url + path, data=form, timeout=30, headers=signed_headers(
        "POST", engine.aws_url + path, form, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}))
    return r.status_code, ET.fromstring(r.content), dict(r.headers)


def text(root: ET.Element, path: str) -> str | None:
    node = root.find(path, NS)
    return None if node is None else node.text


def test_query_protocol_round_trip(engine: EngineHandle, sqs: Any) -> None:
    status, root, _ = query(engine, "CreateQueue", QueueName="qp-main", **{
        "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "45", "Tag.1.Key": "team", "Tag.1.Value": "a"})
    assert status == 200 and root.tag == "{%s}CreateQueueResponse" % NS["q"]
    url = text(root, "q:CreateQueueResult/q:QueueUrl")
    assert url and url.endswith("/123456789012/qp-main")
    assert text(root, "q:ResponseMetadata/q:RequestId")

    status, root, _ = query(engine, "SendMessage", QueueUrl=url, MessageBody="hi & <bye>\r\n", **{
        "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "v"})
    assert status == 200
    message_id = text(root, "q:SendMessageResult/q:MessageId")
    assert text(root, "q:SendMessageResult/q:MD5OfMessageAttributes") == "0a77b0642718c3d9dd47090567d11e0d"

    status, root, _ = query(engine, "SendMessageBatch", QueueUrl=url, **{
        "SendMessageBatchRequestEntry.1.Id": "one", "SendMessageBatchRequestEntry.1.MessageBody": "b1",
        "SendMessageBatchRequestEntry.2.Id": "two", "SendMessageBatchRequestEntry.2.MessageBody": "b2",
        "SendMessageBatchRequestEntry.2.DelaySeconds": "0"})
    ids = [e.text for e in root.findall("q:SendMessageBatchResult/q:SendMessageBatchResultEntry/q:Id", NS)]
    assert ids == ["one", "two"]

    status, root, _ = query(engine, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages="10",
                            **{"AttributeName.1": "All", "MessageAttributeName.1": "All"})
    messages = root.findall("q:ReceiveMessageResult/q:Message", NS)
    assert len(messages) == 3
    first = messages[0]
    assert text(first, "q:MessageId") == message_id
    assert text(first, "q:Body") == "hi & <bye>\r\n"  # the \r survives XML (sent as &#xD;)
    attrs = {text(a, "q:Name"): text(a, "q:Value") for a in first.findall("q:Attribute", NS)}
    assert attrs["ApproximateReceiveCount"] == "1"
    mattr = first.find("q:MessageAttribute", NS)
    assert text(mattr, "q:Name") == "k" and text(mattr, "q:Value/q:StringValue") == "v"

    handles = [text(m, "q:ReceiptHandle") for m in messages]
    status, root, _ = query(engine, "DeleteMessageBatch", QueueUrl=url, **{
        "DeleteMessageBatchRequestEntry.1.Id": "a", "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handles[0],
        "DeleteMessageBatchRequestEntry.2.Id": "b", "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "junk"})
    assert [e.text for e in root.findall(".//q:DeleteMessageBatchResultEntry/q:Id", NS)] == ["a"]
    failed = root.find(".//q:BatchResultErrorEntry", NS)
    assert text(failed, "q:Id") == "b" and text(failed, "q:Code") == "ReceiptHandleIsInvalid"
    assert text(failed, "q:SenderFault") == "true"

    # The queue can also be addressed by the URL path; the JSON protocol sees the same state.
    status, root, _ = query(engine, "GetQueueAttributes", path="/123456789012/qp-main", **{"AttributeName.1": "All"})
    attrs = {text(a, "q:Name"): text(a, "q:Value") for a in root.findall(".//q:Attribute", NS)}
    assert attrs["VisibilityTimeout"] == "45" and attrs["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    status, root, _ = query(engine, "ListQueueTags", QueueUrl=url)
    assert text(root, ".//q:Tag/q:Key") == "team" and text(root, ".//q:Tag/q:Value") == "a"

    status, root, _ = query(engine, "ListQueues", QueueNamePrefix="qp-")
    assert [u.text for u in root.findall(".//q:QueueUrl", NS)] == [url]
    status, root, _ = query(engine, "DeleteQueue", QueueUrl=url)
    assert status == 200 and root.tag.endswith("DeleteQueueResponse")


def test_query_protocol_errors(engine: EngineHandle) -> None:
    status, root, _ = query(engine, "GetQueueUrl", QueueName="nope")
    assert status == 400 and root.tag.endswith("ErrorResponse")
    assert text(root, "q:Error/q:Type") == "Sender"
    assert text(root, "q:Error/q:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert text(root, "q:Error/q:Message") == "The specified queue does not exist."
    status, root, _ = query(engine, "CreateQueue", QueueName="bad name!")
    assert status == 400 and text(root, "q:Error/q:Code") == "InvalidParameterValue"
    status, root, _ = query(engine, "NoSuchAction")
    assert status == 400 and text(root, "q:Error/q:Code") == "InvalidAction"


def test_json_error_shape_and_header(engine: EngineHandle) -> None:
    r = requests.post(engine.aws_url + "/", data=b'{"QueueName": "nope"}', timeout=30, headers=signed_headers(
        "POST", engine.aws_url + "/", b'{"QueueName": "nope"}',
        {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.GetQueueUrl"}))
    assert r.status_code == 400
    assert r.json() == {"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                        "message": "The specified queue does not exist."}
    assert r.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert r.headers["x-amzn-requestid"]
    bad = requests.post(engine.aws_url + "/", data=b"{not json", timeout=30, headers=signed_headers(
        "POST", engine.aws_url + "/", b"{not json",
        {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.ListQueues"}))
    assert bad.status_code == 400


def test_unknown_queue_is_modelled(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl="http://127.0.0.1:1/123456789012/missing", MessageBody="x")


def test_bad_messages_change_nothing(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="bad-input")["QueueUrl"]

    def code(**kwargs: Any) -> str:
        with pytest.raises(sqs.exceptions.ClientError) as info:
            sqs.send_message(QueueUrl=url, **kwargs)
        return info.value.response["Error"]["Code"]

    assert code(MessageBody="x" * (1024 * 1024 + 1)) == "InvalidParameterValue"
    assert code(MessageBody="bad \x00 char") == "InvalidMessageContents"
    assert code(MessageBody="x", MessageAttributes={"AWS.reserved": {"DataType": "String", "StringValue": "v"}}) \
        == "InvalidParameterValue"
    assert code(MessageBody="x", MessageAttributes={"a..b": {"DataType": "String", "StringValue": "v"}}) \
        == "InvalidParameterValue"
    assert code(MessageBody="x", MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}) \
        == "InvalidParameterValue"
    assert code(MessageBody="x", MessageAttributes={"t": {"DataType": "Text", "StringValue": "v"}}) \
        == "InvalidParameterValue"
    assert code(MessageBody="x", MessageAttributes={
        f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}) == "InvalidParameterValue"
    assert code(MessageBody="x", DelaySeconds=901) == "InvalidParameterValue"
    # Exactly the limit is fine (body + attributes count).
    sqs.send_message(QueueUrl=url, MessageBody="x" * (1024 * 1024))
    with pytest.raises(sqs.exceptions.ClientError) as info:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert info.value.response["Error"]["Message"] == (
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"


def test_batch_rules(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="batch-rules")["QueueUrl"]
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as info:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
    assert "Maximum number of entries per request are 10. You have sent 11." in str(info.value)
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}] * 2)
    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "bad id!", "MessageBody": "x"}])
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "x" * 200_000} for i in range(6)])
    # Per-entry failures come back in Failed with HTTP 200; the good entries are stored.
    res = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "fine"}, {"Id": "bad", "MessageBody": "\x01"}])
    assert [s["Id"] for s in res["Successful"]] == ["ok"]
    assert res["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidMessageContents",
                              "Message": res["Failed"][0]["Message"]}]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"


def test_bad_queue_attributes(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.InvalidAttributeValue):
        sqs.create_queue(QueueName="attr-range", Attributes={"MessageRetentionPeriod": "59"})
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.create_queue(QueueName="attr-name", Attributes={"Colour": "blue"})
    with pytest.raises(sqs.exceptions.ClientError) as info:
        sqs.create_queue(QueueName="attr-redrive", Attributes={
            "RedrivePolicy": '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:none","maxReceiveCount":3}'})
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ClientError):
        sqs.create_queue(QueueName="x" * 81)
    names = [u.rsplit("/", 1)[1] for u in sqs.list_queues(QueueNamePrefix="attr-").get("QueueUrls", [])]
    assert names == []


def test_list_queues_pagination_and_tags(sqs: Any) -> None:
    stamp = int(time.time() * 1000)
    urls = [sqs.create_queue(QueueName=f"page-{stamp}-{i}")["QueueUrl"] for i in range(5)]
    first = sqs.list_queues(QueueNamePrefix=f"page-{stamp}", MaxResults=2)
    assert first["QueueUrls"] == urls[:2] and first["NextToken"]
    second = sqs.list_queues(QueueNamePrefix=f"page-{stamp}", MaxResults=2, NextToken=first["NextToken"])
    third = sqs.list_queues(QueueNamePrefix=f"page-{stamp}", MaxResults=2, NextToken=second["NextToken"])
    assert second["QueueUrls"] == urls[2:4] and third["QueueUrls"] == urls[4:] and "NextToken" not in third
    sqs.tag_queue(QueueUrl=urls[0], Tags={"a": "1", "b": "2"})
    sqs.untag_queue(QueueUrl=urls[0], TagKeys=["a"])
    assert sqs.list_queue_tags(QueueUrl=urls[0])["Tags"] == {"b": "2"}


def test_fifo_name_rules(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.ClientError):
        sqs.create_queue(QueueName="plain", Attributes={"FifoQueue": "true"})
    with pytest.raises(sqs.exceptions.ClientError):
        sqs.create_queue(QueueName="named.fifo")
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.create_queue(QueueName="std-cbd", Attributes={"ContentBasedDeduplication": "true"})

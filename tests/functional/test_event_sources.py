"""SAM function events that fire functions: S3, SNS, EventBridgeRule, Schedule and ScheduleV2,
end to end from an unmodified template with unmodified boto3 calls. Each function forwards the
event it got to a sink queue, which the test reads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, wait_for, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: src/
    Environment:
      Variables:
        SINK: !Ref Sink
Resources:
  Sink:
    Type: AWS::SQS::Queue
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: uploads-bucket
  Topic:
    Type: AWS::SNS::Topic
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: orders-bus}
  OnUpload:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {TAG: upload}}
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: incoming/}]}}
  OnMessage:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {TAG: message}}
      Events:
        Note:
          Type: SNS
          Properties:
            Topic: !Ref Topic
            FilterPolicy: {kind: [order]}
  OnOrder:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {TAG: order}}
      Events:
        Order:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [shop], detail: {total: [{numeric: [">", 10]}]}}
            InputTransformer:
              InputPathsMap: {t: $.detail.total, src: $.source}
              InputTemplate: '{"total": <t>, "from": "<src>"}'
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {TAG: tick}}
      Events:
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 minute), Name: every-minute}
        Paused:
          Type: Schedule
          Properties: {Schedule: rate(1 minute), Enabled: false}
        Noon:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 12 * * ? *)
            ScheduleExpressionTimezone: Europe/Paris
            Input: '{"v2": true}'
            Name: noon-paris
  Results:
    Type: AWS::SNS::Topic
  ResultsToSink:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Results, Protocol: sqs, Endpoint: !GetAtt Sink.Arn, RawMessageDelivery: true}
  Flaky:
    Type: AWS::Serverless::Function
    Properties:
      Handler: flaky.handler
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure: {Type: SNS, Destination: !Ref Results}
          OnSuccess: {Type: EventBridge, Destination: !GetAtt Bus.Arn}
  SuccessRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [lambda], detail-type: [Lambda Function Invocation Result - Success]}
      Targets: [{Id: sink, Arn: !GetAtt Sink.Arn}]
"""

FLAKY = """\
def handler(event, context):
    if event.get("fail"):
        raise ValueError("boom")
    return {"ok": True}
"""

APP = """\
import json, os
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps({"tag": os.environ["TAG"], "event": event}))
"""


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    root = tmp_path_factory.mktemp("sources")
    template = write_project(root, TEMPLATE, {"src/app.py": APP, "src/flaky.py": FLAKY})
    result = samlite_module_engine.deploy(template, "sources")
    assert "not emulated" not in result.stderr, result.stderr
    samlite_module_engine.deployed_at = time.time()  # type: ignore[attr-defined]
    return samlite_module_engine


class Sink:
    def __init__(self, engine: EngineHandle) -> None:
        self.sqs = engine.client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=_sink_name(engine))["QueueUrl"]
        self.seen: list[dict[str, Any]] = []

    def wait(self, tag: str, timeout: float = 20, match: Any = None) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for m in self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=1).get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
                body = json.loads(m["Body"])
                self.seen.append(body if isinstance(body, dict) and "tag" in body else {"tag": "raw", "event": body})
            for i, item in enumerate(self.seen):
                if item["tag"] == tag and (match is None or match(item["event"])):
                    return self.seen.pop(i)["event"]
            return None

        return wait_for(found, timeout=timeout, message=f"a {tag} event")

    def none(self, tag: str) -> None:
        for m in self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                          WaitTimeSeconds=1).get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            self.seen.append(json.loads(m["Body"]))
        assert [s for s in self.seen if s["tag"] == tag] == []


def _sink_name(engine: EngineHandle) -> str:
    return next(r["name"] for r in json.loads(engine.cli("list", "queues", "--output", "json", check=True).stdout)
                if r["name"].startswith("sources-Sink"))


@pytest.fixture(scope="module")
def sink(engine: EngineHandle) -> Sink:
    return Sink(engine)


def test_s3_put_invokes_the_function(engine: EngineHandle, sink: Sink) -> None:
    s3 = engine.client("s3")
    s3.put_object(Bucket="uploads-bucket", Key="other/skip.txt", Body=b"no")
    s3.put_object(Bucket="uploads-bucket", Key="incoming/a b.txt", Body=b"hello")
    event = sink.wait("upload")
    record = event["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == "uploads-bucket"
    assert record["s3"]["object"]["key"] == "incoming/a+b.txt" and record["s3"]["object"]["size"] == 5
    sink.none("upload")


def test_sns_publish_invokes_the_filtered_function(engine: EngineHandle, sink: Sink) -> None:
    sns = engine.client("sns")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if "sources-Topic" in t["TopicArn"])
    sns.publish(TopicArn=topic, Message="skip me", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "refund"}})
    message_id = sns.publish(TopicArn=topic, Message="hello", Subject="Hi", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"}})["MessageId"]
    record = sink.wait("message")["Records"][0]
    assert list(record) == ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"].startswith(topic + ":")
    body = record["Sns"]
    assert set(body) == {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                         "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"}
    assert body["MessageId"] == message_id and body["Message"] == "hello" and body["Subject"] == "Hi"
    assert body["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"}}
    assert body["Timestamp"].endswith("Z")
    sink.none("message")


def test_put_events_reaches_the_rule_with_its_input_transformer(engine: EngineHandle, sink: Sink) -> None:
    events = engine.client("events")
    for total in (5, 42):
        assert events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "EventBusName": "orders-bus",
                                           "Detail": json.dumps({"total": total})}])["FailedEntryCount"] == 0
    assert sink.wait("order") == {"total": 42, "from": "shop"}
    sink.none("order")


def test_schedules_are_listed_and_fire_on_demand(engine: EngineHandle, sink: Sink) -> None:
    listed = json.loads(engine.cli("events", "schedules", "--output", "json", check=True).stdout)
    by_name = {row["name"]: row for row in listed}
    assert by_name["every-minute"]["expression"] == "rate(1 minute)" and by_name["every-minute"]["state"] == "ENABLED"
    paused = next(row for row in listed if "Paused" in row["name"])
    assert paused["state"] == "DISABLED" and paused["next"] is None
    noon = by_name["noon-paris"]
    assert noon["timezone"] == "Europe/Paris" and noon["next"].endswith(("10:00:00Z", "11:00:00Z"))

    fired = json.loads(engine.cli("events", "fire", "noon-paris", "--output", "json", check=True).stdout)
    assert fired["kind"] == "schedule"
    assert sink.wait("tick", match=lambda e: "v2" in e) == {"v2": True}
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    engine.cli("events", "fire", "every-minute", check=True)
    event = sink.wait("tick", match=lambda e: e.get("time", "") >= before)
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                           "detail"]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events" and event["detail"] == {}
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/every-minute"]
    missing = engine.cli("events", "fire", "no-such-rule")
    assert missing.returncode != 0 and "no-such-rule" in missing.stderr


def test_rate_one_minute_fires_on_the_clock(engine: EngineHandle, sink: Sink) -> None:
    """The real clock: the first firing comes one minute after the rule was made."""
    deadline = engine.deployed_at + 60 + 15 - time.time()  # type: ignore[attr-defined]
    event = sink.wait("tick", timeout=max(deadline, 5), match=lambda e: "detail-type" in e)
    assert event["detail-type"] == "Scheduled Event"
    fired_at = time.mktime(time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert fired_at >= engine.deployed_at + 55  # type: ignore[attr-defined]


def test_the_generated_resources_are_deployed_not_skipped(engine: EngineHandle) -> None:
    resources = json.loads(engine.cli("list", "resources", "--stack-name", "sources", "--output", "json",
                                      check=True).stdout)
    status = {r["logical_id"]: r["status"] for r in resources}
    for lid in ("OnMessageNote", "OnOrderOrder", "TickerTick", "TickerPaused", "TickerNoon"):
        assert status[lid] != "SKIPPED", (lid, status[lid])


def test_list_subscriptions_rules_and_schedules(engine: EngineHandle) -> None:
    def rows(kind: str) -> list[dict[str, Any]]:
        return json.loads(engine.cli("list", kind, "--stack-name", "sources", "--output", "json", check=True).stdout)

    subs = rows("subscriptions")
    assert sorted((s["protocol"], s["endpoint"].rsplit(":", 1)[1].split("-")[1]) for s in subs) == [
        ("lambda", "OnMessage"), ("sqs", "Sink")]
    rules = {r["name"]: r for r in rows("rules")}
    assert rules["every-minute"]["schedule"] == "rate(1 minute)" and rules["every-minute"]["targets"] == 1
    assert any(r["bus"] == "orders-bus" and r["schedule"] is None for r in rules.values())
    assert [s["name"] for s in rows("schedules")] == ["noon-paris"]


def test_async_destinations_of_type_sns_and_eventbridge_deliver(engine: EngineHandle, sink: Sink) -> None:
    lam = engine.client("lambda")
    name = next(f["FunctionName"] for f in lam.list_functions()["Functions"] if "Flaky" in f["FunctionName"])
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True}))
    failed = sink.wait("raw", match=lambda e: e.get("requestContext", {}).get("condition") == "RetriesExhausted")
    assert failed["requestPayload"] == {"fail": True} and failed["responseContext"]["functionError"] == "Unhandled"
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": False}))
    event = sink.wait("raw", match=lambda e: e.get("source") == "lambda")
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    assert event["detail"]["responsePayload"] == {"ok": True}
    assert event["detail"]["requestContext"]["condition"] == "Success"


def test_validate_reports_bad_schedules_and_patterns(tmp_path: Path, engine: EngineHandle) -> None:
    template = TEMPLATE.replace("rate(1 minute), Name", "cron(0 10 * * * *), Name").replace(
        '[{numeric: [">", 10]}]', '[{numeric: [">", "x"]}]')
    write_project(tmp_path, template, {"src/app.py": APP})
    result = engine.cli("validate", "-t", str(tmp_path / "template.yaml"))
    assert result.returncode == 3
    assert "Schedule: Parameter ScheduleExpression is not valid" in result.stderr + result.stdout
    assert "Event pattern is not valid" in result.stderr + result.stdout

"""DynamoDB Streams and Kinesis event source mappings end to end: a deployed stack whose functions
report what they receive to a "record" queue, driven with unmodified boto3 calls."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, wait_for, write_project

STACK = "streams"

TABLE = """\
  {lid}:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: pk, AttributeType: S}}]
      KeySchema: [{{AttributeName: pk, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: {view}}}
"""

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Timeout: 10
    Environment:
      Variables:
        RECORD_URL: !Ref RecordQueue
Resources:
  RecordQueue:
    Type: AWS::SQS::Queue
  FailureQueue:
    Type: AWS::SQS::Queue
{tables}
  Orders:
    Type: AWS::Kinesis::Stream
    Properties: {{ShardCount: 2}}
  Poison:
    Type: AWS::Kinesis::Stream
    Properties: {{ShardCount: 1}}
  Partial:
    Type: AWS::Kinesis::Stream
    Properties: {{ShardCount: 1}}
  TableFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.record
      Events:
        KeysOnly:
          Type: DynamoDB
          Properties: {{Stream: !GetAtt KeysTable.StreamArn, StartingPosition: TRIM_HORIZON}}
        NewImage: {{Type: DynamoDB, Properties: {{Stream: !GetAtt NewTable.StreamArn, StartingPosition: TRIM_HORIZON}}}}
        OldImage: {{Type: DynamoDB, Properties: {{Stream: !GetAtt OldTable.StreamArn, StartingPosition: LATEST}}}}
        Both:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt BothTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 5
            FilterCriteria:
              Filters:
                - Pattern: '{{"dynamodb": {{"Keys": {{"pk": {{"S": [{{"anything-but": "skip"}}]}}}}}}}}'
  OrderFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.record
      Events:
        Orders:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Orders.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 7
            ParallelizationFactor: 2
  PoisonFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.poison
  PoisonMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref PoisonFn
      EventSourceArn: !GetAtt Poison.Arn
      StartingPosition: TRIM_HORIZON
      BatchSize: 10
      MaximumBatchingWindowInSeconds: 1
      BisectBatchOnFunctionError: true
      MaximumRetryAttempts: 1
      DestinationConfig: {{OnFailure: {{Destination: !GetAtt FailureQueue.Arn}}}}
  PartialFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.partial
      Events:
        Partial:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Partial.Arn
            StartingPosition: LATEST
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            MaximumRetryAttempts: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig: {{OnFailure: {{Destination: !GetAtt FailureQueue.Arn}}}}
Outputs:
  KeysArn: {{Value: !GetAtt KeysTable.StreamArn}}
  OrdersArn: {{Value: !GetAtt Orders.Arn}}
  PoisonArn: {{Value: !GetAtt Poison.Arn}}
"""

APP = """\
import base64
import json
import os

import boto3

_sqs = boto3.client("sqs")


def _record(payload):
    _sqs.send_message(QueueUrl=os.environ["RECORD_URL"], MessageBody=json.dumps(payload))


def record(event, context):
    for r in event["Records"]:
        _record(r)


def poison(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    _record({"batch": datas})
    if "poison" in datas:
        raise ValueError("poison record")


def partial(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    _record({"batch": datas})
    return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
                                  for r in event["Records"] if base64.b64decode(r["kinesis"]["data"]) == b"bad"]}
"""

VIEWS = {"KeysTable": "KEYS_ONLY", "NewTable": "NEW_IMAGE", "OldTable": "OLD_IMAGE", "BothTable": "NEW_AND_OLD_IMAGES"}


def project(root: Path) -> Path:
    tables = "".join(TABLE.format(lid=lid, view=view) for lid, view in VIEWS.items())
    return write_project(root, TEMPLATE.format(tables=tables), {"src/app.py": APP})


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    samlite_module_engine.deploy(project(tmp_path_factory.mktemp("streams")), STACK)
    return samlite_module_engine


class Recorder:
    """Drains the JSON records the functions send to a queue."""

    def __init__(self, engine: EngineHandle, logical_id: str) -> None:
        self.sqs = engine.client("sqs")
        [self.url] = self.sqs.list_queues(QueueNamePrefix=f"{STACK}-{logical_id}-")["QueueUrls"]
        self.seen: list[Any] = []

    def until(self, predicate: Any, timeout: float = 20.0) -> list[Any]:
        def step() -> bool:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
            for m in got:
                self.seen.append(json.loads(m["Body"]))
            if got:
                self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
            return bool(predicate(self.seen))

        wait_for(step, timeout=timeout, interval=0.0, message=f"records in {self.url.rsplit('/', 1)[1]}")
        return self.seen


def table_name(engine: EngineHandle, lid: str) -> str:
    return next(t for t in engine.client("dynamodb").list_tables()["TableNames"] if f"-{lid}-" in t)


def test_dynamodb_records_follow_each_stream_view_type(engine: EngineHandle) -> None:
    ddb = engine.client("dynamodb")
    names = {lid: table_name(engine, lid) for lid in VIEWS}
    for lid, name in names.items():
        ddb.put_item(TableName=name, Item={"pk": {"S": lid}, "n": {"N": "1"}})
        ddb.update_item(TableName=name, Key={"pk": {"S": lid}}, UpdateExpression="SET n = :two",
                        ExpressionAttributeValues={":two": {"N": "2"}})
        ddb.delete_item(TableName=name, Key={"pk": {"S": lid}})
    ddb.put_item(TableName=names["BothTable"], Item={"pk": {"S": "skip"}})  # filtered out
    recorder = Recorder(engine, "RecordQueue")
    # OldTable starts at LATEST: it saw the three changes above only if they came after deploy (they did).
    records = recorder.until(lambda rs: sum(r.get("eventSource") == "aws:dynamodb" for r in rs) >= 12)
    by_table: dict[str, list[Any]] = {}
    for r in records:
        if r.get("eventSource") == "aws:dynamodb":
            by_table.setdefault(r["eventSourceARN"].split(":table/")[1].split("/")[0], []).append(r)
    for lid, name in names.items():
        got = by_table[name]
        assert [r["eventName"] for r in got] == ["INSERT", "MODIFY", "REMOVE"], lid
        insert, modify, remove = got
        assert set(insert) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                               "eventSourceARN"}
        assert insert["eventVersion"] == "1.1" and insert["awsRegion"] == "us-east-1"
        assert insert["eventSourceARN"].startswith(f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}/stream/")
        body = modify["dynamodb"]
        assert isinstance(body["ApproximateCreationDateTime"], float)
        assert abs(body["ApproximateCreationDateTime"] - time.time()) < 300
        assert isinstance(body["SequenceNumber"], str) and body["SequenceNumber"].isdigit()
        assert isinstance(body["SizeBytes"], int) and body["SizeBytes"] > 0
        assert body["StreamViewType"] == VIEWS[lid]
        assert body["Keys"] == {"pk": {"S": lid}}
        assert int(insert["dynamodb"]["SequenceNumber"]) < int(body["SequenceNumber"]) < \
            int(remove["dynamodb"]["SequenceNumber"])
        view = VIEWS[lid]
        new = {"pk": {"S": lid}, "n": {"N": "2"}}
        old = {"pk": {"S": lid}, "n": {"N": "1"}}
        assert body.get("NewImage") == (new if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None), lid
        assert body.get("OldImage") == (old if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None), lid
        assert "NewImage" not in remove["dynamodb"] and "OldImage" not in insert["dynamodb"]
    assert not any(r["dynamodb"]["Keys"]["pk"]["S"] == "skip" for r in by_table[names["BothTable"]])


def test_kinesis_records_keep_order_per_key(engine: EngineHandle) -> None:
    kinesis = engine.client("kinesis")
    arn = engine.outputs(STACK)["OrdersArn"]
    sent: dict[str, list[str]] = {}
    for i in range(40):
        key = f"key-{i % 5}"
        out = kinesis.put_record(StreamARN=arn, PartitionKey=key, Data=f"{key}:{i}".encode())
        sent.setdefault(key, []).append(out["SequenceNumber"])
    recorder = Recorder(engine, "RecordQueue")
    recorder.until(lambda rs: sum(r.get("eventSource") == "aws:kinesis" for r in rs) >= 40)
    got = [r for r in recorder.seen if r.get("eventSource") == "aws:kinesis"]
    assert len(got) == 40  # each record once
    first = got[0]
    assert set(first) == {"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
                          "awsRegion", "eventSourceARN"}
    assert set(first["kinesis"]) == {"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
                                     "approximateArrivalTimestamp"}
    assert first["eventName"] == "aws:kinesis:record" and first["eventVersion"] == "1.0"
    assert first["eventSourceARN"] == arn
    assert first["eventID"] == f"{first['eventID'].split(':')[0]}:{first['kinesis']['sequenceNumber']}"
    assert first["eventID"].startswith("shardId-")
    assert first["invokeIdentityArn"].startswith("arn:aws:iam::123456789012:role/")
    assert isinstance(first["kinesis"]["approximateArrivalTimestamp"], float)
    key, number = base64.b64decode(first["kinesis"]["data"]).decode().split(":")
    assert key == first["kinesis"]["partitionKey"]
    for key, sequences in sent.items():
        seen = [r["kinesis"]["sequenceNumber"] for r in got if r["kinesis"]["partitionKey"] == key]
        assert seen == sequences  # per partition key: every record, in order


def test_bisect_isolates_a_poison_record_and_sends_it_on_failure(engine: EngineHandle) -> None:
    kinesis = engine.client("kinesis")
    arn = engine.outputs(STACK)["PoisonArn"]
    kinesis.put_records(StreamARN=arn, Records=[{"PartitionKey": "p", "Data": d.encode()}
                                                for d in ("a", "b", "poison", "c")])
    failures = Recorder(engine, "FailureQueue").until(lambda rs: len(rs) >= 1)
    [failure] = failures
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2  # the first try and one retry
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert failure["version"] == "1.0"
    batches = Recorder(engine, "RecordQueue").until(
        lambda rs: {"a", "b", "c"} <= {d for r in rs for d in r.get("batch", []) if len(r["batch"]) == 1 or
                                       "poison" not in r["batch"]})
    assert any(r.get("batch") == ["a", "b", "poison", "c"] for r in batches)  # one batch, then bisected


def test_partial_batch_response_retries_from_the_first_failure(engine: EngineHandle) -> None:
    kinesis = engine.client("kinesis")
    arn = next(s for s in kinesis.list_streams()["StreamNames"] if "-Partial-" in s)
    kinesis.put_records(StreamName=arn, Records=[{"PartitionKey": "p", "Data": d.encode()}
                                                 for d in ("x", "y", "bad", "z")])
    failures = Recorder(engine, "FailureQueue").until(lambda rs: len(rs) >= 1)
    info = failures[0]["KinesisBatchInfo"]
    assert info["batchSize"] == 2  # "bad" and what came after it
    recorder = Recorder(engine, "RecordQueue")
    recorder.until(lambda rs: [r.get("batch") for r in rs if "batch" in r and "x" in r["batch"] + ["x"]
                               and r["batch"][-1] == "z"].count(["bad", "z"]) >= 1)
    batches = [r["batch"] for r in recorder.seen if "batch" in r and "z" in r["batch"]]
    assert batches[0] == ["x", "y", "bad", "z"]
    assert batches[1:] == [["bad", "z"]]


def test_positions_survive_a_clean_restart(tmp_path: Path) -> None:
    handle = EngineHandle(tmp_path / "home").start()
    try:
        handle.deploy(project(tmp_path / "project"), STACK)
        kinesis = handle.client("kinesis")
        arn = handle.outputs(STACK)["OrdersArn"]
        for i in range(10):
            kinesis.put_record(StreamARN=arn, PartitionKey=f"k{i}", Data=f"before-{i}".encode())
        Recorder(handle, "RecordQueue").until(
            lambda rs: sum(r.get("eventSource") == "aws:kinesis" for r in rs) >= 10)
        handle.stop()
        handle.start()
        kinesis = handle.client("kinesis")
        for i in range(10):
            kinesis.put_record(StreamARN=arn, PartitionKey=f"k{i}", Data=f"after-{i}".encode())
        recorder = Recorder(handle, "RecordQueue")
        recorder.until(lambda rs: sum(r.get("eventSource") == "aws:kinesis" for r in rs) >= 10)
        time.sleep(1.5)  # anything delivered twice would arrive by now
        recorder.until(lambda rs: True, timeout=3)
        datas = sorted(base64.b64decode(r["kinesis"]["data"]).decode() for r in recorder.seen
                       if r.get("eventSource") == "aws:kinesis")
        assert datas == sorted(f"after-{i}" for i in range(10))
    finally:
        handle.close()


@pytest.mark.parametrize(("event", "message"), [
    ("StartingPosition: SOMETIME", "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"),
    ("StartingPosition: TRIM_HORIZON\n            BatchSize: 10001",
     "Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"),
    ("StartingPosition: TRIM_HORIZON\n            BatchSize: 0", "Member must have value greater than or equal to 1"),
    ("StartingPosition: TRIM_HORIZON\n            ParallelizationFactor: 11", "'parallelizationFactor'"),
    ("StartingPosition: TRIM_HORIZON\n            MaximumRecordAgeInSeconds: 30", "MaximumRecordAgeInSeconds"),
    ("StartingPosition: AT_TIMESTAMP", "Need to specify a timestamp"),
    ("BatchSize: 10", "StartingPosition is required"),
])
def test_bad_stream_parameters_get_aws_errors(tmp_path: Path, samlite_module_engine: EngineHandle, event: str,
                                              message: str) -> None:
    template = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
    Properties: {{ShardCount: 1}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        S:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Stream.Arn
            {event}
"""
    path = write_project(tmp_path, template, {"src/app.py": "def handler(e, c):\n    return None\n"})
    result = samlite_module_engine.cli("validate", "-t", str(path), cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_at_timestamp_is_refused_for_dynamodb(tmp_path: Path, samlite_module_engine: EngineHandle) -> None:
    template = "Transform: AWS::Serverless-2016-10-31\nResources:\n" + TABLE.format(lid="T", view="NEW_IMAGE") + """\
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        S:
          Type: DynamoDB
          Properties: {Stream: !GetAtt T.StreamArn, StartingPosition: AT_TIMESTAMP, StartingPositionTimestamp: 1}
"""
    path = write_project(tmp_path, template, {"src/app.py": "def handler(e, c):\n    return None\n"})
    result = samlite_module_engine.cli("validate", "-t", str(path), cwd=tmp_path)
    assert result.returncode == 3
    assert "Unsupported starting position AT_TIMESTAMP" in result.stdout + result.stderr


def test_a_mapping_to_a_missing_stream_fails_the_deploy(tmp_path: Path, samlite_module_engine: EngineHandle) -> None:
    template = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        S:
          Type: Kinesis
          Properties:
            Stream: arn:aws:kinesis:us-east-1:123456789012:stream/nowhere
            StartingPosition: LATEST
"""
    path = write_project(tmp_path, template, {"src/app.py": "def handler(e, c):\n    return None\n"})
    result = samlite_module_engine.cli("deploy", "-t", str(path), "--stack-name", "missing-stream",
                                       "--no-confirm-changeset", cwd=tmp_path)
    assert result.returncode != 0
    assert "Stream not found: arn:aws:kinesis:us-east-1:123456789012:stream/nowhere" in result.stderr


def test_mappings_are_listed_with_their_stream_settings(engine: EngineHandle) -> None:
    lam = engine.client("lambda")
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    poison = next(m for m in mappings if m["EventSourceArn"] == engine.outputs(STACK)["PoisonArn"])
    assert poison["StartingPosition"] == "TRIM_HORIZON"
    assert poison["BisectBatchOnFunctionError"] is True
    assert poison["MaximumRetryAttempts"] == 1
    assert poison["DestinationConfig"]["OnFailure"]["Destination"].startswith("arn:aws:sqs:")
    assert poison["BatchSize"] == 10 and poison["State"] == "Enabled"


def test_generated_events_have_the_delivered_shape(engine: EngineHandle) -> None:
    ddb = json.loads(engine.cli("generate-event", "dynamodb", "update", "--body", "hi", check=True).stdout)
    assert [r["eventName"] for r in ddb["Records"]] == ["INSERT", "MODIFY", "REMOVE"]
    insert = ddb["Records"][0]
    assert set(insert) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                           "eventSourceARN"}
    assert insert["dynamodb"]["NewImage"]["Message"] == {"S": "hi"}
    assert set(insert["dynamodb"]) == {"ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber",
                                       "SizeBytes", "StreamViewType"}
    kin = json.loads(engine.cli("generate-event", "kinesis", "get-records", "--body", "hello", check=True).stdout)
    [record] = kin["Records"]
    assert set(record) == {"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
                           "awsRegion", "eventSourceARN"}
    assert base64.b64decode(record["kinesis"]["data"]) == b"hello"
    assert record["eventID"].endswith(":" + record["kinesis"]["sequenceNumber"])

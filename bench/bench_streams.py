"""Stream event source mappings: records/s from a Kinesis stream and a DynamoDB stream through
their mappings into a trivial function, batch 100, against a real engine (temporary SAMLITE_HOME).

Each mapping is deployed disabled, its stream is filled, then UpdateEventSourceMapping enables it
and the clock runs until the mapping's committed position reaches the last record.

Run alone: `.venv/bin/python bench/bench_streams.py [--quick]`; the suite calls `run(quick)`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sqs import _client, start_engine  # noqa: E402
from bench.common import Row, print_table  # noqa: E402

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        Kinesis:
          Type: Kinesis
          Properties: {Stream: !GetAtt Stream.Arn, StartingPosition: TRIM_HORIZON, BatchSize: 100, Enabled: false}
        Table:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: TRIM_HORIZON, BatchSize: 100,
                       Enabled: false}
Outputs:
  StreamArn: {Value: !GetAtt Stream.Arn}
  TableStreamArn: {Value: !GetAtt Table.StreamArn}
"""


def _deploy(home: Path, project: Path) -> None:
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("def handler(event, context):\n    return None\n")
    (project / "template.yaml").write_text(TEMPLATE)
    env = {"SAMLITE_HOME": str(home), "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    subprocess.run([sys.executable, "-m", "samlite", "deploy", "--stack-name", "bench", "--no-confirm-changeset"],
                   cwd=project, env={**os.environ, **env}, check=True, capture_output=True)


def _positions(home: Path, mapping: str) -> int:
    with sqlite3.connect(f"file:{home / 'state.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT position FROM stream_positions WHERE mapping = ?", (mapping,)).fetchall()
    return max((int(r[0]) for r in rows), default=-1)  # TEXT: DynamoDB's numbers overflow SQLite's


def _drain(home: Path, url: str, arn: str, last: int, count: int) -> float:
    """Enable the mapping on `arn`; records/s until its position reaches `last`."""
    lam = _client("lambda", url)
    [mapping] = [m for m in lam.list_event_source_mappings()["EventSourceMappings"] if m["EventSourceArn"] == arn]
    started = time.perf_counter()
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    deadline = time.monotonic() + 120
    while _positions(home, mapping["UUID"]) < last:
        if time.monotonic() > deadline:
            raise RuntimeError(f"mapping on {arn} did not finish")
        time.sleep(0.01)
    return count / (time.perf_counter() - started)


def kinesis_rate(home: Path, url: str, arn: str, count: int) -> float:
    kinesis = _client("kinesis", url)
    last = 0
    for start in range(0, count, 500):
        out = kinesis.put_records(StreamARN=arn, Records=[
            {"PartitionKey": f"k{i % 16}", "Data": b'{"n": %d}' % i} for i in range(start, min(count, start + 500))])
        last = max(int(r["SequenceNumber"]) for r in out["Records"])
    return _drain(home, url, arn, last, count)


def dynamodb_rate(home: Path, url: str, arn: str, count: int) -> float:
    ddb = _client("dynamodb", url)
    table = arn.split(":table/")[1].split("/")[0]
    for start in range(0, count, 25):
        ddb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": {"S": f"item-{i}"}, "n": {"N": str(i)}}}}
            for i in range(start, min(count, start + 25))]})
    shard = _client("dynamodbstreams", url).describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    last = int(shard["SequenceNumberRange"]["StartingSequenceNumber"]) + count - 1
    return _drain(home, url, arn, last, count)


def run(quick: bool = False) -> list[Row]:
    kinesis_n, ddb_n = (3000, 1000) if quick else (10_000, 3000)
    home = Path(tempfile.mkdtemp(prefix="bench-streams-home-"))
    project = Path(tempfile.mkdtemp(prefix="bench-streams-project-"))
    proc, info = start_engine(home)
    try:
        _deploy(home, project)
        url = info["aws_url"]
        lam = _client("lambda", url)
        arns = [m["EventSourceArn"] for m in lam.list_event_source_mappings()["EventSourceMappings"]]
        kinesis_arn = next(a for a in arns if ":kinesis:" in a)
        table_arn = next(a for a in arns if ":dynamodb:" in a)
        k_rate = kinesis_rate(home, url, kinesis_arn, kinesis_n)
        d_rate = dynamodb_rate(home, url, table_arn, ddb_n)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(project, ignore_errors=True)
    return [
        Row("Kinesis → ESM → function, batch 100, trivial handler", k_rate, "records/s", "≥ 5,000 records/s",
            k_rate >= 5000, note=f"{kinesis_n:,} records pre-filled in 1 shard; clock to the last committed position"),
        Row("DynamoDB stream → ESM → function, batch 100, trivial handler", d_rate, "records/s", "", None,
            note=f"{ddb_n:,} items written first; clock to the last committed position"),
    ]


def main() -> None:
    print_table(run(quick="--quick" in sys.argv), "stream event source mappings")


if __name__ == "__main__":
    main()

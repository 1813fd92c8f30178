"""What fires functions through the moto bridge: S3 put → function start, PutEvents → target function
start, SNS publish → 10 SQS subscribers (the deliveries are committed before Publish answers), and
in a full run how late a rate(1 minute) schedule fires. Each function stamps time.time() first
thing and forwards it to a sink queue; the client's clock is the same machine's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_sqs import _client, start_engine
from bench.common import Row, pct, print_table

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: src/
    Environment: {Variables: {SINK: !Ref Sink}}
Resources:
  Sink:
    Type: AWS::SQS::Queue
  Uploads:
    Type: AWS::S3::Bucket
    Properties: {BucketName: bench-uploads}
  OnUpload:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Put: {Type: S3, Properties: {Bucket: !Ref Uploads, Events: 's3:ObjectCreated:*'}}
  OnEvent:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Rule: {Type: EventBridgeRule, Properties: {Pattern: {source: [bench]}}}
"""

APP = """\
import json, os, time
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    started = time.time()
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps({"started": started}))
"""


def _deploy(home: Path, project: Path) -> None:
    env = {**os.environ, "SAMLITE_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "samlite", "deploy", "-t", str(project / "template.yaml"), "--stack-name",
                    "bench", "--no-confirm-changeset"], env=env, cwd=project, check=True, capture_output=True)


def _starts(sqs: Any, sink: str, trigger: Any, n: int) -> list[float]:
    """ms from just before `trigger(i)` to the function's first line, n times in sequence."""
    out = []
    for i in range(n):
        t0 = time.time()
        trigger(i)
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=sink, WaitTimeSeconds=5).get("Messages", [])
        if not got:
            raise RuntimeError("the function did not run")
        sqs.delete_message(QueueUrl=sink, ReceiptHandle=got[0]["ReceiptHandle"])
        out.append((json.loads(got[0]["Body"])["started"] - t0) * 1000)
    return out


def run(quick: bool = False) -> list[Row]:
    n = 20 if quick else 50
    home = Path(tempfile.mkdtemp(prefix="bench-triggers-home-"))
    project = Path(tempfile.mkdtemp(prefix="bench-triggers-src-"))
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text(APP)
    (project / "template.yaml").write_text(TEMPLATE)
    proc, info = start_engine(home)
    url = info["aws_url"]
    rows: list[Row] = []
    try:
        _deploy(home, project)
        sqs, s3, events, sns = (_client(s, url) for s in ("sqs", "s3", "events", "sns"))
        sink = next(u for u in sqs.list_queues()["QueueUrls"] if "bench-Sink" in u)
        s3_ms = _starts(sqs, sink, lambda i: s3.put_object(Bucket="bench-uploads", Key=f"k{i}", Body=b"x"), n)
        eb_ms = _starts(sqs, sink, lambda i: events.put_events(Entries=[{
            "Source": "bench", "DetailType": "Tick", "Detail": json.dumps({"i": i})}]), n)
        rows.append(Row("S3 put → function start, p50", pct(s3_ms[2:], 0.5), "ms", "≤ 20 ms",
                        pct(s3_ms[2:], 0.5) <= 20, note=f"{n} sequential puts, the first two (cold) left out"))
        rows.append(Row("PutEvents → target function start, p50", pct(eb_ms[2:], 0.5), "ms", "≤ 20 ms",
                        pct(eb_ms[2:], 0.5) <= 20))

        topic = sns.create_topic(Name="fan")["TopicArn"]
        for i in range(10):
            q = sqs.create_queue(QueueName=f"fan-{i}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        times = []
        for i in range(n):
            t = time.perf_counter()
            sns.publish(TopicArn=topic, Message=f"m{i}")
            times.append((time.perf_counter() - t) * 1000)
        rows.append(Row("SNS publish → 10 SQS subscribers (delivered when it answers), p50", pct(times[2:], 0.5),
                        "ms", "≤ 30 ms", pct(times[2:], 0.5) <= 30))

        if not quick:
            q = sqs.create_queue(QueueName="ticks")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            created = time.time()
            events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")
            events.put_targets(Rule="tick", Targets=[{"Id": "q", "Arn": arn}])
            got: list[dict[str, Any]] = []
            while not got and time.time() < created + 90:
                got = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=10, AttributeNames=["SentTimestamp"]).get(
                    "Messages", [])
            late = int(got[0]["Attributes"]["SentTimestamp"]) / 1000 - (created + 60) if got else None
            rows.append(Row("rate(1 minute) schedule: first firing after due", None if late is None else late * 1000,
                            "ms", "≤ 1000 ms", late is not None and late <= 1.0,
                            note="queued time minus (PutRule + 60 s)"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(project, ignore_errors=True)
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))

"""SQS benchmark: SendMessageBatch and receive throughput, long-poll wake latency, async Invoke
accept latency -- against a real engine (started here in a temporary SAMLITE_HOME), and moto
server side by side when `moto` is installed.

Run alone: `.venv/bin/python bench/bench_sqs.py [--seconds 5] [--threads 4]`. Prints a table:
figure | result | target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent


def _client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench",
                        config=Config(retries={"max_attempts": 0}, max_pool_connections=64))


def start_engine(home: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    env = {**os.environ, "SAMLITE_HOME": str(home), "SAMLITE_GATEWAY_PORT": "0", "SAMLITE_AWS_PORT": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "samlite.engine"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"engine exited with {proc.returncode}; see {home}/engine.log")
        try:
            return proc, json.loads((home / "engine.json").read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("engine did not start")


def start_moto() -> tuple[subprocess.Popen[bytes], str] | None:
    try:
        import moto  # noqa: F401
    except ImportError:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _client("sqs", url).list_queues()
            return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    proc.kill()
    return None


def send_batch_rate(url: str, seconds: float, threads: int) -> float:
    """Messages/s of SendMessageBatch (10 x 100-byte bodies) from several client threads."""
    queue_url = _client("sqs", url).create_queue(QueueName=f"bench-send-{int(time.time() * 1000)}")["QueueUrl"]
    entries = [{"Id": str(i), "MessageBody": "x" * 100} for i in range(10)]
    counts = [0] * threads
    stop_at = time.monotonic() + seconds

    def worker(i: int) -> None:
        sqs = _client("sqs", url)
        while time.monotonic() < stop_at:
            sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            counts[i] += 10

    started = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def receive_rate(url: str, messages: int, threads: int) -> float:
    """Messages/s of ReceiveMessage(10) + DeleteMessageBatch draining a pre-filled queue."""
    sqs = _client("sqs", url)
    queue_url = sqs.create_queue(QueueName=f"bench-recv-{int(time.time() * 1000)}")["QueueUrl"]
    entries = [{"Id": str(i), "MessageBody": "y" * 100} for i in range(10)]
    for _ in range(messages // 10):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    done = [0] * threads

    def worker(i: int) -> None:
        client = _client("sqs", url)
        while True:
            got = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return
            client.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)])
            done[i] += len(got)

    started = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(done) / (time.monotonic() - started)


def wake_latency_ms(url: str, rounds: int) -> float:
    """p50 of send -> long-polling receiver returns (the receiver waits up to 20 s)."""
    sqs = _client("sqs", url)
    queue_url = sqs.create_queue(QueueName=f"bench-wake-{int(time.time() * 1000)}")["QueueUrl"]
    sender = _client("sqs", url)
    samples = []
    for _ in range(rounds):
        result: dict[str, float] = {}

        def receive() -> None:
            got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20).get("Messages", [])
            result["t"] = time.perf_counter()
            if got:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=got[0]["ReceiptHandle"])

        t = threading.Thread(target=receive)
        t.start()
        time.sleep(0.05)  # let the receive reach the engine and start waiting
        sent = time.perf_counter()
        sender.send_message(QueueUrl=queue_url, MessageBody="wake")
        t.join()
        samples.append((result["t"] - sent) * 1000)
    return statistics.median(samples)


def async_accept_ms(url: str, home: Path, rounds: int) -> float | None:
    """p50 latency of Invoke(InvocationType=Event) -> 202 (durable accept), needs a deployed function."""
    fn = _deploy_function(home)
    if fn is None:
        return None
    lam = _client("lambda", url)
    samples = []
    for i in range(rounds):
        t = time.perf_counter()
        lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"i": i}).encode())
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


_TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: bench-async
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: bench-consumer
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Events:
        Q:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 10
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: bench-esm
"""


def _deploy_function(home: Path) -> str | None:
    """Deploy a trivial async target and an SQS consumer (batch 10); the async function's name."""
    project = Path(tempfile.mkdtemp(prefix="bench-sqs-"))
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("def handler(event, context):\n    return None\n")
    (project / "template.yaml").write_text(_TEMPLATE)
    env = {**os.environ, "SAMLITE_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "samlite", "deploy", "-t", str(project / "template.yaml"),
                           "--stack-name", "bench", "--no-confirm-changeset"], env=env, capture_output=True)
    shutil.rmtree(project, ignore_errors=True)
    if proc.returncode != 0:
        print(proc.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return "bench-async" if proc.returncode == 0 else None


def esm_rate(url: str, messages: int) -> float | None:
    """Messages/s processed by SQS -> ESM -> trivial function (batch 10), from a pre-filled queue."""
    sqs = _client("sqs", url)
    lam = _client("lambda", url)
    try:
        queue_url = sqs.get_queue_url(QueueName="bench-esm")["QueueUrl"]
        [mapping] = lam.list_event_source_mappings(FunctionName="bench-consumer")["EventSourceMappings"]
    except Exception:  # noqa: BLE001 - the deploy failed
        return None
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    entries = [{"Id": str(i), "MessageBody": "z" * 100} for i in range(10)]
    for _ in range(messages // 10):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    started = time.monotonic()
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    while time.monotonic() - started < 120:
        a = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        if a["ApproximateNumberOfMessages"] == "0" and a["ApproximateNumberOfMessagesNotVisible"] == "0":
            return messages / (time.monotonic() - started)
        time.sleep(0.01)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-moto", action="store_true")
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    home = Path(tempfile.mkdtemp(prefix="bench-sqs-home-"))
    proc, info = start_engine(home)
    url = info["aws_url"]
    try:
        ours = send_batch_rate(url, args.seconds, args.threads)
        rows.append(("SendMessageBatch msgs/s (samlite)", f"{ours:,.0f}", ">= 5,000"))
        recv = receive_rate(url, 5000, args.threads)
        rows.append(("Receive+DeleteBatch msgs/s (samlite)", f"{recv:,.0f}", "-"))
        wake = wake_latency_ms(url, 20)
        rows.append(("long-poll wake latency p50 ms", f"{wake:.1f}", "<= 20"))
        accept = async_accept_ms(url, home, 200)
        rows.append(("async Invoke accept p50 ms", f"{accept:.2f}" if accept is not None else "n/a (deploy failed)",
                     "<= 2"))
        esm = esm_rate(url, 5000) if accept is not None else None
        rows.append(("SQS -> ESM -> function msgs/s (batch 10)", f"{esm:,.0f}" if esm else "n/a", ">= 3,000"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        shutil.rmtree(home, ignore_errors=True)
    moto = None if args.no_moto else start_moto()
    if moto is not None:
        mproc, murl = moto
        try:
            theirs = send_batch_rate(murl, args.seconds, args.threads)
        finally:
            mproc.terminate()
            mproc.wait(10)
        rows.append(("SendMessageBatch msgs/s (moto server)", f"{theirs:,.0f}", "-"))
        rows.append(("samlite / moto", f"{ours / theirs:.1f}x", ">= 30x"))
    else:
        rows.append(("moto server", "not installed", "pip install 'moto[server]'"))
    width = max(len(r[0]) for r in rows)
    print(f"{'figure'.ljust(width)} | {'result':>12} | target")
    print(f"{'-' * width}-+-{'-' * 12}-+-------")
    for figure, result, target in rows:
        print(f"{figure.ljust(width)} | {result:>12} | {target}")


if __name__ == "__main__":
    main()

"""SQS benchmark: SendMessageBatch and receive throughput, long-poll wake latency, async Invoke
accept latency -- against a real engine (started here in a temporary SAMLITE_HOME), and moto
server side by side when `moto` is installed.

Run alone: `.venv/bin/python bench/bench_sqs.py [--seconds 5] [--threads 4]`; the suite calls
`run(quick)`.
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
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Row, print_table  # noqa: E402


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
            raise RuntimeError(f"engine exited with {proc.returncode}; see {home}/engine.log")
        try:
            return proc, json.loads((home / "engine.json").read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("engine did not start")


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

    elapsed = run_threads(worker, threads)
    return sum(counts) / elapsed


def run_threads(worker: Any, threads: int) -> float:
    """Run worker(0..threads-1) in parallel threads; return the elapsed seconds."""
    started = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.monotonic() - started


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

    elapsed = run_threads(worker, threads)
    return sum(done) / elapsed


def wake_latency_ms(url: str, rounds: int) -> float:
    """p50 of send -> long-polling receiver returns (the receiver waits up to 20 s)."""
    sqs = _client("sqs", url)
    queue_url = sqs.create_queue(QueueName=f"bench-wake-{int(time.time() * 1000)}")["QueueUrl"]
    sender = _client("sqs", url)
    samples = []
    for _ in range(rounds):
        result: dict[str, float] = {}

        def receive(result: dict[str, float] = result) -> None:
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


def run(quick: bool = False, seconds: float | None = None, threads: int = 4, moto: bool = True) -> list[Row]:
    seconds = seconds or (1.5 if quick else 5.0)
    drain = 1000 if quick else 5000
    rows: list[Row] = []
    home = Path(tempfile.mkdtemp(prefix="bench-sqs-home-"))
    proc, info = start_engine(home)
    url = info["aws_url"]
    try:
        ours = send_batch_rate(url, seconds, threads)
        recv = receive_rate(url, drain, threads)
        wake = wake_latency_ms(url, 5 if quick else 20)
        accept = async_accept_ms(url, home, 50 if quick else 200)
        esm = esm_rate(url, drain) if accept is not None else None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        shutil.rmtree(home, ignore_errors=True)
    peer = start_moto() if moto else None
    theirs = their_recv = None
    if peer is not None:
        mproc, murl = peer
        try:
            theirs = send_batch_rate(murl, seconds, threads)
            their_recv = receive_rate(murl, 300 if quick else 1000, threads)
        finally:
            mproc.terminate()
            mproc.wait(10)
    why = "" if peer else ("moto not installed: pip install 'moto[server]'" if moto else "skipped")
    ratio = ours / theirs if theirs else None
    rows.append(Row("SQS SendMessageBatch through the endpoint", ours, "msg/s", "≥ 5,000 msg/s and ≥ 30× moto",
                    ours >= 5000 and (ratio is None or ratio >= 30), "moto server", theirs,
                    f"{ratio:.1f}×" if ratio else "", f"{threads} boto3 threads, 10 × 100 B per batch, {seconds:g} s"
                    + (f"; {why}" if why else "")))
    rratio = recv / their_recv if their_recv else None
    rows.append(Row("SQS ReceiveMessage(10) + DeleteMessageBatch, draining", recv, "msg/s", "", None,
                    "moto server", their_recv, f"{rratio:.1f}×" if rratio else "",
                    f"{threads} threads; {drain:,} msgs (moto: {300 if quick else 1000:,})"))
    rows.append(Row("SQS long-poll wake latency (send → waiting receive returns), p50", wake, "ms", "≤ 20 ms",
                    wake <= 20))
    rows.append(Row("async Invoke (Event) accept latency, p50", accept, "ms", "≤ 2 ms",
                    None if accept is None else accept <= 2,
                    note="boto3 round trip; durable accept" if accept is not None else "deploy failed"))
    rows.append(Row("SQS → ESM → function, batch 10, trivial handler", esm, "msg/s", "≥ 3,000 msg/s",
                    None if esm is None else esm >= 3000, note=f"{drain:,} pre-filled messages drained"
                    if esm else "not measured (deploy failed or did not drain in 120 s)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-moto", action="store_true")
    args = parser.parse_args()
    print_table(run(seconds=args.seconds, threads=args.threads, moto=not args.no_moto), "SQS")


if __name__ == "__main__":
    main()

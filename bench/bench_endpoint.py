"""AWS endpoint benchmark: boto3 Invoke of a warm trivial function, `samlite invoke` end to end,
and Comprehend DetectSentiment latency.

Run alone: `.venv/bin/python bench/bench_endpoint.py [--invokes N] [--cli N] [--sentiment N]`;
the suite calls `run(quick)`.
Starts an isolated engine (temporary SAMLITE_HOME, ports chosen by the OS), deploys one trivial
function, measures, prints a table (figure | result | target) and stops the engine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, machine, pct, print_table
from samlite.testing import EngineHandle

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Trivial:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: src/
      Handler: app.handler
"""


def _ms(samples: list[float]) -> tuple[float, float]:
    return pct(samples, 0.5) * 1000, pct(samples, 0.99) * 1000


def run(quick: bool = False, invokes: int | None = None, cli_runs: int | None = None,
        sentiment: int | None = None) -> list[Row]:
    args = argparse.Namespace(invokes=invokes or (300 if quick else 2000), cli=cli_runs or (4 if quick else 15),
                              sentiment=sentiment or (100 if quick else 1000))
    root = Path(tempfile.mkdtemp(prefix="samlite-bench-endpoint-"))
    (root / "app" / "src").mkdir(parents=True)
    (root / "app" / "src" / "app.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    (root / "app" / "template.yaml").write_text(TEMPLATE)
    engine = EngineHandle(root / "home").start()
    rows: list[Row] = []
    try:
        engine.deploy(root / "app" / "template.yaml", "bench")
        lam = engine.client("lambda")
        name = lam.list_functions()["Functions"][0]["FunctionName"]
        for _ in range(50):  # warm the environment and the HTTP connection
            lam.invoke(FunctionName=name, Payload=b"{}")
        samples = []
        for _ in range(args.invokes):
            t = time.perf_counter()
            r = lam.invoke(FunctionName=name, Payload=b"{}")
            r["Payload"].read()
            samples.append(time.perf_counter() - t)
        p50, p99 = _ms(samples)
        rows.append(Row("boto3 lambda.invoke, warm trivial function, p50", p50, "ms", "≤ 2 ms", p50 <= 2.0,
                        note=f"p99 {p99:.2f} ms, n={args.invokes}, boto3 client overhead included"))

        # The floor of the client itself: a request the endpoint answers without invoking anything.
        floor = []
        for _ in range(min(500, args.invokes)):
            t = time.perf_counter()
            lam.get_account_settings()
            floor.append(time.perf_counter() - t)
        rows.append(Row("boto3 lambda.get_account_settings (client + endpoint floor), p50", _ms(floor)[0], "ms",
                        note="no function runs"))

        comprehend = engine.client("comprehend")
        comprehend.detect_sentiment(Text="warm up", LanguageCode="en")
        sent = []
        for i in range(args.sentiment):
            t = time.perf_counter()
            comprehend.detect_sentiment(Text=f"I love strawberry cake number {i}!", LanguageCode="en")
            sent.append(time.perf_counter() - t)
        p50, p99 = _ms(sent)
        rows.append(Row("boto3 comprehend.detect_sentiment, p50", p50, "ms", "", None,
                        note=f"p99 {p99:.2f} ms, VADER model"))

        cli = []
        for _ in range(args.cli):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "samlite", "invoke", "Trivial", "--payload", "{}"],
                               env=engine.env, capture_output=True, text=True, timeout=60)
            cli.append(time.perf_counter() - t)
            if r.returncode != 0 or json.loads(r.stdout) != {"ok": True}:
                raise RuntimeError(f"samlite invoke failed: {r.stderr[-500:]}")
        p50, p99 = _ms(cli)
        rows.append(Row("`samlite invoke` CLI end to end (process start included), p50", p50, "ms", "≤ 300 ms",
                        p50 <= 300, note=f"p99 {p99:.0f} ms, n={args.cli}"))
    finally:
        engine.stop()
        engine.kill()
        shutil.rmtree(root, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invokes", type=int, default=2000)
    parser.add_argument("--cli", type=int, default=15)
    parser.add_argument("--sentiment", type=int, default=1000)
    args = parser.parse_args()
    print_table(run(invokes=args.invokes, cli_runs=args.cli, sentiment=args.sentiment), f"AWS endpoint ({machine()})")


if __name__ == "__main__":
    main()

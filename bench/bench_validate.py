"""Whole-process timings of `samlite --help` and `samlite validate` (60-resource template).

Run alone: `python bench/bench_validate.py [--runs N]`. Prints figure | result | target.
Targets (DESIGN.md section 3): `samlite --help` <= 250 ms, `samlite validate` <= 300 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate_template(folder: Path, functions: int = 20) -> Path:
    """`functions` functions, each with a queue and a DLQ: 3 x 20 = 60 explicit resources."""
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Transform: AWS::Serverless-2016-10-31",
             "Parameters:", "  Stage:", "    Type: String", "    Default: dev",
             "Globals:", "  Function:", "    Runtime: python3.12", "    CodeUri: src",
             "    Timeout: 10", "    Environment:", "      Variables:", "        STAGE: !Ref Stage",
             "Resources:"]
    for i in range(functions):
        lines += [
            f"  Queue{i}:", "    Type: AWS::SQS::Queue", "    Properties:",
            "      VisibilityTimeout: 60", "      RedrivePolicy:",
            f"        deadLetterTargetArn: !GetAtt Dlq{i}.Arn", "        maxReceiveCount: 5",
            f"  Dlq{i}:", "    Type: AWS::SQS::Queue",
            f"  Fn{i}:", "    Type: AWS::Serverless::Function", "    Properties:",
            "      Handler: app.handler", "      MemorySize: 256",
            "      Environment:", "        Variables:",
            f"          QUEUE_URL: !Ref Queue{i}",
            f"          NAME: !Sub '${{AWS::StackName}}-{i}-${{Stage}}'",
            "      Events:", "        Work:", "          Type: SQS", "          Properties:",
            f"            Queue: !GetAtt Queue{i}.Arn", "            BatchSize: 10",
            "        Web:", "          Type: Api", "          Properties:",
            f"            Path: /fn{i}", "            Method: get",
        ]
    lines += ["Outputs:", "  Api:",
              "    Value: !Sub 'https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/'"]
    path = folder / "template.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def samlite_command() -> list[str]:
    script = Path(sys.executable).with_name("samlite")
    if script.exists():
        return [str(script)]
    found = shutil.which("samlite")
    return [found] if found else [sys.executable, "-m", "samlite"]


def median_ms(argv: list[str], runs: int, expect: int = 0) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True)
        times.append((time.perf_counter() - started) * 1000)
        if result.returncode != expect:
            raise SystemExit(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cmd = samlite_command()
    with tempfile.TemporaryDirectory() as tmp:
        template = generate_template(Path(tmp))
        median_ms(cmd + ["validate", "-t", str(template)], 1)  # warm the page cache
        rows = [
            ("python -c pass (floor)", median_ms([sys.executable, "-c", "pass"], args.runs), None),
            ("samlite --help", median_ms(cmd + ["--help"], args.runs), 250.0),
            ("samlite validate (60 resources)",
             median_ms(cmd + ["validate", "-t", str(template)], args.runs), 300.0),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}} | {'result (median)':>15} | target")
    print(f"{'-' * width}-+-{'-' * 15}-+-{'-' * 12}")
    for figure, value, target in rows:
        verdict = "" if target is None else (f"<= {target:.0f} ms " + ("ok" if value <= target else "MISSED"))
        print(f"{figure:<{width}} | {value:>12.1f} ms | {verdict}")


if __name__ == "__main__":
    main()

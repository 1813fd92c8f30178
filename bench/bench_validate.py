"""Whole-process timings of `samlite --help` and `samlite validate` (60-resource template).

Run alone: `python bench/bench_validate.py [--runs N]`; the suite calls `run(quick)`.
Targets (the performance budget in docs/performance.md): `samlite --help` <= 250 ms, `samlite validate` <= 300 ms.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, print_table

# `sam validate` and `sam build` on this machine (the performance budget in docs/performance.md); SAM CLI is not installed here.
SAM_CLI = "SAM CLI (quoted)"
SAM_CLI_SECONDS = 950.0


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
            raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-500:]}")
    return statistics.median(times)


def run(quick: bool = False, runs: int | None = None) -> list[Row]:
    runs = runs or (3 if quick else 10)
    cmd = samlite_command()
    with tempfile.TemporaryDirectory() as tmp:
        template = generate_template(Path(tmp))
        median_ms(cmd + ["validate", "-t", str(template)], 1)  # warm the page cache
        helps = median_ms(cmd + ["--help"], runs)
        validate = median_ms(cmd + ["validate", "-t", str(template)], runs)
    return [
        Row("samlite --help", helps, "ms", "≤ 250 ms", helps <= 250, note=f"median of {runs}"),
        Row("samlite validate (60 resources), whole process", validate, "ms", "≤ 300 ms", validate <= 300,
            SAM_CLI, SAM_CLI_SECONDS, f"{SAM_CLI_SECONDS / validate:.1f}× faster",
            f"median of {runs}; SAM CLI figure measured on this machine earlier, not in this run"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print_table(run(runs=args.runs), "validate")


if __name__ == "__main__":
    main()

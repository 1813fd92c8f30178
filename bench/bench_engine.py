"""Engine benchmarks: start to ready, idle RSS, and `samlite deploy` of a 3-function + 2-queue stack.

Run alone: `.venv/bin/python bench/bench_engine.py`; the suite calls `run(quick)`. Whole-process figures run the CLI exactly as
a user would (subprocesses), with the engine already up for the deploy figure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Row, median, print_table, samlite_cmd, temp_engine_env

STACK = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    Timeout: 5
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Dead:
    Type: AWS::SQS::Queue
{functions}
"""
FUNCTION = """\
  Fn{i}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src{i}/
      Environment:
        Variables:
          NUM: "{n}"
          QUEUE: !Ref Jobs
"""


def _project(root: Path, n: int) -> Path:
    for i in range(3):
        (root / f"src{i}").mkdir(parents=True, exist_ok=True)
        (root / f"src{i}" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (root / "template.yaml").write_text(STACK.format(functions="".join(FUNCTION.format(i=i, n=n) for i in range(3))))
    return root / "template.yaml"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _deploy_example(env: dict[str, str], runs: int) -> float:
    """Median `samlite deploy` of examples/sqs-lambda, its handler changed before every deploy."""
    root = Path(tempfile.mkdtemp(prefix="samlite-bench-example-"))
    try:
        shutil.copytree(ROOT / "examples" / "sqs-lambda", root / "app")
        template, app = root / "app" / "template.yaml", root / "app" / "src" / "app.py"
        original = app.read_text()
        times = []
        for i in range(runs + 1):
            app.write_text(original + f"\n# change {i}\n")
            t = time.perf_counter()
            subprocess.run(samlite_cmd("deploy", "-t", str(template), "--stack-name", "sqs-lambda",
                                       "--no-confirm-changeset"), env=env, check=True, capture_output=True)
            if i:  # the first deploy creates the stack; the figure is a redeploy after an edit
                times.append((time.perf_counter() - t) * 1000)
        return median(times)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(quick: bool = False) -> list[Row]:
    runs = 2 if quick else 5
    env = temp_engine_env()
    starts = []
    for _ in range(2 if quick else 3):
        t = time.perf_counter()
        subprocess.run(samlite_cmd("engine", "start"), env=env, check=True, capture_output=True)
        starts.append((time.perf_counter() - t) * 1000)
        subprocess.run(samlite_cmd("engine", "stop"), env=env, check=True, capture_output=True)
    subprocess.run(samlite_cmd("engine", "start"), env=env, check=True, capture_output=True)
    try:
        info = json.loads(subprocess.run(samlite_cmd("engine", "status", "--output", "json"), env=env,
                                         check=True, capture_output=True, text=True).stdout)
        time.sleep(0.5)
        idle = _rss_mb(info["pid"])
        root = Path(tempfile.mkdtemp(prefix="samlite-bench-deploy-"))
        deploys = []
        for i in range(runs):
            template = _project(root, i)  # a real change each time: every function is modified
            if i == 0:
                subprocess.run(samlite_cmd("build", "-t", str(template)), env=env, check=True, capture_output=True)
            t = time.perf_counter()
            subprocess.run(samlite_cmd("deploy", "-t", str(template), "--stack-name", "bench",
                                       "--no-confirm-changeset"), env=env, check=True, capture_output=True)
            deploys.append((time.perf_counter() - t) * 1000)
        example = _deploy_example(env, runs)
        loaded = _rss_mb(info["pid"])
    finally:
        subprocess.run(samlite_cmd("engine", "stop"), env=env, capture_output=True)
    return [
        Row("engine start to ready (samlite engine start)", median(starts), "ms", "≤ 1000 ms", median(starts) <= 1000,
            note=f"median of {len(starts)}"),
        Row("idle engine RSS", idle, "MB", "≤ 80 MB", idle <= 80, note="VmRSS, nothing deployed"),
        Row("samlite deploy examples/sqs-lambda, code changed (engine up)", example, "ms", "≤ 1500 ms",
            example <= 1500, note=f"median of {runs}, whole process"),
        Row("samlite deploy 3 functions + 2 queues, all changed (engine up)", median(deploys), "ms", "≤ 1500 ms",
            median(deploys) <= 1500, note=f"median of {runs}, whole process"),
        Row("engine RSS after deploys", loaded, "MB", "", None),
    ]


if __name__ == "__main__":
    print_table(run(), "engine")

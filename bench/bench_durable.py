"""Lambda durable functions: the checkpoint round trip from a function, and how late a replay
starts after a wait's due time.

- Checkpoint round trip: a durable handler runs 100 `context.step`s back to back in one invocation
  and times each (`time.perf_counter` around the call). A step is one synchronous
  CheckpointDurableExecution (its SUCCEED; the START of an at-least-once step is sent with it in
  the same batch), so the per-step time is the round trip the function waits for. It includes
  the SDK's own 1 ms batching window and boto3's request signing and parsing in the worker
  (about 2 ms); the engine's side is about 1.8 ms.
- Resume after a wait: a handler waits 1 s, then its next step stamps `time.time()`. The figure is
  that stamp minus the wait's ScheduledEndTimestamp (from the history): timer, replay invocation on
  a warm worker, SDK replay of the history, up to the handler's next line.
- The console's reads: with several hundred executions waiting an hour, the Executions page's
  list (`/api/executions`, the newest 50 with what each waits for) and one execution's history
  (`/api/executions/history`), each the median of 20 requests on one keep-alive connection.
"""

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

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_sqs import _client, start_engine
from bench.common import Row, median, pct, print_table

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: src/
    Timeout: 60
    DurableConfig: {ExecutionTimeout: 600}
Resources:
  Steps:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.steps}
  Resume:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.resume}
  Hold:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.hold}
"""

APP = """\
import time

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def steps(event, context: DurableContext):
    times = []
    for i in range(event["n"]):
        t = time.perf_counter()
        context.step(lambda _: i, name=f"s{i}")
        times.append((time.perf_counter() - t) * 1000)
    return times


@durable_execution
def resume(event, context: DurableContext):
    context.wait(Duration.from_seconds(1), name="tick")
    return context.step(lambda _: time.time(), name="woke")


@durable_execution
def hold(event, context: DurableContext):
    context.step(lambda _: event, name="take")
    context.wait(Duration.from_seconds(3600), name="hold")
"""

CONSOLE_READ_TARGET_MS = 50.0


def _deploy(home: Path, project: Path) -> None:
    env = {**os.environ, "SAMLITE_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "samlite", "deploy", "-t", str(project / "template.yaml"), "--stack-name",
                    "bench", "--no-confirm-changeset"], env=env, cwd=project, check=True, capture_output=True)


def _name(lam: Any, logical_id: str) -> str:
    return next(f["FunctionName"] for f in lam.list_functions()["Functions"]
                if f["FunctionName"].startswith(f"bench-{logical_id}-"))


def _resume_ms(lam: Any, name: str) -> float:
    res = lam.invoke(FunctionName=name, Payload=b"{}")
    if "FunctionError" in res:
        raise RuntimeError(res["Payload"].read().decode())
    woke = float(json.loads(res["Payload"].read()))
    events = lam.get_durable_execution_history(DurableExecutionArn=res["DurableExecutionArn"])["Events"]
    due = next(e["WaitStartedDetails"]["ScheduledEndTimestamp"] for e in events if e["EventType"] == "WaitStarted")
    return (woke - due.timestamp()) * 1000


def _console_reads(info: dict[str, Any], lam: Any, n: int) -> tuple[float, float]:
    """Median ms of the console's executions list and of one execution's history, with `n` held."""
    hold = _name(lam, "Hold")
    arns = [lam.invoke(FunctionName=hold, InvocationType="Event", Payload=json.dumps({"i": i}))["DurableExecutionArn"]
            for i in range(n)]
    base, token = info["console_url"].split("?token=")
    with requests.Session() as s:
        s.headers["X-Samlite-Token"] = token
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # every execution waits (its one replay ran)
            rows = s.get(base + "api/executions", params={"function": hold}, timeout=30).json()["executions"]
            if len(rows) == min(n, 50) and all(r["waits"] for r in rows):
                break
            time.sleep(0.5)
        timings: dict[str, list[float]] = {"list": [], "history": []}
        for _ in range(22):
            for key, path, params in (("list", "api/executions", {}), ("history", "api/executions/history",
                                                                      {"arn": arns[-1]})):
                t0 = time.perf_counter()
                s.get(base + path, params=params, timeout=30).raise_for_status()
                timings[key].append((time.perf_counter() - t0) * 1000)
    return median(timings["list"][2:]), median(timings["history"][2:])


def run(quick: bool = False) -> list[Row]:
    n_steps, n_waits = (100, 5) if quick else (100, 15)
    home = Path(tempfile.mkdtemp(prefix="bench-durable-home-"))
    project = Path(tempfile.mkdtemp(prefix="bench-durable-src-"))
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text(APP)
    (project / "template.yaml").write_text(TEMPLATE)
    proc, info = start_engine(home)
    rows: list[Row] = []
    try:
        _deploy(home, project)
        lam = _client("lambda", info["aws_url"])
        steps = _name(lam, "Steps")
        lam.invoke(FunctionName=steps, Payload=json.dumps({"n": 5}))  # the cold start, left out
        res = lam.invoke(FunctionName=steps, Payload=json.dumps({"n": n_steps}))
        times = json.loads(res["Payload"].read())
        p50 = pct(times, 0.5)
        # The cost grows with the execution's size (the backend re-reads its operations at every
        # checkpoint): the p50 of steps 301-400 of a 400-step execution goes in the note.
        long = json.loads(lam.invoke(FunctionName=steps, Payload=json.dumps({"n": 400}))["Payload"].read())[300:]
        rows.append(Row("durable: checkpoint round trip from a function (one step), p50", p50, "ms", "≤ 5 ms",
                        p50 <= 5, note=f"{n_steps} steps in one invocation, p99 {pct(times, 0.99):.2f} ms; "
                                       f"steps 301-400 of 400: p50 {pct(long, 0.5):.2f} ms"))
        resume = _name(lam, "Resume")
        _resume_ms(lam, resume)  # cold start left out
        late = [_resume_ms(lam, resume) for _ in range(n_waits)]
        rows.append(Row("durable: wait due → handler running again, p50", pct(late, 0.5), "ms", "≤ 100 ms",
                        pct(late, 0.5) <= 100, note=f"{n_waits} executions of a 1 s wait; max {max(late):.1f} ms"))
        held = 100 if quick else 500
        list_ms, history_ms = _console_reads(info, lam, held)
        rows.append(Row(f"durable: console Executions list (newest 50 of {held + n_waits + 3} executions)", list_ms,
                        "ms", f"≤ {CONSOLE_READ_TARGET_MS:.0f} ms", list_ms <= CONSOLE_READ_TARGET_MS,
                        note=f"median of 20; one execution's history {history_ms:.1f} ms"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(project, ignore_errors=True)
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))

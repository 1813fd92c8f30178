"""Lambda's runtime extras: the Node SDK cold start, and deploys with the SDK and layer caches.

Run alone: `.venv/bin/python bench/bench_runtimes.py`. Figures:
- a nodejs20.x function that imports `@aws-sdk/client-dynamodb` (ES module, no package.json) and
  builds a client at init: cold start p50 (spawn + init + invoke) through the real InvokeService;
- `samlite deploy` of a project with a Node function using the runtime's SDK and a Python function
  with the Powertools layer: first deploy with empty download caches, then the same project from a
  fresh folder (no build cache) with the caches warm, alternated with the same functions without
  SDK or layer (medians of 3).

The SDK cache is SAMLITE_CACHE_DIR when set, else ~/.cache/samlite-bench; the first-deploy figure
always uses an empty one (so it includes the npm and PyPI downloads).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, median, pct, print_table, samlite_cmd, temp_engine_env
from samlite.config import Settings
from samlite.core.invoke import InvokeService
from samlite.core.runtime import FunctionSpec
from samlite.core.store import Store
from samlite.package import node_sdk

DDB_APP = """\
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
const client = new DynamoDBClient({});
export const handler = async () => ({ ok: typeof ListTablesCommand === "function" && !!client });
"""

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  NodeFn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: node/, Handler: app.handler, Runtime: nodejs20.x}
  PyFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: py/
      Handler: app.handler
      Runtime: python3.11
      %s
"""
LAYER = "Layers: [!Sub 'arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV2:32']"
WITH = {"node/app.mjs": 'import { SQSClient } from "@aws-sdk/client-sqs";\n'
                        "export const handler = async () => typeof SQSClient;\n",
        "py/app.py": "from aws_lambda_powertools import Logger\ndef handler(e, c):\n    return 1\n"}
WITHOUT = {"node/app.mjs": "export const handler = async () => 'none';\n",
           "py/app.py": "def handler(e, c):\n    return 1\n"}


def _cache() -> Path:
    path = Path(os.environ.get("SAMLITE_CACHE_DIR") or Path.home() / ".cache" / "samlite-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _cold_starts(tmp: Path, cache: Path, n: int) -> tuple[list[float], list[float]]:
    settings = Settings(home=tmp / "home", cache_root=cache)
    store = Store(settings.db_path)
    functions: dict[str, FunctionSpec] = {}
    svc = InvokeService(settings, store, "http://127.0.0.1:1", functions)
    await svc.start()
    totals, inits = [], []
    try:
        for i in range(n):
            code = settings.code_dir / f"{i:064x}"  # laid out as the engine unpacks code
            code.mkdir(parents=True)
            (code / "app.mjs").write_text(DDB_APP)
            spec = FunctionSpec(name="ddb", arn="arn:aws:lambda:us-east-1:123456789012:function:ddb",
                                runtime="nodejs20.x", handler="app.handler", code_dir=code, code_sha=str(i))
            functions["ddb"] = spec
            started = time.perf_counter()
            result = await svc.invoke("ddb", b"{}")
            totals.append((time.perf_counter() - started) * 1000)
            if result.function_error:
                raise RuntimeError(result.payload.decode())
            inits.append(result.init_ms or 0.0)
            svc.retire("ddb")  # the next one is a cold start; do not keep the old environment
    finally:
        await svc.stop()
        store.close()
    return totals, inits


def _deploy(env: dict[str, str], root: Path, files: dict[str, str], layer: bool) -> float:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "template.yaml").write_text(TEMPLATE % (LAYER if layer else ""))
    started = time.perf_counter()
    subprocess.run(samlite_cmd("deploy", "-t", str(root / "template.yaml"), "--stack-name", root.name,
                               "--no-confirm-changeset"), env=env, check=True, capture_output=True, timeout=900)
    return (time.perf_counter() - started) * 1000


def run(quick: bool = False) -> list[Row]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return [Row("Node cold start importing @aws-sdk/client-dynamodb, p50", None, "ms", "≤ 300 ms", None,
                    note="needs node and npm on PATH")]
    cache = _cache()
    started = time.perf_counter()
    problem = node_sdk.ensure(["@aws-sdk/client-dynamodb"], cache)
    if problem:
        return [Row("Node cold start importing @aws-sdk/client-dynamodb, p50", None, "ms", "≤ 300 ms", None,
                    note=problem[:200])]
    install_s = time.perf_counter() - started
    n = 5 if quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        totals, inits = asyncio.run(_cold_starts(Path(tmp), cache, n))
    rows = [Row("Node cold start importing @aws-sdk/client-dynamodb, p50", median(totals), "ms", "≤ 300 ms",
                median(totals) <= 300, note=f"Init Duration p50 {median(inits):.0f} ms, p90 total "
                f"{pct(totals, 0.9):.0f} ms, n={n}; SDK check/install {install_s:.1f} s")]

    env = temp_engine_env()
    fresh_cache = tempfile.mkdtemp(prefix="samlite-bench-cache-")
    env["SAMLITE_CACHE_DIR"] = fresh_cache
    work = Path(tempfile.mkdtemp(prefix="samlite-bench-runtimes-"))
    try:
        subprocess.run(samlite_cmd("engine", "start"), env=env, check=True, capture_output=True)
        _deploy(env, work / "warmup", WITHOUT, False)  # the engine's first deploy pays its own imports
        first = _deploy(env, work / "first", WITH, True)
        seconds, plains = [], []
        for i in range(3):  # alternated, so load from other processes falls on both
            seconds.append(_deploy(env, work / f"second{i}", WITH, True))
            plains.append(_deploy(env, work / f"plain{i}", WITHOUT, False))
        second, plain = median(seconds), median(plains)
    finally:
        subprocess.run(samlite_cmd("engine", "stop"), env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(fresh_cache, ignore_errors=True)
        shutil.rmtree(env["SAMLITE_HOME"], ignore_errors=True)
    rows += [
        Row("deploy with Node SDK + Powertools layer, empty caches (first)", first, "ms",
            note="includes npm and PyPI downloads"),
        Row("same project, fresh folder, caches warm (second)", second, "ms", "≈ without SDK/layer",
            second <= plain * 1.1, note=f"median of 3; the same functions without SDK or layer: {plain:.0f} ms "
            f"(met: within 10%)"),
    ]
    return rows


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print_table(run(quick="--quick" in sys.argv), "Runtime extras")

"""Node.js over the Runtime API: warm invoke and cold start of a trivial handler.

Run alone: `.venv/bin/python bench/bench_node.py [--warm N] [--cold N]`. Drives the real
InvokeService (as the engine does, on uvloop when installed) against a nodejs20.x function run by
samlite's Node bootstrap. The suite calls `run(quick)`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, print_table, warm_and_cold
from samlite.config import Settings
from samlite.core.invoke import InvokeService
from samlite.core.runtime import FunctionSpec
from samlite.core.store import Store

NODE_APP = "exports.handler = async (event) => ({ ok: true, pid: process.pid });\n"


async def measure(tmp: Path, warm_n: int, cold_n: int) -> dict[str, float]:
    settings = Settings(home=tmp / "home")
    store = Store(settings.db_path)
    code = tmp / "code"
    code.mkdir()
    (code / "app.js").write_text(NODE_APP)
    spec = FunctionSpec(name="node", arn="arn:aws:lambda:us-east-1:123456789012:function:node",
                        runtime="nodejs20.x", handler="app.handler", code_dir=code, code_sha="0")
    functions = {"node": spec}
    svc = InvokeService(settings, store, "http://127.0.0.1:1", functions)
    await svc.start()
    try:
        return (await warm_and_cold(svc, functions, spec, warm_n, cold_n, warmup=200))[0]
    finally:
        await svc.stop()
        store.close()


def run(quick: bool = False, warm: int | None = None, cold: int | None = None) -> list[Row]:
    warm = warm or (500 if quick else 2000)
    cold = cold or (5 if quick else 20)
    if shutil.which("node") is None:
        return [Row("Node warm invoke via Runtime API, p50", None, "ms", "≤ 2 ms", None, note="no `node` on PATH")]
    loop_name = "asyncio"
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        res = asyncio.run(measure(Path(tmp), warm, cold))
    return [
        Row("Node warm invoke via Runtime API, p50", res["warm_p50"], "ms", "≤ 2 ms", res["warm_p50"] <= 2,
            note=f"p99 {res['warm_p99']:.3f} ms, n={warm}, {loop_name}"),
        Row("Node cold start (spawn + init + invoke), p50", res["cold_p50"], "ms", "≤ 150 ms", res["cold_p50"] <= 150,
            note=f"Init Duration p50 {res['init_p50']:.1f} ms, n={cold}"),
        Row("RSS of one warm trivial Node environment", res["rss"], "MB", note="VmRSS of the node process"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", type=int, default=2000)
    parser.add_argument("--cold", type=int, default=20)
    args = parser.parse_args()
    print_table(run(warm=args.warm, cold=args.cold), "Node runtime")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

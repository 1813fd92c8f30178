"""Runtime benchmark: warm invoke inside the engine, cold start, warm env RSS, pipe floor.

Run alone: `.venv/bin/python bench/bench_runtime.py [--warm N] [--cold N]`; the suite calls
`run(quick)`. Uses uvloop when installed, as the engine does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, pct, print_table, warm_and_cold
from samlite.config import Settings
from samlite.core.invoke import InvokeService
from samlite.core.runtime import FunctionSpec
from samlite.core.store import Store

TRIVIAL = "import os\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"
ECHO_CHILD = ("import socket,sys\ns=socket.socket(fileno=int(sys.argv[1]))\n"
              "while True:\n    d=s.recv(65536)\n    if not d: break\n    s.sendall(d)\n")


def pipe_floor(n: int) -> float:
    """Round trip of a small message to a warm Python process over a socketpair (blocking)."""
    ours, theirs = socket.socketpair()
    child = subprocess.Popen([sys.executable, "-c", ECHO_CHILD, str(theirs.fileno())], pass_fds=(theirs.fileno(),))
    theirs.close()
    msg = b"x" * 64
    times = []
    for _ in range(n):
        t = time.perf_counter()
        ours.sendall(msg)
        ours.recv(65536)
        times.append(time.perf_counter() - t)
    ours.close()
    child.wait()
    return pct(times, 0.5) * 1000


async def measure(tmp: Path, warm_n: int, cold_n: int) -> dict[str, float]:
    settings = Settings(home=tmp / "home")
    store = Store(settings.db_path)
    code = tmp / "code"
    code.mkdir()
    (code / "app.py").write_text(TRIVIAL)
    spec = FunctionSpec(name="bench", arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
                        runtime=f"python{sys.version_info[0]}.{sys.version_info[1]}", handler="app.handler",
                        code_dir=code, code_sha="0")
    functions = {"bench": spec}
    svc = InvokeService(settings, store, "http://127.0.0.1:1", functions)
    await svc.start()
    try:
        out, spec = await warm_and_cold(svc, functions, spec, warm_n, cold_n, warmup=500)
        svc.workers.use_zygote = False
        times = []
        for i in range(max(5, cold_n // 4)):
            spec = replace(spec, code_sha=f"s{i}")
            functions["bench"] = spec
            svc.retire("bench")
            t = time.perf_counter()
            await svc.run(spec, b"{}", "c", source="bench")
            times.append(time.perf_counter() - t)
        out["spawn_p50"] = pct(times, 0.5) * 1000
    finally:
        await svc.stop()
        store.close()
    return out


def _loop() -> str:
    """Use uvloop when installed, as the engine does; the loop's name for the table."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return "uvloop"
    except ImportError:
        return "asyncio"


def pipe_row(n: int = 2000) -> Row:
    floor = pipe_floor(n) * 1000
    return Row("floor: pipe round trip to a warm process (socketpair), p50", floor, "µs", "40–90 µs (measured floor)",
               None, note=f"p50 of {n}, 64-byte message, blocking")


def run(quick: bool = False, warm: int | None = None, cold: int | None = None) -> list[Row]:
    warm = warm or (1000 if quick else 5000)
    cold = cold or (10 if quick else 40)
    loop_name = _loop()
    with tempfile.TemporaryDirectory() as tmp:
        res = asyncio.run(measure(Path(tmp), warm, cold))
    return [
        Row("warm invoke inside the engine (invoke service → worker → back), p50", res["warm_p50"], "ms",
            "≤ 0.2 ms", res["warm_p50"] <= 0.2, note=f"p99 {res['warm_p99']:.3f} ms, n={warm}, {loop_name}"),
        Row("cold start, trivial Python handler (zygote fork + init + invoke), p50", res["cold_p50"], "ms",
            "≤ 15 ms", res["cold_p50"] <= 15, note=f"Init Duration p50 {res['init_p50']:.2f} ms, n={cold}"),
        Row("  cold start without the zygote (spawned interpreter), p50", res["spawn_p50"], "ms",
            note=f"n={max(5, cold // 4)}"),
        Row("RSS of one warm trivial Python environment", res["rss"], "MB", "≤ 30 MB", res["rss"] <= 30,
            note="VmRSS of the worker"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", type=int, default=5000)
    parser.add_argument("--cold", type=int, default=40)
    args = parser.parse_args()
    print_table(run(warm=args.warm, cold=args.cold) + [pipe_row()], "runtime")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

"""Runtime benchmark: warm invoke inside the engine, cold start, warm env RSS, pipe floor.

Run alone: `.venv/bin/python bench/bench_runtime.py [--warm N] [--cold N]`. Prints a table
(figure | result | target). Uses uvloop when installed, as the engine does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from samlite.config import Settings
from samlite.engine.invoke import InvokeService
from samlite.engine.runtime import FunctionSpec
from samlite.engine.store import Store

TRIVIAL = "import os\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"
ECHO_CHILD = ("import socket,sys\ns=socket.socket(fileno=int(sys.argv[1]))\n"
              "while True:\n    d=s.recv(65536)\n    if not d: break\n    s.sendall(d)\n")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
    out: dict[str, float] = {}
    try:
        first = await svc.invoke("bench", b"{}")  # starts the zygote, probes the interpreter
        pid = json.loads(first.payload)["pid"]
        for _ in range(500):
            await svc.run(spec, b"{}", "warmup", source="bench")
        times = []
        for i in range(warm_n):
            t = time.perf_counter()
            await svc.run(spec, b'{"k": 1}', "r", source="bench")
            times.append(time.perf_counter() - t)
        out["warm_p50"] = pct(times, 0.5) * 1000
        out["warm_p99"] = pct(times, 0.99) * 1000
        out["rss"] = vm_rss_mb(pid)
        times = []
        init = []
        for i in range(cold_n):
            spec = replace(spec, code_sha=str(i + 1))
            functions["bench"] = spec
            svc.retire("bench")
            t = time.perf_counter()
            result = await svc.run(spec, b"{}", "c", source="bench")
            times.append(time.perf_counter() - t)
            assert result.cold and result.function_error is None, result
            init.append(result.init_ms or 0.0)
        out["cold_p50"] = pct(times, 0.5) * 1000
        out["init_p50"] = statistics.median(init)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", type=int, default=5000)
    parser.add_argument("--cold", type=int, default=40)
    args = parser.parse_args()
    loop_name = "asyncio"
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        res = asyncio.run(measure(Path(tmp), args.warm, args.cold))
    floor = pipe_floor(2000)
    rows = [
        (f"warm invoke in engine p50 ({loop_name})", f"{res['warm_p50']:.3f} ms", "<= 0.2 ms"),
        (f"warm invoke in engine p99 ({loop_name})", f"{res['warm_p99']:.3f} ms", "-"),
        ("cold start p50 (zygote fork + init + invoke)", f"{res['cold_p50']:.2f} ms", "<= 15 ms"),
        ("  Init Duration p50 (zygote)", f"{res['init_p50']:.2f} ms", "-"),
        ("cold start p50 (spawned interpreter, no zygote)", f"{res['spawn_p50']:.2f} ms", "-"),
        ("RSS of one warm trivial environment", f"{res['rss']:.1f} MB", "<= 30 MB"),
        ("pipe round trip floor (socketpair, blocking)", f"{floor:.3f} ms", "0.04-0.09 ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}} | {'result':>12} | target")
    print(f"{'-' * width}-+-{'-' * 12}-+-{'-' * 12}")
    for figure, result, target in rows:
        print(f"{figure:<{width}} | {result:>12} | {target}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

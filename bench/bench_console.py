"""The web console: page load with many stored invocations, the gateway with the console closed
(before/after the console existed, same run), and the engine's CPU with a console page open.

Run alone: `.venv/bin/python bench/bench_console.py [--quick]`; the suite calls `run(quick)`.

1. Page load: a real engine with 10 deployed stacks; 100,000 invocations (and 20,000 log lines)
   of one function are written into its store while it is stopped, as if recorded in the last
   hour. A page load is what the browser fetches for the function page (index, script, style,
   overview, function, logs) and for the stacks page, one after another on one keep-alive
   connection (the browser fetches some in parallel, so this is an upper bound).
2. Gateway throughput, console closed: the gateway bench's REST route, measured alternately on
   this tree and on the tree just before the console was added (`git archive` of the parent of
   the commit that created samlite/services/console/, or $SAMLITE_BENCH_CONSOLE_BASE), 3 rounds
   each, best round kept.
3. CPU with the console open: engine CPU seconds per 1,000 requests under load, without and with
   a live stream (`/api/live?function=...`) following the loaded function.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_gateway import HANDLER, TEMPLATE, _warm, load
from bench.common import ROOT, Row, median, print_table

STACKS = 10
INVOCATIONS = 100_000
LOG_LINES = 20_000
PAGE_LOAD_TARGET_MS = 300.0
PREFIX = "/_samlite/console"


def _project(work: Path) -> Path:
    from samlite.testing import write_project

    return write_project(work, TEMPLATE, {"src/app.py": HANDLER})


def _engine(home: Path, extra_env: dict[str, str] | None = None) -> Any:
    from samlite.testing import EngineHandle

    return EngineHandle(home, extra_env).start()


# --- 1. page load ----------------------------------------------------------------------------------
def _fill_store(db_path: Path, function: str, stack: str) -> None:
    now = int(time.time() * 1000)
    db = sqlite3.connect(str(db_path))
    rows = [(function, stack, now - 3_600_000 + i * 36, str(uuid.uuid4()), "gateway", 1.5 + (i % 50) / 10,
             2 + i % 5, 128, 40, None, 0, "Error" if i % 97 == 0 else None, 0, 1 + i % 4, "x86_64")
            for i in range(INVOCATIONS)]
    db.executemany("INSERT INTO metrics (function_name, stack, timestamp_ms, request_id, source, duration_ms, billed_ms,"
                   " memory_size, max_memory_mb, init_ms, cold, error, throttled, concurrency, architecture)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    group = f"/aws/lambda/{function}"
    db.execute("INSERT OR IGNORE INTO log_streams (log_group, log_stream, created_ms) VALUES (?, 's', ?)", (group, now))
    db.executemany("INSERT INTO log_events (log_group, log_stream, timestamp_ms, ingestion_ms, message)"
                   " VALUES (?, 's', ?, ?, ?)",
                   [(group, now - LOG_LINES + i, now - LOG_LINES + i, f"line {i} of a busy function")
                    for i in range(LOG_LINES)])
    db.commit()
    db.close()


def page_load(quick: bool) -> tuple[float, float, str]:
    import requests

    work = Path(tempfile.mkdtemp(prefix="samlite-bench-console-"))
    template = _project(work / "project")
    engine = _engine(work / "home")
    try:
        for i in range(STACKS):
            engine.deploy(template, f"stack{i:02d}")
        function = json.loads(engine.cli("list", "functions", "--output", "json", check=True).stdout)[0]
        engine.stop()
        _fill_store(work / "home" / "state.db", function["name"], function["stack"])
        engine.start()
        token = json.loads((work / "home" / "engine.json").read_text())["console_token"]
        base = engine.gateway_url + PREFIX
        fn_paths = ["/", "/static/console.js", "/static/console.css", "/api/overview",
                    f"/api/functions/{function['name']}", f"/api/functions/{function['name']}/logs"]
        stack_paths = ["/", "/static/console.js", "/static/console.css", "/api/overview", "/api/stacks"]
        results: dict[str, list[float]] = {"fn": [], "stacks": []}
        with requests.Session() as s:
            s.headers["X-Samlite-Token"] = token
            for _ in range(2):  # warm the engine's caches and the connection
                for p in fn_paths + stack_paths:
                    s.get(base + p, timeout=30).raise_for_status()
            for _ in range(5 if quick else 15):
                for key, paths in (("fn", fn_paths), ("stacks", stack_paths)):
                    t0 = time.perf_counter()
                    for p in paths:
                        s.get(base + p, timeout=30).raise_for_status()
                    results[key].append((time.perf_counter() - t0) * 1000)
        return median(results["fn"]), median(results["stacks"]), ""
    finally:
        engine.close()
        shutil.rmtree(work, ignore_errors=True)


# --- 2. gateway before/after -------------------------------------------------------------------
def _base_tree(work: Path) -> tuple[Path | None, str]:
    """The source tree just before the console existed, or None and why not."""
    ref = os.environ.get("SAMLITE_BENCH_CONSOLE_BASE")
    try:
        if not ref:
            added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--",
                                    "samlite/services/console/__init__.py"], cwd=ROOT, capture_output=True,
                                   text=True, check=True).stdout.split()
            if not added:
                return None, "no git history of samlite/services/console"
            ref = added[-1] + "^"
        tree = work / "base"
        tree.mkdir()
        archive = subprocess.run(["git", "archive", ref, "samlite"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        return tree, ref
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"git archive failed: {exc}"


def _gateway_rps(env: dict[str, str] | None, home: Path, template: Path, duration: float) -> float:
    engine = _engine(home, env)
    try:
        engine.deploy(template, "bench")
        url = next(e["url"] for e in engine.endpoints() if e["kind"] == "rest-api") + "hello"
        _warm(url)
        return load(url, 16, duration)[0]
    finally:
        engine.close()


def gateway_before_after(quick: bool) -> tuple[float | None, float | None, str]:
    work = Path(tempfile.mkdtemp(prefix="samlite-bench-console-gw-"))
    try:
        base, ref = _base_tree(work)
        if base is None:
            return None, None, ref
        template = _project(work / "project")
        duration = 2.0 if quick else 4.0
        before_env = {"PYTHONPATH": str(base)}
        after, before = [], []
        for i in range(2 if quick else 3):  # alternate, so drift in the machine's load hits both
            after.append(_gateway_rps(None, work / f"after{i}", template, duration))
            before.append(_gateway_rps(before_env, work / f"before{i}", template, duration))
        return max(after), max(before), f"base {ref.replace(ref.rstrip('^'), ref[:12])}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- 3. CPU with a page open --------------------------------------------------------------------------
def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_overhead(quick: bool) -> tuple[float, float, str]:

    work = Path(tempfile.mkdtemp(prefix="samlite-bench-console-cpu-"))
    template = _project(work / "project")
    engine = _engine(work / "home")
    try:
        engine.deploy(template, "bench")
        url = next(e["url"] for e in engine.endpoints() if e["kind"] == "rest-api") + "hello"
        _warm(url)
        token = json.loads((work / "home" / "engine.json").read_text())["console_token"]
        function = json.loads(engine.cli("list", "functions", "--output", "json", check=True).stdout)[0]["name"]
        duration = 3.0 if quick else 5.0
        pid = engine.proc.pid

        def per_k() -> float:
            c0 = _cpu_s(pid)
            rps = load(url, 16, duration)[0]
            return (_cpu_s(pid) - c0) / (rps * duration) * 1000

        def with_page() -> float:
            # The page's stream is read by another process (curl), so the reader does not take
            # CPU or the GIL from this process's load generator.
            reader = subprocess.Popen(["curl", "-sN", "-H", f"X-Samlite-Token: {token}",
                                       f"{engine.gateway_url}{PREFIX}/api/live?function={function}"],
                                      stdout=subprocess.DEVNULL)
            time.sleep(1.0)  # the stream is open and ticking
            try:
                return per_k()
            finally:
                reader.terminate()
                reader.wait()

        closed, opened = [], []
        for _ in range(2):  # alternate, so drift in the machine's load hits both
            closed.append(per_k())
            opened.append(with_page())
        return min(closed), min(opened), "best of 2 alternating rounds"
    finally:
        engine.close()
        shutil.rmtree(work, ignore_errors=True)


def run(quick: bool = False) -> list[Row]:
    rows = []
    fn_ms, stacks_ms, note = page_load(quick)
    rows.append(Row(f"console function page load ({STACKS} stacks, {INVOCATIONS:,} invocations stored)", fn_ms, "ms",
                    f"≤ {PAGE_LOAD_TARGET_MS:.0f} ms", fn_ms <= PAGE_LOAD_TARGET_MS,
                    note="6 requests in a row, one connection; median"))
    rows.append(Row("console stacks page load (same store)", stacks_ms, "ms", f"≤ {PAGE_LOAD_TARGET_MS:.0f} ms",
                    stacks_ms <= PAGE_LOAD_TARGET_MS, note=note or "5 requests in a row; median"))
    after, before, note = gateway_before_after(quick)
    if after is None or before is None:
        rows.append(Row("gateway req/s with the console closed vs before it existed", None, "req/s", "within 2%",
                        None, note=note))
    else:
        change = (after - before) / before * 100
        rows.append(Row("gateway req/s with the console closed (16 connections)", after, "req/s", "within 2% of before",
                        abs(change) <= 2.0 or change > 0, peer="before the console", peer_result=before,
                        ratio=f"{change:+.1f}%", note=note + "; best of alternating rounds"))
    closed, opened, note = cpu_overhead(quick)
    overhead = (opened - closed) / closed * 100
    rows.append(Row("engine CPU per 1,000 gateway requests, console page open on the function", opened * 1000, "ms",
                    "≤ 5% over closed", overhead <= 5.0, peer="console closed", peer_result=closed * 1000,
                    ratio=f"{overhead:+.1f}%", note=note or "live stream following the loaded function"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print_table(run(quick=parser.parse_args().quick), "web console")

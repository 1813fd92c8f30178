"""Bounded state: the gateway while a full-scan log filter runs over a big store, and the size of
state.db after many invocations with the default caps.

Run alone: `.venv/bin/python bench/bench_state.py [--quick]`; the suite calls `run(quick)`.

1. Gateway p99 during a full-scan filter: a real engine with the gateway bench's REST route;
   1,000,000 log events are written into its store while it is stopped (the log cap raised so
   the sweep keeps them). The gateway is loaded with 4 connections, alone and then while a
   client runs FilterLogEvents over the million events with a pattern that matches none, one
   call after another (a term pattern, filtered by SQLite; and a JSON pattern, matched in
   Python), on the AWS endpoint.
2. state.db after 100,000 invocations through the gateway with the default caps (200,000 log
   events, 200,000 metric rows), after one sweep: database plus WAL file.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_gateway import HANDLER, TEMPLATE, _warm, load
from bench.common import Row, print_table

EVENTS = 1_000_000
INVOCATIONS = 100_000
P99_TARGET_MS = 50.0


def _project(work: Path) -> Path:
    from samlite.testing import write_project

    return write_project(work, TEMPLATE, {"src/app.py": HANDLER})


def _engine(home: Path, extra_env: dict[str, str] | None = None) -> Any:
    from samlite.testing import EngineHandle

    return EngineHandle(home, extra_env).start()


def _fill_logs(db_path: Path, group: str, count: int) -> None:
    now = int(time.time() * 1000)
    db = sqlite3.connect(str(db_path))
    db.execute("INSERT OR IGNORE INTO log_streams (log_group, log_stream, created_ms) VALUES (?, 's', ?)", (group, now))
    batch = 100_000
    for start in range(0, count, batch):
        db.executemany("INSERT INTO log_events (log_group, log_stream, timestamp_ms, ingestion_ms, message)"
                       " VALUES (?, 's', ?, ?, ?)",
                       [(group, now - count + i, now - count + i, '{"level": "INFO", "msg": "request %d served"}' % i)
                        for i in range(start, min(count, start + batch))])
    db.commit()
    db.close()


def _scan(logs: Any, group: str, pattern: str, stop: threading.Event, scans: list[float]) -> None:
    """FilterLogEvents over the whole group, one call after another, until `stop`."""
    while not stop.is_set():
        t0 = time.perf_counter()
        reply = logs.filter_log_events(logGroupName=group, filterPattern=pattern)
        assert reply["events"] == []
        scans.append(time.perf_counter() - t0)


def filter_p99(quick: bool) -> list[tuple[str, float, float, int, str]]:
    """(pattern kind, p99 alone, p99 during the scans, scans done, note) per pattern."""
    work = Path(tempfile.mkdtemp(prefix="samlite-bench-state-"))
    events = EVENTS // 4 if quick else EVENTS
    engine = _engine(work / "home", {"SAMLITE_MAX_LOG_EVENTS": str(EVENTS * 2)})
    try:
        engine.deploy(_project(work / "project"), "bench")
        url = next(e["url"] for e in engine.endpoints() if e["kind"] == "rest-api") + "hello"
        function = engine.client("lambda").list_functions()["Functions"][0]["FunctionName"]
        engine.stop()
        group = f"/aws/lambda/{function}"
        _fill_logs(work / "home" / "state.db", group, events)
        engine.start()
        url = next(e["url"] for e in engine.endpoints() if e["kind"] == "rest-api") + "hello"
        _warm(url)
        duration = 4.0 if quick else 8.0
        out = []
        for kind, pattern in (("term", "NOMATCH"), ("JSON", '{ $.level = "ERROR" }')):
            alone = load(url, 4, duration)[2]
            stop = threading.Event()
            scans: list[float] = []
            thread = threading.Thread(target=_scan, args=(engine.client("logs"), group, pattern, stop, scans))
            thread.start()
            time.sleep(0.5)
            during = load(url, 4, duration)[2]
            stop.set()
            thread.join()
            out.append((kind, alone, during, len(scans),
                        f"{events:,} events; one scan {min(scans):.2f} s" if scans else f"{events:,} events"))
        return out
    finally:
        engine.close()
        shutil.rmtree(work, ignore_errors=True)


def size_after_invocations(quick: bool) -> tuple[float, str]:
    from samlite.client import EngineClient
    from samlite.config import load_settings

    work = Path(tempfile.mkdtemp(prefix="samlite-bench-state-size-"))
    target = INVOCATIONS // 10 if quick else INVOCATIONS
    engine = _engine(work / "home")
    try:
        engine.deploy(_project(work / "project"), "bench")
        url = next(e["url"] for e in engine.endpoints() if e["kind"] == "rest-api") + "hello"
        _warm(url)
        db = sqlite3.connect(f"file:{work / 'home' / 'state.db'}?mode=ro", uri=True)
        done = 0
        while done < target:
            rps = load(url, 16, 5.0)[0]
            done = db.execute("SELECT MAX(id) FROM metrics").fetchone()[0] or 0
            if rps <= 0:
                break
        import os

        os.environ["SAMLITE_HOME"] = str(work / "home")
        swept = EngineClient(load_settings()).call("sweeper", "sweep")
        time.sleep(1.0)  # the checkpointer copies the WAL back; the file shrinks
        events = db.execute("SELECT COUNT(*) FROM log_events").fetchone()[0]
        metrics = db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        db.close()
        home = work / "home"
        size = (home / "state.db").stat().st_size
        wal = (home / "state.db-wal").stat().st_size if (home / "state.db-wal").exists() else 0
        return size / 1e6, (f"{done:,} invocations; {events:,} log events and {metrics:,} metric rows kept;"
                            f" plus a WAL file of {wal / 1e6:.1f} MB (cut back to 16 MB);"
                            f" the last sweep released {swept['pages_released']:,} pages")
    finally:
        engine.close()
        shutil.rmtree(work, ignore_errors=True)


def run(quick: bool = False) -> list[Row]:
    rows = []
    for kind, alone, during, scans, note in filter_p99(quick):
        rows.append(Row(f"gateway p99 during a full-scan FilterLogEvents ({kind} pattern, 4 connections)", during,
                        "ms", f"≤ {P99_TARGET_MS:.0f} ms", during <= P99_TARGET_MS, peer="no scan running",
                        peer_result=alone, note=f"{note}; {scans} scans during the load"))
    size, note = size_after_invocations(quick)
    rows.append(Row(f"state.db after {INVOCATIONS // 10 if quick else INVOCATIONS:,} invocations, default caps", size,
                    "MB", "", None, note=note))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print_table(run(args.quick), "bounded state")


if __name__ == "__main__":
    main()

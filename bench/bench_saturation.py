"""HTTP gateway past the local environment cap: a trivial REST route under 200 keep-alive connections.

Run alone: `.venv/bin/python bench/bench_saturation.py [--duration 5]`; the suite calls `run(quick)`.

200 connections are more than the live-environment cap on a small machine, so this measures what
happens beyond it: requests wait for a free environment (FIFO, bounded by SAMLITE_ENVIRONMENT_WAIT)
instead of getting a 429 that AWS would not send. The figures: req/s, p99 and non-2xx responses.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_gateway import HANDLER, TEMPLATE, _warm, ensure_wrk, load
from bench.common import Row, machine, print_table

CONNECTIONS = 200


def measure(duration: float, extra_env: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    from samlite.testing import EngineHandle

    work = Path(tempfile.mkdtemp(prefix="samlite-bench-sat-"))
    (work / "src").mkdir()
    (work / "src" / "app.py").write_text(HANDLER)
    (work / "template.yaml").write_text(TEMPLATE)
    engine = EngineHandle(work / "home", extra_env).start()
    try:
        engine.deploy(work / "template.yaml", "bench")
        url = next(e["url"] for e in engine.endpoints() if e["kind"] == "rest-api") + "hello"
        _warm(url)
        load(url, CONNECTIONS, 1.0)  # the environments the load needs are started, then measured
        return load(url, CONNECTIONS, duration)
    finally:
        engine.stop()
        engine.kill()
        shutil.rmtree(work, ignore_errors=True)


def run(quick: bool = False, duration: float | None = None) -> list[Row]:
    duration = duration or (2.0 if quick else 5.0)
    ensure_wrk()
    generator = "wrk" if shutil.which("wrk") else "asyncio client (wrk not installed)"
    rps, p50, p99, bad = measure(duration)
    note = f"{generator}, {duration:g} s, keep-alive; p50 {p50:.2f} ms"
    return [
        Row(f"HTTP gateway, {CONNECTIONS} connections (beyond the environment cap)", rps, "req/s", "", None,
            note=note),
        Row(f"  HTTP gateway p99 latency, {CONNECTIONS} connections", p99, "ms", "", None),
        Row(f"  non-2xx responses (429s), {CONNECTIONS} connections", float(bad), "responses", "0", bad == 0,
            note="AWS answers 429 only for account or reserved concurrency"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    print(machine())
    print_table(run(duration=args.duration))


if __name__ == "__main__":
    main()

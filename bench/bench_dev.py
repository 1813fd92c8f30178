"""Benchmark the edit loop and the demo: how fast a saved file is live, how long `make demo` takes.

Runnable alone: `.venv/bin/python bench/bench_dev.py [--edits N]`; the suite calls `run(quick)`.

- save -> new answer: `samlite dev` runs as a subprocess on the hello-python starter against an
  isolated engine. Each round rewrites src/app.py with a new answer, then invokes the function
  through the AWS endpoint (boto3) in a tight loop until the new answer comes back; the figure is
  the time from the end of the write to that answer (watchdog event + debounce + compile check +
  incremental build + plan + apply + a cold start of the new version).
- `python -m samlite.demo`: the whole demo as `make demo` runs it (both examples end to end).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, median, pct, print_table, samlite_cmd

SAVE_TARGET_MS = 1000.0
DEMO_TARGET_S = 60.0
HANDLER = '''import json


def lambda_handler(event, context):
    return {{"statusCode": 200, "body": json.dumps({{"message": "{answer}"}})}}
'''


def _dev_rounds(edits: int) -> tuple[list[float], list[float]]:
    """(save->answer ms per edit, redeploy ms per edit as the loop reports it)."""
    from samlite.scaffold import STARTERS_DIR
    from samlite.testing import EngineHandle, wait_for

    tmp = Path(tempfile.mkdtemp(prefix="samlite-bench-dev-"))
    engine = EngineHandle(tmp / "home").start()
    dev: subprocess.Popen[str] | None = None
    try:
        project = tmp / "hello"
        shutil.copytree(STARTERS_DIR / "hello-python", project)
        app = project / "src" / "app.py"
        app.write_text(HANDLER.format(answer="v0"))
        dev = subprocess.Popen(samlite_cmd("dev", "--stack-name", "bench-dev"), cwd=project, env=engine.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(dev.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        wait_for(lambda: any("Watching" in line for line in lines), timeout=60, message="samlite dev ready")
        outputs = engine.outputs("bench-dev")
        name = outputs["HelloWorldFunctionName"]
        lam = engine.client("lambda")

        def answer() -> str:
            payload = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
            return json.loads(payload["body"])["message"]

        wait_for(lambda: answer() == "v0", timeout=20, message="first answer")
        latencies: list[float] = []
        for i in range(1, edits + 1):
            expected = f"v{i}"
            app.write_text(HANDLER.format(answer=expected))
            saved = time.perf_counter()
            deadline = saved + 15
            while answer() != expected:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"edit {i} not live after 15 s:\n{''.join(lines[-20:])}")
                time.sleep(0.002)
            latencies.append((time.perf_counter() - saved) * 1000)
            time.sleep(0.3)  # let the loop go idle so rounds do not merge into one burst
        redeploys = [float(m.group(1)) for line in lines if (m := re.search(r"redeploy of \S+ done in (\d+) ms", line))]
        return latencies, redeploys
    finally:
        if dev is not None and dev.poll() is None:
            dev.terminate()
            dev.wait(15)
        engine.stop()
        engine.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _demo_seconds() -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "samlite.demo"], capture_output=True, text=True, timeout=180)
    return time.perf_counter() - started, proc.returncode


def run(quick: bool = False, edits: int | None = None) -> list[Row]:
    from samlite.devloop import DEBOUNCE_S

    edits = edits or (3 if quick else 10)
    rows: list[Row] = []
    latencies, redeploys = _dev_rounds(edits)
    p50 = median(latencies)
    rows.append(Row("saved file → next invoke runs the new code (samlite dev), p50", p50, "ms",
                    f"≤ {SAVE_TARGET_MS:.0f} ms", p50 <= SAVE_TARGET_MS,
                    note=f"{edits} edits; max {max(latencies):.0f} ms; includes the "
                         f"{DEBOUNCE_S * 1000:.0f} ms debounce and a cold start of the new code"))
    rows.append(Row("  save → new answer, worst of the edits", pct(latencies, 1.0), "ms",
                    f"≤ {SAVE_TARGET_MS:.0f} ms", max(latencies) <= SAVE_TARGET_MS))
    if redeploys:
        rows.append(Row("  of which redeploy (load + build + plan + apply), p50", median(redeploys), "ms",
                        note="as `samlite dev` reports it"))
    seconds, code = _demo_seconds()
    rows.append(Row("make demo (python -m samlite.demo), whole process", seconds, "s", f"< {DEMO_TARGET_S:.0f} s",
                    code == 0 and seconds < DEMO_TARGET_S,
                    note="both examples end to end" + ("" if code == 0 else f"; FAILED with exit code {code}")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10)
    args = parser.parse_args()
    print_table(run(edits=args.edits), "dev loop and demo")


if __name__ == "__main__":
    main()

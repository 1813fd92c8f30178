"""The whole benchmark suite: `python -m bench [--quick] [--only NAME[,NAME]]` (or `make bench`).

Every bench/bench_<name>.py exposes `run(quick) -> list[Row]`. Each module runs in its own child
process under a time budget (and the suite under an overall one, 30 minutes), so a module that
fails, hangs or leaks cannot take the suite down: it yields a row with the error in `note`. The
rows are printed as ONE table (figure | samlite | target | met | peer | peer result | ratio |
note) after the machine's description, and written as JSON to bench/results/<UTC time>.json; a
full run also writes bench/results/latest.json and docs/performance.md (the Markdown table).

`python -m bench --markdown` prints the Markdown table of bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Row, fmt, machine_info, print_table

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
SUITE_BUDGET_S = 1800.0  # the whole suite: about 20 minutes on 2 cores, 30 at most

# (name, seconds allowed in a full run, in a quick run), in the order the table shows them.
MODULES: list[tuple[str, float, float]] = [
    ("baseline", 60, 30),
    ("validate", 60, 30),
    ("build", 90, 45),
    ("engine", 120, 60),
    ("runtime", 90, 45),
    ("endpoint", 120, 60),
    ("oneshot", 60, 30),
    ("sqs", 150, 75),
    ("cloud", 240, 90),
    ("streams", 120, 60),
    ("triggers", 150, 60),  # S3/EventBridge/SNS → functions; a full run waits for a rate(1 minute) firing
    ("durable", 120, 60),  # checkpoint round trip from a function; wait due → replay running
    ("gateway", 180, 120),  # includes a first-time `npm install` of the peer
    ("saturation", 60, 45),  # 200 connections, beyond the environment cap: req/s, p99, non-2xx
    ("dev", 150, 90),  # includes `make demo` end to end
    ("node", 60, 40),
    ("response_stream", 90, 60),  # RESPONSE_STREAM function URL: first byte, MB/s
    ("runtimes", 150, 90),  # Node SDK cold start; deploys with empty and warm SDK/layer caches (downloads)
    ("console", 150, 90),  # page load, gateway before/after the console, CPU with a page open
    ("state", 180, 90),  # gateway p99 during a full-scan log filter, state.db after 100k invocations
    ("peers", 30, 30),
]
# Figures whose module may not exist yet: the table still says that the figure is missing.
MISSING_FIGURE = {
    "dev": Row("saved file → next invoke runs the new code (samlite dev)", None, "ms", "≤ 1000 ms", None,
               note="bench/bench_dev.py is not present yet"),
    "node": Row("Node warm invoke via Runtime API, p50", None, "ms", "", None,
                note="bench/bench_node.py is not present yet"),
}


# --- one module in a child process -------------------------------------------------------------
def _child(name: str, out: Path, quick: bool) -> int:
    """Run one module and write its rows (or its error) as JSON to `out`."""
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum} (time budget)")

    signal.signal(signal.SIGTERM, stop)  # turn the parent's SIGTERM into an exception so `finally` cleans up
    try:
        module = importlib.import_module(f"bench.bench_{name}")
        rows = module.run(quick=quick)
        out.write_text(json.dumps({"rows": [r.to_dict() for r in rows]}))
        return 0
    except BaseException as exc:  # noqa: BLE001 - everything is reported as a row, never raised
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        out.write_text(json.dumps({"error": last[:400]}))
        traceback.print_exc()
        return 1


def run_module(name: str, budget: float, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    """Rows of one module, run in a child process for at most `budget` seconds."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="samlite-bench-") as tmp:
        out, log = Path(tmp) / "rows.json", Path(tmp) / "stderr.log"
        argv = [sys.executable, "-m", "bench", "--child", name, "--out", str(out)] + (["--quick"] if quick else [])
        with open(log, "wb") as err:
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
            status = "ok"
            try:
                proc.wait(timeout=max(1.0, budget))
            except subprocess.TimeoutExpired:
                status = f"timed out after {budget:.0f} s"
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        data: dict[str, Any] = {}
        if out.exists():
            try:
                data = json.loads(out.read_text())
            except ValueError:
                data = {}
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    elapsed = time.monotonic() - started
    rows = [Row(**r) for r in data.get("rows", [])]
    if not rows:
        if status == "ok":
            status = "failed: " + (data.get("error") or (tail[0] if tail else f"exit code {proc.returncode}"))
        rows = [Row(f"{name}: not measured", None, "", note=status)]
    return rows, {"seconds": round(elapsed, 1), "status": status}


def available(name: str) -> bool:
    return (ROOT / "bench" / f"bench_{name}.py").exists()


# --- the suite -------------------------------------------------------------------------------------
def run_suite(names: list[str], quick: bool) -> dict[str, Any]:
    info = machine_info()
    started = datetime.now(timezone.utc)
    deadline = time.monotonic() + SUITE_BUDGET_S
    print(f"machine: {info['cores']} cores, Python {info['python']}, {info['arch']}, {info['system']}; "
          f"load average at start {' '.join(map(str, info['loadavg']))}", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    modules: dict[str, Any] = {}
    for name, full, short in MODULES:
        if name not in names:
            continue
        if not available(name):
            missing = MISSING_FIGURE.get(name, Row(f"{name}: not measured", None, "", note="module missing"))
            rows.append({**missing.to_dict(), "module": name})
            modules[name] = {"seconds": 0.0, "status": "absent"}
            continue
        remaining = deadline - time.monotonic()
        if remaining < 5:
            rows.append({**Row(f"{name}: not measured", None, "", note="suite time budget spent").to_dict(),
                         "module": name})
            modules[name] = {"seconds": 0.0, "status": "skipped (suite budget)"}
            continue
        budget = min(short if quick else full, remaining)
        print(f"[bench] {name} (budget {budget:.0f} s) ...", file=sys.stderr, flush=True)
        got, meta = run_module(name, budget, quick)
        print(f"[bench] {name}: {meta['status']} in {meta['seconds']} s", file=sys.stderr, flush=True)
        rows += [{**r.to_dict(), "module": name} for r in got]
        modules[name] = meta
    return {"started": started.isoformat(timespec="seconds"), "quick": quick, "machine": info,
            "modules": modules, "rows": rows}


def write_results(results: dict[str, Any], full: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results["started"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = RESULTS / f"{stamp}.json"
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text)
    if full:  # only a complete, non-quick run replaces the figures the docs quote
        (RESULTS / "latest.json").write_text(text)
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(performance_doc(results))
    return path


# --- Markdown ------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (figure | samlite | target | met | peer | peer result | ratio | note)."""
    lines = ["| figure | samlite | target | met | peer | peer result | ratio | note |",
             "|---|---:|---|:-:|---|---:|---|---|"]
    for r in results["rows"]:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        peer_result = fmt(r["peer_result"], r["unit"]) if r["peer"] else ""
        cells = [r["figure"].strip(), fmt(r["result"], r["unit"]), r["target"], met, r["peer"], peer_result,
                 r["ratio"], r["note"]]
        lines.append("| " + " | ".join(_cell(str(c)) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    return (f"{m['cores']} cores, Python {m['python']}, {m['arch']}, {m['system']}; load average at start "
            f"{' / '.join(map(str, m['loadavg']))} (1 / 5 / 15 min)")


def performance_doc(results: dict[str, Any]) -> str:
    rows = results["rows"]
    judged = [r for r in rows if r["met"] is not None]
    met = sum(1 for r in judged if r["met"])
    return f"""# Performance

Measured by `make bench` (`python -m bench`) on {results['started']} — {machine_line(results)}.
{met} of {len(judged)} targets met. Peers run on the same machine in the same run; "quoted" peer
figures are the ones measured on this machine before (sam validate and sam build: 0.95 s) because that peer is not installed here.

{markdown_table(results)}
## How to reproduce

```sh
make bench                                # installs '.[test,bench]', then runs python -m bench
.venv/bin/python -m bench --quick         # fewer runs: a smoke check (does not replace latest.json)
.venv/bin/python -m bench --only sqs,gateway
.venv/bin/python bench/bench_gateway.py   # any module alone prints its own table
.venv/bin/python -m bench --markdown      # this table, from bench/results/latest.json
```

Each module runs in its own process under a time budget (the suite stays under 10 minutes); a
module that fails or runs out of time shows up as a row with the reason in `note`. Figures are
medians (and p99 where shown) after a warm-up, with bounded counts; all load goes to 127.0.0.1.
Peers the bench installs itself where it can: moto server (`moto[server]`, bench extra) for SQS,
serverless-offline (npm `serverless@3` + `serverless-offline`, cached in
`~/.cache/samlite-bench/sls`) for HTTP, python-lambda-local (bench extra) for one-shot invokes,
and `wrk` (apt, when root) as the HTTP load generator. SAM CLI local and LocalStack need Docker
and are listed with the reason. The "floor" rows are what this machine allows at all: an
in-process call, a pipe round trip to a warm process, a loopback HTTP request to a bare asyncio
server, and a fresh `python -c pass`.

Whole-process figures run with bytecode caching on (the bench drops PYTHONDONTWRITEBYTECODE and
caches .pyc under `~/.cache/samlite-bench/pycache`), as an installed package would; samlite is
installed editable here, so every interpreter also pays for the editable-install import hook.
The machine is shared: the load average above says how busy it was, and figures move with it.
Raw results: `bench/results/latest.json`.
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke check")
    parser.add_argument("--only", help="comma-separated module names: " + ",".join(n for n, _, _ in MODULES))
    parser.add_argument("--markdown", action="store_true", help="print the Markdown table of latest.json")
    parser.add_argument("--docs", action="store_true", help="rewrite docs/performance.md from latest.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child, Path(args.out), args.quick)
    if args.markdown or args.docs:
        results = json.loads((RESULTS / "latest.json").read_text())
        if args.docs:
            DOC.write_text(performance_doc(results))
        if args.markdown:
            print(markdown_table(results), end="")
        return 0
    known = [n for n, _, _ in MODULES]
    names = known if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    results = run_suite(names, args.quick)
    path = write_results(results, full=not args.quick and not args.only)
    rows = [Row(**{k: v for k, v in r.items() if k != "module"}) for r in results["rows"]]
    print_table(rows, f"samlite benchmarks ({'quick' if args.quick else 'full'}) — {machine_line(results)}")
    judged = [r for r in rows if r.met is not None]
    print(f"{sum(1 for r in judged if r.met)} of {len(judged)} targets met; results in "
          f"{path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

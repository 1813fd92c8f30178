"""One-shot local invoke: `samlite invoke -t template.yaml Fn` (no engine, no deploy) side by side
with python-lambda-local (`python-lambda-local -f handler app.py event.json`), whole process each.

Both run the same trivial handler on the same event, in a fresh process per invoke, as a user
would from a shell. python-lambda-local comes from the `bench` extra (`pip install -e '.[bench]'`);
without it the row says so.

Run alone: `.venv/bin/python bench/bench_oneshot.py [--runs N]`; the suite calls `run(quick)`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, median, print_table, samlite_cmd

HANDLER = "def handler(event, context):\n    return {'ok': True, 'name': event.get('name')}\n"
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python{major}.{minor}
      CodeUri: src/
      Handler: app.handler
"""


def _project(root: Path) -> None:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(HANDLER)
    (root / "template.yaml").write_text(TEMPLATE.format(major=sys.version_info[0], minor=sys.version_info[1]))
    (root / "event.json").write_text(json.dumps({"name": "Ada"}))


def _timed(argv: list[str], cwd: Path, env: dict[str, str], expect: str) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    elapsed = (time.perf_counter() - t) * 1000
    if proc.returncode != 0 or expect not in proc.stdout + proc.stderr:
        raise RuntimeError(f"{' '.join(argv[:3])}... failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-400:]}")
    return elapsed


def python_lambda_local() -> str | None:
    local = Path(sys.executable).with_name("python-lambda-local")
    return str(local) if local.exists() else shutil.which("python-lambda-local")


def run(quick: bool = False, runs: int | None = None) -> list[Row]:
    runs = runs or (3 if quick else 10)
    root = Path(tempfile.mkdtemp(prefix="samlite-bench-oneshot-"))
    try:
        _project(root)
        # A home with no engine: the invoke cannot find a deployed function and runs one-shot.
        env = {**os.environ, "SAMLITE_HOME": str(root / "home"), "SAMLITE_AWS_PORT": "0",
               "SAMLITE_GATEWAY_PORT": "0"}
        ours_argv = samlite_cmd("invoke", "-t", "template.yaml", "Fn", "-e", "event.json")
        _timed(ours_argv, root, env, "Ada")  # first run builds the artifact; later runs reuse it
        ours = median(_timed(ours_argv, root, env, "Ada") for _ in range(runs))
        tool = python_lambda_local()
        theirs, why = None, "python-lambda-local not installed: pip install -e '.[bench]'"
        if tool:
            argv = [tool, "-f", "handler", "-t", "10", "app.py", "../event.json"]
            _timed(argv, root / "src", env, "Ada")
            theirs, why = median(_timed(argv, root / "src", env, "Ada") for _ in range(runs)), ""
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = f"{theirs / ours:.2f}× faster" if theirs and ours <= theirs else (
        f"{ours / theirs:.2f}× slower" if theirs else "")
    return [Row("one-shot local invoke (samlite invoke -t, no engine), whole process", ours, "ms",
                "≤ python-lambda-local", None if theirs is None else ours <= theirs, "python-lambda-local", theirs,
                ratio, f"median of {runs}; builds (cached) + runs a fresh worker" + (f"; {why}" if why else ""))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print_table(run(runs=args.runs), "one-shot invoke")


if __name__ == "__main__":
    main()

"""Benchmark `samlite build`: no-change and code-only-change builds of a generated 5-function project.

Runnable alone: `.venv/bin/python bench/bench_build.py [--runs N]`; the suite calls `run(quick)`.
Whole-process figures spawn `python -m samlite build` exactly as a user would run it; the
in-process figures call `build_stack` directly (they need no template loader and show how much
of the total is the build itself).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, print_table

FUNCTIONS = 5
TARGET_MS = 300.0
SAM_CLI = "SAM CLI (quoted)"
SAM_CLI_MS = 950.0  # `sam build` on this machine, the performance budget in docs/performance.md; SAM CLI is not installed here

TEMPLATE_HEAD = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: {runtime}
    Timeout: 10
Resources:
"""
FUNCTION = """\
  Fn{i}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/fn{i}/
      Handler: app.handler
"""


def generate(root: Path) -> None:
    """Five functions, each with a handler and a small package of modules (about 40 files)."""
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    text = TEMPLATE_HEAD.format(runtime=runtime)
    for i in range(FUNCTIONS):
        text += FUNCTION.format(i=i)
        code = root / "src" / f"fn{i}"
        (code / "lib").mkdir(parents=True)
        (code / "app.py").write_text(f"from lib import m0\n\ndef handler(event, context):\n    return {i}\n")
        for m in range(40):
            (code / "lib" / f"m{m}.py").write_text(f"VALUE = {m}\n" + "# filler line\n" * 50)
        (code / "lib" / "__init__.py").write_text("")
    (root / "template.yaml").write_text(text)


def cli_available() -> bool:
    try:
        import samlite.template as t
    except ImportError:
        return False
    return hasattr(t, "load_stack") and hasattr(t, "find_template")


def time_process(cmd: list[str], cwd: Path, env: dict[str, str], before: object = None) -> float:
    if callable(before):
        before()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return elapsed


def median_of(runs: int, fn: object) -> float:
    return statistics.median(fn() for _ in range(runs))  # type: ignore[operator]


def run(quick: bool = False, runs: int | None = None) -> list[Row]:
    runs = runs or (3 if quick else 9)
    rows: list[Row] = []
    tmp = Path(tempfile.mkdtemp(prefix="samlite-bench-build-"))
    try:
        project = tmp / "project"
        generate(project)
        env = dict(os.environ, SAMLITE_HOME=str(tmp / "home"))
        edit_target = project / "src" / "fn0" / "app.py"
        counter = [0]

        def edit() -> None:
            counter[0] += 1
            edit_target.write_text(f"from lib import m0\n\ndef handler(event, context):\n    return {counter[0]}\n")

        note = f"median of {runs}; {FUNCTIONS} functions, ~42 files each"
        if cli_available():
            cmd = [sys.executable, "-m", "samlite", "build"]
            first = time_process(cmd, project, env)
            rows.append(Row(f"samlite build, first ({FUNCTIONS} functions)", first, "ms", note="one run"))
            no_change = median_of(runs, lambda: time_process(cmd, project, env))
            rows.append(Row("samlite build, no change, whole process", no_change, "ms", f"≤ {TARGET_MS:.0f} ms",
                            no_change <= TARGET_MS, SAM_CLI, SAM_CLI_MS, f"{SAM_CLI_MS / no_change:.1f}× faster",
                            note + "; SAM CLI figure measured on this machine earlier, not in this run"))
            one = median_of(runs, lambda: time_process(cmd, project, env, before=edit))
            rows.append(Row("samlite build, one function changed", one, "ms", f"≤ {TARGET_MS:.0f} ms",
                            one <= TARGET_MS, note=note))
        else:
            rows.append(Row("samlite build, whole process", None, "ms", note="skipped: no template loader yet"))

        # In-process: the build library alone, on a Stack made without the template loader.
        from samlite.package.builder import build_stack
        from samlite.template.model import Function, Stack

        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
        functions = {f"Fn{i}": Function(f"Fn{i}", f"fn{i}", f"arn:fn{i}", runtime, "app.handler",
                                        str(project / "src" / f"fn{i}")) for i in range(FUNCTIONS)}
        stack = Stack("bench", "us-east-1", "123456789012", str(project / "template.yaml"), str(project),
                      functions=functions)
        build_dir = tmp / "inproc-build"
        build_stack(stack, build_dir)

        def inproc(before: object = None) -> float:
            if callable(before):
                before()
            start = time.perf_counter()
            arts = build_stack(stack, build_dir)
            elapsed = (time.perf_counter() - start) * 1000
            assert sum(a.rebuilt for a in arts) == (1 if before else 0)
            return elapsed

        rows.append(Row("  build_stack in-process, no change", median_of(runs, inproc), "ms", note=note))
        rows.append(Row("  build_stack in-process, one changed", median_of(runs, lambda: inproc(edit)), "ms",
                        note=note))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    print_table(run(runs=args.runs), "build")


if __name__ == "__main__":
    main()

"""Peers that cannot run a function on this machine, listed with the reason instead of dropped.

SAM CLI (`sam local invoke` / `sam local start-api`) and LocalStack's Lambda both run functions in
Docker containers. This module checks, quickly, whether a Docker daemon answers and whether the
tools are installed, and reports one row per peer saying why it was not measured.

Run alone: `.venv/bin/python bench/bench_peers.py`; the suite calls `run(quick)`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, print_table


def docker_status() -> str:
    """'' when a Docker daemon answers, else why not."""
    if not shutil.which("docker"):
        return "no docker binary"
    try:
        proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                              timeout=10)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if proc.returncode != 0:
        return "no Docker daemon answers (`docker info` fails)"
    return ""


def run(quick: bool = False) -> list[Row]:
    docker = docker_status()
    sam = "" if shutil.which("sam") else "SAM CLI not installed"
    localstack = "" if shutil.which("localstack") else "LocalStack not installed"
    rows = []
    for peer, tool in (("SAM CLI sam local invoke", sam), ("SAM CLI sam local start-api", sam),
                       ("LocalStack Lambda", localstack)):
        reasons = [r for r in (docker, tool) if r]
        note = ("needs Docker to run a function: " + "; ".join(reasons)) if reasons else \
            "Docker is available here: not benchmarked yet"
        rows.append(Row(f"peer not measured: {peer}", None, "ms", "", None, peer, None, "", note))
    return rows


if __name__ == "__main__":
    print_table(run(), "peers that need Docker")

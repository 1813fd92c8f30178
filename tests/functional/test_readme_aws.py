"""Every `aws` command the READMEs show runs, as written, against a real engine.

Each code block is run as a new user would paste it: a clean environment (no ~/.aws, no AWS_*
variables) plus the block's own `export` lines; placeholders (<QueueUrl>, <queue>, <name>) are
filled from a deployed sqs-lambda example, and the documented port from the test engine's.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from samlite.testing import EngineHandle

REPO = Path(__file__).resolve().parents[2]
READMES = [REPO / "README.md", *sorted((REPO / "examples").glob("*/README.md"))]
DOCUMENTED_ENDPOINT = "http://127.0.0.1:3001"


def aws_blocks() -> list[tuple[str, list[str]]]:
    """(where, lines) for every fenced code block that runs the aws CLI."""
    found = []
    for readme in READMES:
        blocks: list[list[str]] = []
        inside = False
        for number, line in enumerate(readme.read_text().splitlines(), 1):
            if line.startswith("```"):
                inside = not inside
                if inside:
                    blocks.append([f"{readme.relative_to(REPO)}:{number}"])
            elif inside:
                blocks[-1].append(line.split("  #")[0].strip().removeprefix("$ "))
        for where, *lines in blocks:
            lines = [line for line in lines if line.startswith(("aws ", "export AWS_"))]
            if any(line.startswith("aws ") for line in lines):
                found.append((where, lines))
    return found


def aws_executable() -> str | None:
    beside = Path(sys.executable).parent / "aws"
    return str(beside) if beside.exists() else shutil.which("aws")


def test_the_readmes_show_aws_commands() -> None:
    blocks = aws_blocks()
    assert len(blocks) >= 3, blocks
    assert sum(line.startswith("aws ") for _, lines in blocks for line in lines) >= 6


@pytest.mark.skipif(aws_executable() is None, reason="the aws CLI is not installed")
def test_every_aws_command_in_the_readmes_runs(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    project = tmp_path / "sqs-lambda"
    shutil.copytree(REPO / "examples" / "sqs-lambda", project,
                    ignore=shutil.ignore_patterns(".samlite", "__pycache__", "samconfig.toml"))
    samlite_engine.deploy(project / "template.yaml", "readme")
    outputs = samlite_engine.outputs("readme")
    values = {"<QueueUrl>": outputs["QueueUrl"], "<queue>": outputs["QueueUrl"].rsplit("/", 1)[1],
              "<name>": outputs["FunctionName"], DOCUMENTED_ENDPOINT: samlite_engine.aws_url}
    home = tmp_path / "home"
    home.mkdir()
    for where, lines in aws_blocks():
        env = {"PATH": os.environ["PATH"], "HOME": str(home)}  # a new user's shell: no AWS settings at all
        for line in lines:
            for placeholder, value in values.items():
                line = line.replace(placeholder, value)
            words = shlex.split(line)
            if words[0] == "export":
                env.update(word.split("=", 1) for word in words[1:])
                continue
            result = subprocess.run([aws_executable(), *words[1:]], env=env, cwd=tmp_path, capture_output=True,
                                    text=True, timeout=60)
            assert result.returncode == 0, f"{where}: {line}\n{result.stderr}"

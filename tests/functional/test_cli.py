"""The CLI frame: help for every command, version, exit codes, --debug, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from samlite import __version__
from samlite.cli import COMMANDS


def samlite(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "samlite", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_top_level_help_lists_every_command() -> None:
    result = samlite("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    result = samlite(name, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "not built yet" not in result.stdout


def test_version() -> None:
    result = samlite("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_usage_errors_exit_2_without_traceback() -> None:
    for args in (("nope",), ("deploy", "--no-such-flag"), ("list", "nothing"), ("invoke",)):
        result = samlite(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_debug_is_accepted_before_and_after_the_command(tmp_path) -> None:
    broken = tmp_path / "t.yaml"
    broken.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queu\n")
    for args in (("--debug", "validate", "-t", str(broken)), ("validate", "-t", str(broken), "--debug")):
        result = samlite(*args)
        assert result.returncode == 3, (args, result.stderr)
        assert "did you mean 'AWS::SQS::Queue'" in result.stderr

"""SAM's `--parameter-overrides A=1 B=2`: the argv rewrite that lets click take several pairs."""

from __future__ import annotations

import pytest

from samlite.cli import expand_parameter_overrides


@pytest.mark.parametrize("args, expected", [
    (["deploy", "--parameter-overrides", "A=1", "B=2"],
     ["deploy", "--parameter-overrides", "A=1", "--parameter-overrides", "B=2"]),
    (["deploy", "--parameter-overrides=A=1", "B=2", "--stack-name", "s"],
     ["deploy", "--parameter-overrides=A=1", "--parameter-overrides", "B=2", "--stack-name", "s"]),
    # A positional argument (no '=') after the pairs stays positional.
    (["invoke", "--parameter-overrides", "A=1", "Hello"], ["invoke", "--parameter-overrides", "A=1", "Hello"]),
    # The one-string and SAM forms pass through untouched.
    (["deploy", "--parameter-overrides", "A=1 B=2"], ["deploy", "--parameter-overrides", "A=1 B=2"]),
    (["deploy", "--parameter-overrides", "ParameterKey=A,ParameterValue=1", "ParameterKey=B,ParameterValue=2"],
     ["deploy", "--parameter-overrides", "ParameterKey=A,ParameterValue=1",
      "--parameter-overrides", "ParameterKey=B,ParameterValue=2"]),
    # Nothing after `--` is touched; a trailing option without a value is left for click to report.
    (["x", "--", "--parameter-overrides", "A=1", "B=2"], ["x", "--", "--parameter-overrides", "A=1", "B=2"]),
    (["deploy", "--parameter-overrides"], ["deploy", "--parameter-overrides"]),
    (["deploy", "--parameter-overrides", "A=1", "--force", "B=2"],
     ["deploy", "--parameter-overrides", "A=1", "--force", "B=2"]),
])
def test_expand_parameter_overrides(args: list[str], expected: list[str]) -> None:
    assert expand_parameter_overrides(args) == expected

"""A SAM CLI user's habits: SAM's spellings, commands and flags work the way SAM's do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from samlite.testing import EngineHandle

TWO_PARAMS = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
  Owner:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Seen:
    Value: !Sub "${Stage}/${Owner}"
"""


def samlite(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "samlite", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env, input=input)


@pytest.fixture
def two_params(tmp_path: Path) -> Path:
    project = tmp_path / "params"
    project.mkdir()
    (project / "template.yaml").write_text(TWO_PARAMS)
    return project


@pytest.mark.parametrize("form", [
    ["Stage=prod", "Owner=ada"],                      # several arguments, as SAM CLI takes them
    ["Stage=prod Owner=ada"],                         # one string
    ['Stage="prod" Owner="ada"'],                     # as samconfig.toml writes it
    ["ParameterKey=Stage,ParameterValue=prod", "ParameterKey=Owner,ParameterValue=ada"],
])
def test_validate_takes_every_parameter_overrides_form(two_params: Path, form: list[str]) -> None:
    result = samlite("validate", "--parameter-overrides", *form, "-o", "json", cwd=two_params)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["warnings"] == []


def test_bad_parameter_overrides_are_usage_errors(two_params: Path) -> None:
    for form in (["Stage=prod", "Owner"], ["Stage=prod", "B@d=1"], ["'unclosed"]):
        result = samlite("validate", "--parameter-overrides", *form, cwd=two_params)
        assert result.returncode == 2, (form, result.stderr)
        assert "Traceback" not in result.stderr
    out_of_range = samlite("validate", "--parameter-overrides", "Stage=qa", "Owner=ada", cwd=two_params)
    assert out_of_range.returncode == 3 and "AllowedValues" in out_of_range.stderr


def test_deploy_with_several_parameter_overrides(samlite_engine: EngineHandle, two_params: Path) -> None:
    result = samlite_engine.cli("deploy", "--stack-name", "params", "--parameter-overrides", "Stage=prod",
                                "Owner=ada", "--no-confirm-changeset", cwd=two_params)
    assert result.returncode == 0, result.stderr
    assert samlite_engine.outputs("params")["Seen"] == "prod/ada"
    # Flags after the pairs are still flags; the last value of a key wins, as in SAM.
    again = samlite_engine.cli("deploy", "--parameter-overrides", "ParameterKey=Stage,ParameterValue=dev",
                               "Owner=bob", "--stack-name", "params", "--no-confirm-changeset", cwd=two_params)
    assert again.returncode == 0, again.stderr
    assert samlite_engine.outputs("params")["Seen"] == "dev/bob"

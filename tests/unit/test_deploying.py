"""One samconfig.toml resolution for every deploy-like command (deploy, dev, sync, local start-api)."""

from __future__ import annotations

from pathlib import Path

import pytest

from samlite.deploying import check_stack_name, default_stack_name, resolve_project
from samlite.errors import UsageError

TEMPLATE = "Resources: {}\n"


def _project(tmp_path: Path, samconfig: str | None = None, folder: str = "my_app 2") -> Path:
    project = tmp_path / folder
    project.mkdir()
    (project / "template.yaml").write_text(TEMPLATE)
    if samconfig is not None:
        (project / "samconfig.toml").write_text(samconfig)
    return project / "template.yaml"


SAVED = """version = 0.1
[default.deploy.parameters]
stack_name = "saved-stack"
region = "eu-west-1"
confirm_changeset = false
resolve_s3 = true
parameter_overrides = "Stage=\\"dev\\" Size=\\"1\\""
"""


def test_flags_win_over_samconfig(tmp_path: Path) -> None:
    template = _project(tmp_path, SAVED)
    project = resolve_project(str(template), "flag-stack", ("Size=2",), None, "default")
    assert project.stack_name == "flag-stack"
    assert project.overrides == {"Stage": "dev", "Size": "2"}
    assert project.region == "eu-west-1"
    assert project.confirm is False  # a saved "no" is honoured
    assert project.template_path == template.resolve()


def test_samconfig_fills_what_flags_leave_out(tmp_path: Path) -> None:
    project = resolve_project(str(_project(tmp_path, SAVED)), None, (), None, "default", confirm=True)
    assert (project.stack_name, project.confirm) == ("saved-stack", True)


def test_without_a_name_dev_takes_the_folders_and_deploy_none(tmp_path: Path) -> None:
    template = str(_project(tmp_path))
    assert resolve_project(template, None, (), None, "default", name_from_folder=True).stack_name == "my-app-2"
    assert resolve_project(template, None, (), None, "default").stack_name is None


@pytest.mark.parametrize("folder, name", [("app", "app"), ("2fast", "sam-app-2fast"), ("__", "sam-app"),
                                          ("a" * 200, "a" * 128)])
def test_default_stack_name_is_always_valid(tmp_path: Path, folder: str, name: str) -> None:
    assert default_stack_name(tmp_path / folder / "template.yaml") == name
    check_stack_name(name)


@pytest.mark.parametrize("bad", ["", "1abc", "a_b", "a" * 129, "stack name"])
def test_bad_stack_names_are_usage_errors(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError):
        check_stack_name(bad)
    if bad:  # an empty --stack-name means "not given": samconfig or the folder decide
        with pytest.raises(UsageError):
            resolve_project(str(_project(tmp_path)), bad, (), None, "default")


def test_a_broken_samconfig_is_a_clear_error(tmp_path: Path) -> None:
    template = _project(tmp_path, "version = [")
    with pytest.raises(UsageError):
        resolve_project(str(template), None, (), None, "default")

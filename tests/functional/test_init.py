"""`samlite init`: every starter copies into a working project; bad input changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from samlite.scaffold import STARTERS_DIR

REPO = Path(__file__).resolve().parents[2]
STARTERS = ["apigw-comprehend", "hello-python", "sqs-lambda"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAMLITE_HOME": str(cwd / ".home"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "samlite", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", STARTERS)
def test_init_validate_build(name: str, tmp_path: Path) -> None:
    created = run("init", "app", "--template", name, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "app"
    assert created.stdout.strip() == str(project.resolve())
    assert {"template.yaml", "README.md", "src/app.py", "events/event.json"} <= set(tree(project))
    assert tree(project) == {k: v for k, v in tree(STARTERS_DIR / name).items() if ".samlite" not in k}

    validated = run("validate", cwd=project)
    assert validated.returncode == 0, validated.stderr
    built = run("build", cwd=project)
    assert built.returncode == 0, built.stderr
    zips = list((project / ".samlite" / "build").glob("*.zip"))
    assert len(zips) == 1
    assert "app.py" in zipfile.ZipFile(zips[0]).namelist()


def test_init_default_directory_is_the_template_name(tmp_path: Path) -> None:
    result = run("init", "--template", "hello-python", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello-python" / "template.yaml").is_file()


def test_init_without_template_lists_starters(tmp_path: Path) -> None:
    result = run("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in STARTERS:
        assert name in result.stdout
    listed = json.loads(run("init", "--output", "json", cwd=tmp_path).stdout)
    assert [s["name"] for s in listed] == STARTERS
    assert all(s["description"] and "\n" not in s["description"] for s in listed)
    assert list(tmp_path.iterdir()) == []  # listing creates nothing


def test_unknown_template_exits_2_with_suggestion(tmp_path: Path) -> None:
    result = run("init", "app", "--template", "hello-pyton", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown template 'hello-pyton'" in result.stderr and "Did you mean hello-python?" in result.stderr
    assert not (tmp_path / "app").exists()
    other = run("init", "app", "--template", "zzz", cwd=tmp_path)
    assert other.returncode == 2 and "Available: apigw-comprehend, hello-python, sqs-lambda" in other.stderr


def test_non_empty_directory_is_refused_unless_force(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    (project / "template.yaml").write_text("# my own template\n")
    refused = run("init", "app", "--template", "sqs-lambda", cwd=tmp_path)
    assert refused.returncode == 1
    assert "is not empty; nothing was written" in refused.stderr and "--force" in refused.stderr
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt", "template.yaml"]
    assert (project / "template.yaml").read_text() == "# my own template\n"

    forced = run("init", "app", "--template", "sqs-lambda", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (project / "notes.txt").read_text() == "mine"
    assert (project / "template.yaml").read_bytes() == (STARTERS_DIR / "sqs-lambda" / "template.yaml").read_bytes()


def test_file_path_as_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run("init", "afile", "--template", "hello-python", cwd=tmp_path)
    assert result.returncode == 1
    assert "exists and is not a folder" in result.stderr
    assert (tmp_path / "afile").read_text() == "x"


def test_templates_folder_is_the_packaged_starters() -> None:
    # The repo's templates/ is a symlink to the package data, so there is one copy to maintain.
    assert (REPO / "templates").resolve() == STARTERS_DIR
    # The example projects and their starters stay identical (the README of each is shared too).
    for name in ("sqs-lambda", "apigw-comprehend"):
        example = {k: v for k, v in tree(REPO / "examples" / name).items() if ".samlite" not in k
                   and "__pycache__" not in k and k != "samconfig.toml"}
        assert example == tree(STARTERS_DIR / name), name

"""Pure parts of the dev loop: which paths trigger a redeploy, and how syntax errors read."""

from __future__ import annotations

from pathlib import Path

import pytest

from samlite.devloop import ignored, syntax_errors


@pytest.mark.parametrize("path", [
    ".samlite/build/Fn.zip", "src/__pycache__/app.cpython-312.pyc", "src/app.pyc", "src/.app.py.swp",
    "src/app.py.swx", "src/app.py~", "src/.#app.py", "src/4913", ".git/index", "node_modules/x/index.js",
    "samconfig.toml",
])
def test_litter_and_build_output_are_ignored(path: str) -> None:
    assert ignored(Path(path))


@pytest.mark.parametrize("path", ["src/app.py", "template.yaml", "src/lib/util.py", "src/data.json",
                                  "src/requirements.txt"])
def test_sources_are_watched(path: str) -> None:
    assert not ignored(Path(path))


def test_syntax_error_names_file_line_and_points_at_it(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    bad = tmp_path / "src" / "app.py"
    bad.write_text("def handler(event, context):\n    return {'a': 1\n")
    good = tmp_path / "src" / "ok.py"
    good.write_text("x = 1\n")
    problems = syntax_errors([bad, good, tmp_path / "src" / "missing.py", tmp_path / "notes.txt"], tmp_path)
    assert len(problems) == 1
    first = problems[0].splitlines()[0]
    assert first.startswith("SyntaxError in src/app.py:2:"), first
    assert "return {'a': 1" in problems[0] and "^" in problems[0]


def test_indentation_and_null_bytes_are_reported(tmp_path: Path) -> None:
    indent = tmp_path / "a.py"
    indent.write_text("def f():\nreturn 1\n")
    nul = tmp_path / "b.py"
    nul.write_bytes(b"x = 1\x00\n")
    problems = syntax_errors([indent, nul])
    assert len(problems) == 2
    assert problems[0].startswith("IndentationError in ")

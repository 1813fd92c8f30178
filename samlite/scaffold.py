"""Starter projects for `samlite init`: list them, and copy one into a folder.

The canonical copies live in `samlite/starters/<name>/` and ship as package data, so they are
found the same way from a source checkout (`templates/` at the repo root is a symlink to that
folder) and from an installed wheel.
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass
from pathlib import Path

from samlite.errors import SamliteError, UsageError

STARTERS_DIR = Path(__file__).resolve().parent / "starters"
# Never copied: build output, bytecode, saved deploy answers, editor litter.
_SKIP_DIRS = frozenset({".samlite", ".aws-sam", "__pycache__", ".pytest_cache"})
_SKIP_FILES = frozenset({"samconfig.toml", ".DS_Store"})
_SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


@dataclass(frozen=True)
class Starter:
    name: str
    description: str
    path: Path


def _describe(path: Path) -> str:
    """The first prose line of the starter's README (the line after its `# title`)."""
    try:
        lines = (path / "README.md").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            return line.rstrip(":")
    return ""


def list_starters(root: Path = STARTERS_DIR) -> list[Starter]:
    """Every starter project, sorted by name."""
    if not root.is_dir():
        raise SamliteError(f"the starter templates folder is missing: {root}",
                           hint="Reinstall samlite; its package data is incomplete.")
    return [Starter(p.name, _describe(p), p) for p in sorted(root.iterdir())
            if p.is_dir() and (p / "template.yaml").is_file()]


def find_starter(name: str, root: Path = STARTERS_DIR) -> Starter:
    """The starter called `name`; a usage error with close matches when there is none."""
    starters = {s.name: s for s in list_starters(root)}
    if name in starters:
        return starters[name]
    close = difflib.get_close_matches(name, list(starters), n=3, cutoff=0.4)
    hint = (f"Did you mean {' or '.join(close)}? " if close else "") + \
        f"Available: {', '.join(starters)} (run `samlite init` without --template to list them)."
    raise UsageError(f"unknown template {name!r}", hint=hint)


def _skipped(path: Path) -> bool:
    return path.name in _SKIP_FILES or path.name.endswith(_SKIP_SUFFIXES)


def copy_starter(starter: Starter, dest: Path, force: bool = False) -> list[Path]:
    """Copy `starter` into `dest` (created when missing); return the files written, relative.

    An existing non-empty `dest` is refused unless `force`, which overwrites the starter's files
    and leaves any other file alone. Nothing is written when the checks fail.
    """
    if dest.exists() and not dest.is_dir():
        raise SamliteError(f"{dest} exists and is not a folder",
                           hint="Pass a folder path (it is created when missing).")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise SamliteError(f"{dest} is not empty; nothing was written",
                           hint="Choose a new folder, or pass --force to overwrite the starter's files there.")
    files = []
    for src in sorted(starter.path.rglob("*")):
        rel = src.relative_to(starter.path)
        if any(part in _SKIP_DIRS for part in rel.parts) or not src.is_file() or _skipped(src):
            continue
        files.append(rel)
    for rel in files:
        target = dest / rel
        if target.exists() and target.is_dir():
            raise SamliteError(f"{target} is a folder; the starter needs a file there")
    dest.mkdir(parents=True, exist_ok=True)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # copyfile, not copy2: fresh mtimes, and read-only package files become writable.
        shutil.copyfile(starter.path / rel, target)
    return files

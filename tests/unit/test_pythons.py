"""Interpreter probes are remembered across processes (each costs a process start)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from samlite import pythons


@pytest.fixture
def fake_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("SAMLITE_CACHE_DIR", str(tmp_path / "cache"))
    calls = tmp_path / "calls"
    exe = tmp_path / "python3.99"
    exe.write_text(f"#!/bin/sh\necho run >> {calls}\necho 3.99\n")
    exe.chmod(0o755)
    return exe, calls


def _fresh_process() -> None:
    """What a new CLI process starts with: nothing cached in memory."""
    pythons.probe.cache_clear()
    pythons._probe_cache.cache_clear()


def _runs(calls: Path) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_a_probe_is_run_once_then_read_from_the_cache(fake_python: tuple[Path, Path]) -> None:
    exe, calls = fake_python
    _fresh_process()
    assert pythons.probe(str(exe)) == (3, 99)
    _fresh_process()
    assert pythons.probe(str(exe)) == (3, 99)
    assert _runs(calls) == 1


def test_a_changed_interpreter_is_probed_again(fake_python: tuple[Path, Path]) -> None:
    exe, calls = fake_python
    _fresh_process()
    pythons.probe(str(exe))
    exe.write_text(exe.read_text().replace("3.99", "3.98"))
    os.utime(exe, (time.time() + 5, time.time() + 5))
    _fresh_process()
    assert pythons.probe(str(exe)) == (3, 98)
    assert _runs(calls) == 2


def test_a_failing_probe_is_trusted_for_a_day_only(fake_python: tuple[Path, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    exe, calls = fake_python
    exe.write_text(f"#!/bin/sh\necho run >> {calls}\nexit 127\n")
    _fresh_process()
    assert pythons.probe(str(exe)) is None
    _fresh_process()
    assert pythons.probe(str(exe)) is None and _runs(calls) == 1
    monkeypatch.setattr(pythons, "NEGATIVE_TTL_S", 0.0)
    _fresh_process()
    assert pythons.probe(str(exe)) is None and _runs(calls) == 2


def test_a_corrupt_cache_file_is_ignored(fake_python: tuple[Path, Path], tmp_path: Path) -> None:
    exe, _ = fake_python
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "pythons.json").write_text("{not json")
    _fresh_process()
    assert pythons.probe(str(exe)) == (3, 99)
    assert pythons.probe(str(tmp_path / "missing")) is None

"""Find the Python interpreter a `pythonX.Y` Lambda runtime asks for, wherever it is installed.

Looked for, in order: `pythonX.Y` on PATH, pyenv's versions folder ($PYENV_ROOT or ~/.pyenv),
`uv python find X.Y` when uv is installed, then /usr/local/bin and /usr/bin. pyenv shims exist
for versions that are not selected and fail with "command not found", so a candidate counts only
once it has run and reported the right version. Used by the build (pip installs dependencies
for the requested version) and by the engine (the interpreter that runs the function).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

_PYTHON_RUNTIME = re.compile(r"python(\d+)\.(\d+)")
WHERE = "PATH, pyenv's versions, uv's Pythons, /usr/local/bin and /usr/bin"


def version_of(runtime: str) -> tuple[int, int] | None:
    match = _PYTHON_RUNTIME.fullmatch(runtime or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@lru_cache(maxsize=None)
def probe(executable: str) -> tuple[int, int] | None:
    """(major, minor) of an executable if it really starts, else None.

    Starting an interpreter (or a pyenv shim that fails) costs 20-150 ms, and every CLI process
    would pay it again: answers are kept in the download cache, keyed by the file's identity.
    A "no" is trusted for a day only, because a shim's file does not change when the version it
    points to is installed."""
    try:
        st = os.stat(executable)
    except OSError:
        return None
    stamp = [st.st_ino, st.st_mtime_ns, st.st_size]
    cache = _probe_cache()
    known = cache.get(executable)
    if known and known["stamp"] == stamp and (known["version"] or time.time() - known["at"] < NEGATIVE_TTL_S):
        return tuple(known["version"]) if known["version"] else None
    found = _run_probe(executable)
    cache[executable] = {"stamp": stamp, "version": list(found) if found else None, "at": time.time()}
    _save_probe_cache(cache)
    return found


NEGATIVE_TTL_S = 86400.0


def _run_probe(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            major, minor = out.stdout.strip().split(".")
            return int(major), int(minor)
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    return None


def _cache_path() -> Path:
    from samlite.config import load_settings

    return load_settings().cache_dir / "pythons.json"


@lru_cache(maxsize=1)
def _probe_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_probe_cache(cache: dict[str, Any]) -> None:
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(path)  # atomic: concurrent CLI processes never read half a file
    except OSError:
        pass  # a read-only cache only costs the probes


def _release(path: str) -> list[int]:
    """3.12.10 -> [3, 12, 10], from .../versions/3.12.10/bin/python3.12."""
    return [int(x) if x.isdigit() else -1 for x in path.split(os.sep)[-3].split(".")]


def _candidates(runtime: str, wanted: tuple[int, int]) -> list[str]:
    name = f"python{wanted[0]}.{wanted[1]}"
    found = [path for path in (shutil.which(runtime),) if path]
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    # Newest patch release first: 3.12.10 before 3.12.9.
    pyenv = glob.glob(os.path.join(root, "versions", f"{wanted[0]}.{wanted[1]}.*", "bin", name))
    found += sorted(pyenv, key=_release, reverse=True)
    uv = shutil.which("uv")
    if uv:
        try:
            out = subprocess.run([uv, "python", "find", f"{wanted[0]}.{wanted[1]}"], capture_output=True, text=True,
                                 timeout=10)
            if out.returncode == 0:
                found.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    found += [os.path.join(folder, name) for folder in ("/usr/local/bin", "/usr/bin")]
    return [path for path in found if path]


@lru_cache(maxsize=None)
def find_python(runtime: str) -> str | None:
    """A working interpreter of exactly the runtime's version, or None."""
    wanted = version_of(runtime)
    if wanted is None:
        return None
    if wanted == sys.version_info[:2]:
        return sys.executable
    for path in _candidates(runtime, wanted):
        if os.access(path, os.X_OK) and probe(path) == wanted:
            return path
    return None


def mismatch_warning(runtime: str | None) -> str | None:
    """What to tell the user when a Python runtime will run on another version, else None."""
    if not runtime or version_of(runtime) is None or find_python(runtime) is not None:
        return None
    return (f"runtime {runtime}: no Python {runtime[6:]} found ({WHERE}); it runs on the closest Python "
            "installed, so version-specific behaviour may differ")

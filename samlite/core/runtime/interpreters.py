"""Lambda Runtime -> a local interpreter that really runs.

Python runtimes run bootstrap.py over the worker protocol; `nodejs*` and `provided*` runtimes
speak the Lambda Runtime API (runtime_api.py) and resolve to an Interpreter whose `kind` says so:
`node` is the `node` on PATH (one warning when its major differs from the Runtime), `provided`
runs the function's own `bootstrap` executable.

`python3.12` maps to a `python3.12` on PATH when it starts (pyenv shims exist for versions that
are not installed and fail with "command not found", so every candidate is probed once and the
answer cached). Otherwise the closest working python3.* is used, with one warning per runtime.
A runtime whose version equals the engine's own runs on the engine's interpreter, which lets
workers be forked from the pre-imported zygote.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from samlite.pythons import find_python

log = logging.getLogger("samlite.engine")

_PYTHON_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")
_NODE_RUNTIME = re.compile(r"^nodejs(\d+)\.x$")
PROVIDED_RUNTIMES = ("provided.al2023", "provided.al2", "provided")


class UnsupportedRuntime(Exception):
    """The runtime family cannot run here (yet): nodejs*, provided*, java*, .."""


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int]
    # True when this is the engine's own interpreter: workers may be forked from the zygote.
    is_engine: bool
    # "python" (worker protocol), "node" or "provided" (both through the Runtime API).
    kind: str = "python"


_probe_cache: dict[str, tuple[int, int] | None] = {}
_resolved: dict[str, Interpreter] = {}
_noted_arm = False


def engine_interpreter() -> Interpreter:
    return Interpreter(sys.executable, (sys.version_info[0], sys.version_info[1]), True)


def engine_site_packages() -> list[str]:
    """The engine venv's site-packages: appended LAST to a worker's sys.path so `import boto3`
    works as on Lambda even under another interpreter."""
    paths = [p for p in site.getsitepackages() if os.path.isdir(p)]
    user = site.getusersitepackages()
    if site.ENABLE_USER_SITE and isinstance(user, str) and os.path.isdir(user):
        paths.append(user)
    return paths


def probe(executable: str) -> tuple[int, int] | None:
    """(major, minor) of an executable if it really starts, else None (cached)."""
    if executable in _probe_cache:
        return _probe_cache[executable]
    version: tuple[int, int] | None = None
    try:
        out = subprocess.run([executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            major, minor = out.stdout.strip().split(".")
            version = (int(major), int(minor))
    except (OSError, ValueError, subprocess.SubprocessError):
        version = None
    _probe_cache[executable] = version
    return version


def _candidates() -> dict[tuple[int, int], str]:
    """Working python3.N executables on PATH, by version (first on PATH wins)."""
    found: dict[tuple[int, int], str] = {}
    seen: set[str] = set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in sorted(names):
            if not re.fullmatch(r"python3\.\d+", name) or name in seen:
                continue
            seen.add(name)
            full = os.path.join(folder, name)
            version = probe(full)
            if version and version not in found:
                found[version] = full
    return found


def resolve(runtime: str, architectures: tuple[str, ...] = ("x86_64",)) -> Interpreter:
    """The interpreter for `runtime`; raises UnsupportedRuntime for non-Python runtimes."""
    global _noted_arm
    if "arm64" in architectures and not _noted_arm:
        _noted_arm = True
        log.info("arm64 functions run on the host architecture (%s)", os.uname().machine)
    if runtime in _resolved:
        return _resolved[runtime]
    match = _PYTHON_RUNTIME.match(runtime)
    if not match:
        chosen = _resolve_runtime_api(runtime)
        _resolved[runtime] = chosen
        return chosen
    wanted = (int(match.group(1)), int(match.group(2)))
    own = engine_interpreter()
    if wanted == own.version:
        chosen = own
    else:
        exact = find_python(runtime)  # PATH, pyenv's versions, uv, /usr/local/bin, /usr/bin
        if exact and probe(exact) == wanted:
            chosen = Interpreter(exact, wanted, False)
        else:
            found = _candidates()
            found.setdefault(own.version, own.path)
            # Closest minor version; on a tie prefer the newer one.
            best = min(found, key=lambda v: (abs(v[1] - wanted[1]) + 100 * abs(v[0] - wanted[0]), -v[1]))
            chosen = own if best == own.version else Interpreter(found[best], best, False)
            log.warning("runtime %s: no working %s on PATH, using Python %d.%d (%s)",
                        runtime, runtime, best[0], best[1], chosen.path)
    _resolved[runtime] = chosen
    return chosen


def _resolve_runtime_api(runtime: str) -> Interpreter:
    """nodejsNN.x -> `node` on PATH; provided* -> the function's own bootstrap."""
    if runtime in PROVIDED_RUNTIMES:
        return Interpreter("", (0, 0), False, kind="provided")
    match = _NODE_RUNTIME.match(runtime)
    if not match:
        raise UnsupportedRuntime(
            f"runtime {runtime} is not emulated by samlite: the function is deployed but cannot be invoked "
            "locally (python3.x, nodejs*.x and provided.* with a bootstrap run)")
    wanted = int(match.group(1))
    node = shutil.which(f"node{wanted}") or shutil.which("node")
    major = _node_major(node) if node else None
    if node is None or major is None:
        raise UnsupportedRuntime(f"runtime {runtime!r} needs Node.js: no working `node` on PATH")
    if major != wanted:
        log.warning("runtime %s: no Node.js %d on PATH, using Node.js %d (%s)", runtime, wanted, major, node)
    return Interpreter(node, (major, 0), False, kind="node")


def _node_major(executable: str) -> int | None:
    if executable in _probe_cache:
        cached = _probe_cache[executable]
        return cached[0] if cached else None
    version: tuple[int, int] | None = None
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10)
        found = re.match(r"v(\d+)\.(\d+)", out.stdout.strip())
        if out.returncode == 0 and found:
            version = (int(found.group(1)), int(found.group(2)))
    except (OSError, subprocess.SubprocessError):
        version = None
    _probe_cache[executable] = version
    return version[0] if version else None


def node_bootstrap_path() -> Path:
    return Path(__file__).with_name("node") / "bootstrap.mjs"


def bootstrap_path() -> Path:
    return Path(__file__).with_name("bootstrap.py")

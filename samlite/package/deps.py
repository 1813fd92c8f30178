"""Third-party dependencies of a function: `pip install --target` and `npm install`, cached.

An install is keyed by sha256(manifest text + runtime + platform) and lives in
`<cache>/<key>/`, whose contents are exactly what goes at the root of the zip (site-packages
for pip, `node_modules/` for npm). The cache entry is installed into a temporary folder and
renamed into place, so a failed or interrupted install leaves nothing behind, and a code-only
rebuild never runs pip or npm again.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from samlite.errors import BuildError

PIP_MANIFEST = "requirements.txt"
NPM_MANIFEST = "package.json"
_NPM_SIDE_FILES = ("package-lock.json", "npm-shrinkwrap.json", ".npmrc")
_TAIL_LINES = 15
INSTALL_TIMEOUT = 900.0


@dataclass(frozen=True)
class DepsSpec:
    """What to install for one build unit: the tool, the manifest folder and the cache key."""

    tool: str  # "pip" | "npm"
    source_dir: Path
    runtime: str
    key: str
    # devDependencies too: a bundler (esbuild) needs what the code imports at build time.
    dev: bool = False


def default_cache_dir() -> Path:
    from samlite.config import load_settings

    return load_settings().cache_dir / "deps"


def _platform_tag() -> str:
    return f"{sys.platform}-{platform.machine()}"


def deps_spec(code_dir: Path, runtime: str | None) -> DepsSpec | None:
    """The dependency install a code folder needs, or None (no manifest, or not our runtime)."""
    if not runtime:
        return None
    if runtime.startswith("python"):
        manifest = code_dir / PIP_MANIFEST
        if not manifest.is_file():
            return None
        blob = b"pip\0" + manifest.read_bytes()
        tool = "pip"
    elif runtime.startswith("nodejs"):
        manifest = code_dir / NPM_MANIFEST
        # A node_modules the user installed themselves is shipped as is (see builder).
        if not manifest.is_file() or (code_dir / "node_modules").is_dir():
            return None
        blob = b"npm\0" + manifest.read_bytes()
        for side in _NPM_SIDE_FILES:
            if (code_dir / side).is_file():
                blob += f"\0{side}\0".encode() + (code_dir / side).read_bytes()
        tool = "npm"
    else:
        return None
    blob += f"\0{runtime}\0{_platform_tag()}".encode()
    return DepsSpec(tool=tool, source_dir=code_dir, runtime=runtime,
                    key=hashlib.sha256(blob).hexdigest())


def _targeted_mark(folder: Path) -> Path:
    """Beside a cache entry (not in it, so it is not zipped): installed as wheels for the version."""
    return folder.with_name(folder.name + ".python-version")


def installed_for_runtime(folder: Path) -> bool:
    """Whether a pip cache entry was installed for the Runtime's version without its interpreter."""
    return _targeted_mark(folder).is_file()


def python_for_runtime(runtime: str) -> tuple[str, bool]:
    """The interpreter for a Python runtime: `(path, exact)`; sys.executable when none is found
    (PATH, pyenv's versions, uv's Pythons, /usr/local/bin, /usr/bin: see samlite.pythons)."""
    from samlite.pythons import find_python

    found = find_python(runtime)
    return (found, True) if found else (sys.executable, False)


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-_TAIL_LINES:])


# While pip or npm runs, a live status line on stderr (what is being installed, elapsed time), in a
# terminal only: scripts and CI logs stay quiet. `samlite build` turns it off while it draws its
# own progress bar.
status_line = True
_STEP = re.compile(r"^\s*(Collecting|Downloading|Installing collected packages:|Building wheel for|added)\s*(.*)")


def _run(cmd: list[str], cwd: Path, owner: str, tool: str) -> None:
    env = dict(os.environ, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    try:
        if status_line and sys.stderr.isatty():
            proc = _run_with_status(cmd, cwd, env, owner, tool)
        else:
            proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                                  errors="replace", timeout=INSTALL_TIMEOUT)
    except FileNotFoundError:
        raise BuildError(f"{owner}: cannot run {cmd[0]!r} to install dependencies",
                         hint=f"Install {tool} or vendor the dependencies into the code folder.") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{owner}: {tool} install timed out after {INSTALL_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        tail = _tail(proc.stdout + "\n" + proc.stderr)
        raise BuildError(f"{owner}: {tool} install failed (exit {proc.returncode}):\n{tail}",
                         hint="Fix the dependency manifest, then run `samlite build` again.")


def _run_with_status(cmd: list[str], cwd: Path, env: dict[str, str], owner: str,
                     tool: str) -> subprocess.CompletedProcess[str]:
    """Run `cmd`, redrawing one stderr line with its latest step; no escape codes (TERM=dumb)."""
    import threading
    import time

    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    lines: list[str] = []
    step = ["starting"]

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            match = _STEP.match(line)
            if match:
                step[0] = f"{match.group(1).rstrip(':').lower()} {match.group(2).strip()}"

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = time.monotonic()
    width = max(20, shutil.get_terminal_size().columns - 1)
    try:
        while True:
            done = proc.poll() is not None
            if done:  # one last redraw with the last step, even when it came between two redraws
                reader.join(timeout=5)
            elapsed = time.monotonic() - started
            if elapsed > INSTALL_TIMEOUT and not done:
                proc.kill()
                raise subprocess.TimeoutExpired(cmd, INSTALL_TIMEOUT)
            text = f"{owner}: {tool} {step[0]} ({elapsed:.1f} s)"
            sys.stderr.write("\r" + text[:width].ljust(width))
            sys.stderr.flush()
            if done:
                break
            time.sleep(0.1)
    finally:
        sys.stderr.write("\r" + " " * width + "\r")  # leave the terminal as it was
        sys.stderr.flush()
        reader.join(timeout=5)
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(lines), "")


def ensure_deps(spec: DepsSpec, cache_dir: Path, owner: str) -> tuple[Path, bool]:
    """Return `(folder, installed_now)`; runs pip or npm only when the cache has no entry.

    pip installs for the Runtime's Python version: with that interpreter when one is found, else
    with this one asking for wheels of that version (`--python-version`); only when no such wheels
    exist does it install for this interpreter's version (the builder then warns)."""
    final = cache_dir / spec.key
    if final.is_dir():
        return final, False
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.key[:16]}.", suffix=".tmp", dir=cache_dir))
    try:
        if spec.tool == "pip":
            python, exact = python_for_runtime(spec.runtime)
            install = [python, "-m", "pip", "install", "-r", str(spec.source_dir / PIP_MANIFEST),
                       "--target", str(tmp), "--no-compile", "--disable-pip-version-check", "--no-input"]
            wanted = spec.runtime.removeprefix("python")
            _targeted_mark(final).unlink(missing_ok=True)
            if exact or not re.fullmatch(r"\d+\.\d+", wanted):
                _run(install, cwd=spec.source_dir, owner=owner, tool="pip")
            else:
                try:
                    _run(install + ["--python-version", wanted, "--only-binary=:all:", "--implementation", "cp"],
                         cwd=spec.source_dir, owner=owner, tool="pip")
                    _targeted_mark(final).write_text(wanted)
                except BuildError:  # a dependency without wheels for that version: build it here
                    shutil.rmtree(tmp, ignore_errors=True)
                    tmp.mkdir()
                    _run(install, cwd=spec.source_dir, owner=owner, tool="pip")
        else:
            shutil.copy2(spec.source_dir / NPM_MANIFEST, tmp / NPM_MANIFEST)
            for side in _NPM_SIDE_FILES:
                if (spec.source_dir / side).is_file():
                    shutil.copy2(spec.source_dir / side, tmp / side)
            npm = shutil.which("npm") or "npm"
            _run([npm, "install", "--include=dev" if spec.dev else "--omit=dev", "--no-audit", "--no-fund",
                  "--no-save"],
                 cwd=tmp, owner=owner, tool="npm")
            # Only node_modules belongs to the cache entry; the manifests come from the code.
            for name in (NPM_MANIFEST, *_NPM_SIDE_FILES):
                (tmp / name).unlink(missing_ok=True)
            (tmp / "node_modules").mkdir(exist_ok=True)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # a concurrent build installed it first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, True

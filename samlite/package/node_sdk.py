"""The Node runtime's AWS SDK v3: which `@aws-sdk/*` packages a function imports, installed once.

Lambda ships every v3 package (hundreds of clients). samlite installs only what functions
import: the builder scans a nodejs18+ function's own JavaScript for `@aws-sdk/...` specifiers
and installs the missing ones into the one shared, pinned copy (`core.runtime.node_sdk`). One
client costs about 8 s and 22 MB the first time, later builds nothing; a fixed set of a dozen
common clients would cost 20 s and 130 MB up front and still miss the rest.

A package the function bundles itself (its node_modules, or its package.json dependencies) is
not installed: its own copy wins at run time anyway. A failed install is a warning, not a build
error: the function then fails at import, as it would on a runtime without that package.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

from samlite.core.runtime.node_sdk import NODE_SDK_MIN_MAJOR, NODE_SDK_SNAPSHOT, node_sdk_root

_SPECIFIER = re.compile(rb"""["'`](@aws-sdk/[a-z0-9][a-z0-9._-]*)(?:/[^"'`\s]*)?["'`]""")
_SOURCE_EXTS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx")
_MAX_SCAN = 5 * 1024 * 1024  # bytes per file: bigger files are bundles that carry their deps
INSTALL_TIMEOUT = 600.0


def wants_sdk(runtime: str | None) -> bool:
    match = re.fullmatch(r"nodejs(\d+)\.x", runtime or "")
    return match is not None and int(match.group(1)) >= NODE_SDK_MIN_MAJOR


def scan(blobs: Iterable[bytes]) -> set[str]:
    """`@aws-sdk/<name>` packages named in string literals of the given sources."""
    found: set[str] = set()
    for blob in blobs:
        if b"@aws-sdk/" in blob:
            found.update(m.group(1).decode() for m in _SPECIFIER.finditer(blob))
    return found


def folder_sources(root: Path, arcnames: Iterable[str]) -> Iterator[bytes]:
    """The function's own JavaScript/TypeScript files (not node_modules) under `root`."""
    for name in arcnames:
        if name.endswith(_SOURCE_EXTS) and not name.startswith("node_modules/") and "/node_modules/" not in name:
            with contextlib.suppress(OSError):
                path = root / name
                if path.stat().st_size <= _MAX_SCAN:
                    yield path.read_bytes()


def zip_sources(path: Path) -> Iterator[bytes]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if name.endswith(_SOURCE_EXTS) and "node_modules/" not in name and info.file_size <= _MAX_SCAN:
                yield zf.read(info)


def bundled(root: Path | None, names: set[str]) -> set[str]:
    """Packages the function brings itself: in its node_modules or its package.json."""
    own = {name[len("node_modules/"):].rsplit("/package.json", 1)[0] for name in names
           if name.startswith("node_modules/@aws-sdk/") and name.count("/") == 3 and name.endswith("/package.json")}
    if root is not None and (root / "package.json").is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            manifest = json.loads((root / "package.json").read_text())
            own |= {k for k in (manifest.get("dependencies") or {}) if k.startswith("@aws-sdk/")}
    return own


def installed(cache_dir: Path, package: str) -> bool:
    return (node_sdk_root(cache_dir) / "node_modules" / package / "package.json").is_file()


def ensure(packages: Iterable[str], cache_dir: Path) -> str | None:
    """Install what is missing of `packages` into the pinned SDK; None, or a warning to show."""
    missing = sorted(p for p in set(packages) if not installed(cache_dir, p))
    if not missing:
        return None
    root = node_sdk_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one npm at a time in this folder, across processes
        missing = [p for p in missing if not installed(cache_dir, p)]
        if not missing:
            return None
        error = _install(root, missing)
        if error is not None and len(missing) > 1:
            # One bad name (a typo, a package npm does not have) must not block the others.
            failures = [p for p in missing if _install(root, [p]) is not None]
            if not failures:
                return None
            missing = failures
        if error is not None:
            return (f"could not install {', '.join(missing)} for the Node runtime's AWS SDK "
                    f"(npm, snapshot {NODE_SDK_SNAPSHOT}): {error}")
    return None


def _install(root: Path, packages: list[str]) -> str | None:
    manifest = root / "package.json"
    try:
        current = json.loads(manifest.read_text())
    except (OSError, ValueError):
        current = {}
    deps = dict(current.get("dependencies") or {})
    deps.update(dict.fromkeys(packages, "^3"))
    manifest.write_text(json.dumps({"private": True, "dependencies": dict(sorted(deps.items()))}, indent=2))
    npm = shutil.which("npm")
    if npm is None:
        manifest.write_text(json.dumps(current or {"private": True}, indent=2))
        return "npm is not on PATH"
    try:
        proc = subprocess.run([npm, "install", "--omit=dev", "--no-audit", "--no-fund", "--no-package-lock",
                               f"--before={NODE_SDK_SNAPSHOT}"],
                              cwd=root, capture_output=True, text=True, errors="replace", timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc = None
    if proc is not None and proc.returncode == 0 and all(
            (root / "node_modules" / p / "package.json").is_file() for p in packages):
        return None
    manifest.write_text(json.dumps(current or {"private": True}, indent=2))  # forget what failed
    if proc is None:
        return f"timed out after {INSTALL_TIMEOUT:.0f} s"
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    return " / ".join(lines[-3:]) or f"exit {proc.returncode}"

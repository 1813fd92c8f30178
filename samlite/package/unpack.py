"""Safe, atomic extraction of an artifact zip for the engine.

Every entry name is checked before anything is written (zip slip: absolute names, drive letters
and `..` components are refused), executable bits recorded in the zip are restored, and the tree
is extracted into a temporary sibling directory that is renamed onto `dest` in one step. A
reader therefore sees either no `dest` or a complete one; an existing `dest` is left alone,
because artifact folders are content-addressed by the caller.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from samlite.errors import BuildError

_CHUNK = 1 << 20


def unsafe_entry_reason(name: str) -> str | None:
    """Why a zip entry name would escape the extraction root, or None when it is safe."""
    if not name:
        return "empty name"
    if "\x00" in name:
        return "NUL byte in name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) >= 2 and norm[1] == ":"):
        return "absolute path"
    if ".." in norm.split("/"):
        return "'..' component"
    return None


def check_entries(zf: zipfile.ZipFile, label: str) -> None:
    """Raise BuildError naming the first entry of `zf` that would escape the target folder."""
    for info in zf.infolist():
        reason = unsafe_entry_reason(info.filename)
        if reason:
            raise BuildError(f"{label}: zip entry {info.filename!r} is unsafe ({reason}); refusing it",
                             hint="Rebuild the zip with paths relative to its root.")


def _mode(info: zipfile.ZipInfo, umask: int) -> int:
    unix = info.external_attr >> 16
    if stat.S_ISLNK(unix):
        return 0o644 & ~umask
    return (0o755 if unix & 0o111 else 0o644) & ~umask


def _umask() -> int:
    """The process umask (the engine's is 077: unpacked code stays private to its user)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def unpack_artifact(zip_path: Path, dest: Path) -> None:
    """Extract `zip_path` into `dest` atomically; a no-op when `dest` already exists."""
    dest = Path(dest)
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    umask = _umask()
    try:
        try:
            zf = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BuildError(f"{zip_path}: not a readable zip file ({exc})") from None
        with zf:
            check_entries(zf, str(zip_path))
            for info in zf.infolist():
                target = tmp / info.filename.replace("\\", "/")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                # A symlink entry is written as a plain file holding the link text, as zipfile
                # does: it can never point outside the tree.
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
                os.chmod(target, _mode(info, umask))
        os.chmod(tmp, 0o755 & ~umask)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.exists():
                raise
            # Another process finished the same extraction first; its copy is identical.
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

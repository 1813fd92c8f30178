"""Deterministic zip archives and their sha256.

The same input files always give the same bytes: entries are sorted by name, every entry carries
the fixed DOS timestamp 1980-01-01 00:00:00, no extra fields, Unix permissions normalised to
0o644 (0o755 for executables) and one compression level. File contents are streamed, never read
whole, and the archive is written to a temporary file and renamed into place, so a failed build
never leaves a half-written zip behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
EXEC_MODE = 0o755
# zlib's default level: a good size/speed trade-off for code bundles.
COMPRESS_LEVEL = 6
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipSource:
    """One archive entry: file contents come from `path` (streamed) or from `data`."""

    arcname: str
    path: str | None = None
    data: bytes | None = None
    executable: bool = False


@dataclass(frozen=True)
class ZipStats:
    sha256: str
    zipped_size: int
    unzipped_size: int
    file_count: int


def file_sha256(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _zip_info(arcname: str, executable: bool, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = COMPRESS_LEVEL  # type: ignore[attr-defined]  # honoured by ZipFile.open
    info.create_system = 3  # Unix, so external_attr is read as permissions everywhere
    info.external_attr = (stat.S_IFREG | (EXEC_MODE if executable else FILE_MODE)) << 16
    info.file_size = size  # lets zipfile decide up front whether the entry needs zip64
    return info


def write_zip(sources: Iterable[ZipSource], dest: Path) -> ZipStats:
    """Write `sources` (sorted by arcname) into `dest` atomically; return its digest and sizes.

    Raises OSError from reading a source; the caller turns it into a BuildError that names the
    function. Duplicate arcnames are a programming error (the builder de-duplicates).
    """
    entries = sorted(sources, key=lambda s: s.arcname)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    unzipped = 0
    try:
        with os.fdopen(fd, "w+b") as raw:
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
                for entry in entries:
                    if entry.data is not None:
                        info = _zip_info(entry.arcname, entry.executable, len(entry.data))
                        with zf.open(info, "w") as out:
                            out.write(entry.data)
                        unzipped += len(entry.data)
                        continue
                    assert entry.path is not None
                    with open(entry.path, "rb") as src:
                        size = os.fstat(src.fileno()).st_size
                        info = _zip_info(entry.arcname, entry.executable, size)
                        with zf.open(info, "w") as out:
                            shutil.copyfileobj(src, out, _CHUNK)
                        unzipped += info.file_size
            raw.flush()
            raw.seek(0)
            digest = hashlib.file_digest(raw, "sha256").hexdigest()
            zipped = raw.tell()
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, dest)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return ZipStats(sha256=digest, zipped_size=zipped, unzipped_size=unzipped, file_count=len(entries))

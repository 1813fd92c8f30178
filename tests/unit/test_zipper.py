"""Deterministic zips and safe extraction (samlite.package.zipper / unpack)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from samlite.errors import BuildError
from samlite.package.unpack import unpack_artifact, unsafe_entry_reason
from samlite.package.zipper import FIXED_DATE_TIME, ZipSource, file_sha256, write_zip


def _tree(root: Path) -> list[ZipSource]:
    (root / "pkg").mkdir(parents=True)
    (root / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "bootstrap").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "bootstrap", 0o700)
    (root / "app.py").chmod(0o600)  # odd permissions must not leak into the zip
    return [
        ZipSource("pkg/__init__.py", path=str(root / "pkg" / "__init__.py")),
        ZipSource("bootstrap", path=str(root / "bootstrap"), executable=True),
        ZipSource("app.py", path=str(root / "app.py")),
        ZipSource("data.txt", data=b"x" * 1000),
    ]


def test_same_inputs_same_bytes_in_different_folders(tmp_path: Path) -> None:
    a = write_zip(_tree(tmp_path / "one"), tmp_path / "a.zip")
    os.utime(tmp_path / "one" / "app.py", (1, 1))
    b = write_zip(_tree(tmp_path / "two"), tmp_path / "b.zip")
    assert a.sha256 == b.sha256 == file_sha256(tmp_path / "a.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert a.file_count == 4
    assert a.unzipped_size == sum(len(p) for p in ("def handler(e, c):\n    return 1\n", "",
                                                     "#!/bin/sh\necho hi\n")) + 1000
    assert a.zipped_size == (tmp_path / "a.zip").stat().st_size


def test_entries_sorted_fixed_time_normalised_modes(tmp_path: Path) -> None:
    write_zip(_tree(tmp_path / "src"), tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["app.py", "bootstrap", "data.txt", "pkg/__init__.py"]
    for info in infos:
        assert info.date_time == FIXED_DATE_TIME
        assert info.compress_type == zipfile.ZIP_DEFLATED
        mode = stat.S_IMODE(info.external_attr >> 16)
        assert mode == (0o755 if info.filename == "bootstrap" else 0o644)


def test_content_change_changes_digest(tmp_path: Path) -> None:
    a = write_zip([ZipSource("a.py", data=b"1")], tmp_path / "a.zip")
    b = write_zip([ZipSource("a.py", data=b"2")], tmp_path / "b.zip")
    c = write_zip([ZipSource("b.py", data=b"1")], tmp_path / "c.zip")
    assert len({a.sha256, b.sha256, c.sha256}) == 3


def test_failed_write_leaves_no_partial_zip(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_zip([ZipSource("a.py", data=b"1"), ZipSource("b.py", path=str(tmp_path / "missing"))],
                  tmp_path / "out.zip")
    assert list(tmp_path.iterdir()) == []


def test_empty_zip_is_valid_and_deterministic(tmp_path: Path) -> None:
    a = write_zip([], tmp_path / "a.zip")
    b = write_zip([], tmp_path / "b.zip")
    assert a.sha256 == b.sha256 and a.file_count == 0
    assert zipfile.ZipFile(tmp_path / "a.zip").namelist() == []


def test_unpack_restores_modes_and_is_atomic_noop_when_present(tmp_path: Path) -> None:
    write_zip(_tree(tmp_path / "src"), tmp_path / "a.zip")
    dest = tmp_path / "code" / "abc"
    unpack_artifact(tmp_path / "a.zip", dest)
    assert (dest / "app.py").read_text().startswith("def handler")
    assert os.access(dest / "bootstrap", os.X_OK)
    assert stat.S_IMODE((dest / "app.py").stat().st_mode) == 0o644
    assert sorted(p.name for p in dest.parent.iterdir()) == ["abc"]  # no temp dir left over
    (dest / "app.py").write_text("changed")
    unpack_artifact(tmp_path / "a.zip", dest)  # existing dest: left alone
    assert (dest / "app.py").read_text() == "changed"


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/etc/evil", "C:/evil", "..\\evil"])
def test_unpack_refuses_zip_slip(tmp_path: Path, name: str) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("ok.py", "x")
        zf.writestr(zipfile.ZipInfo(name), "pwned")
    dest = tmp_path / "out" / "code"
    with pytest.raises(BuildError, match="unsafe"):
        unpack_artifact(bad, dest)
    assert not dest.exists()
    assert list((tmp_path / "out").iterdir()) == []  # temp dir removed
    assert not (tmp_path / "evil.py").exists()


def test_unpack_rejects_non_zip(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(BuildError, match="not a readable zip"):
        unpack_artifact(junk, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_unsafe_entry_reason() -> None:
    assert unsafe_entry_reason("a/b/c.py") is None
    assert unsafe_entry_reason("a/..b/c.py") is None  # '..b' is a normal name
    assert unsafe_entry_reason("") == "empty name"
    assert unsafe_entry_reason("x\x00y") is not None

"""`build_stack` and `samlite build` on real folders, real pip/npm installs (offline) and real zips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from samlite.errors import BuildError
from samlite.package import builder
from samlite.package.builder import build_stack
from samlite.package.unpack import unpack_artifact
from samlite.template.model import Function, Layer, Stack

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def fn(lid: str, code_uri: str | Path | None, runtime: str = PY, handler: str = "app.handler",
       **kw: object) -> Function:
    return Function(lid, f"stack-{lid}", f"arn:aws:lambda:us-east-1:123456789012:function:{lid}",
                    runtime, handler, str(code_uri) if code_uri is not None else None, **kw)  # type: ignore[arg-type]


def stack(project: Path, *functions: Function, layers: tuple[Layer, ...] = ()) -> Stack:
    return Stack("stack", "us-east-1", "123456789012", str(project / "template.yaml"), str(project),
                 functions={f.logical_id: f for f in functions}, layers={layer.logical_id: layer for layer in layers})


def write(path: Path, text: str = HANDLER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def by_id(artifacts: list) -> dict:
    return {a.logical_id: a for a in artifacts}


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return sorted(zf.namelist())


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    return tmp_path / "deps-cache"


# -- determinism and incremental builds ----------------------------------------------------------

def _project(root: Path) -> Stack:
    write(root / "a" / "app.py")
    write(root / "a" / "lib" / "util.py", "X = 1\n")
    write(root / "b" / "app.py")
    return stack(root, fn("A", root / "a"), fn("B", root / "b"), fn("C", root / "a"))


def test_deterministic_across_rebuilds_and_folders(tmp_path: Path, cache: Path) -> None:
    first = by_id(build_stack(_project(tmp_path / "p1"), cache_dir=cache))
    shutil.rmtree(tmp_path / "p1" / ".samlite")
    again = by_id(build_stack(_project(tmp_path / "p1"), cache_dir=cache))
    other = by_id(build_stack(_project(tmp_path / "p2"), cache_dir=cache))
    for lid in "ABC":
        assert first[lid].sha256 == again[lid].sha256 == other[lid].sha256
        assert first[lid].path.read_bytes() == other[lid].path.read_bytes()
    assert first["A"].path == tmp_path / "p1" / ".samlite" / "build" / "A.zip"
    assert names(first["A"].path) == ["app.py", "lib/util.py"]


def test_incremental_rebuilds_only_what_changed(tmp_path: Path, cache: Path) -> None:
    st = _project(tmp_path)
    first = by_id(build_stack(st, cache_dir=cache))
    assert all(a.rebuilt for a in first.values())
    # Shared CodeUri + runtime: one build, one zip.
    assert first["C"].path == first["A"].path and first["C"].sha256 == first["A"].sha256
    assert sorted(p.name for p in (tmp_path / ".samlite" / "build").glob("*.zip")) == ["A.zip", "B.zip"]

    second = by_id(build_stack(st, cache_dir=cache))
    assert not any(a.rebuilt for a in second.values())
    assert {k: a.sha256 for k, a in second.items()} == {k: a.sha256 for k, a in first.items()}

    write(tmp_path / "b" / "app.py", HANDLER + "# edited\n")
    third = by_id(build_stack(st, cache_dir=cache))
    assert [k for k, a in sorted(third.items()) if a.rebuilt] == ["B"]
    assert third["B"].sha256 != first["B"].sha256
    assert third["A"].sha256 == first["A"].sha256

    # Same size, same mtime tick: content is still what decides.
    path = tmp_path / "a" / "lib" / "util.py"
    st_before = path.stat()
    path.write_text("X = 2\n")
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))
    fourth = by_id(build_stack(st, cache_dir=cache))
    assert fourth["A"].rebuilt and fourth["C"].rebuilt and not fourth["B"].rebuilt


def test_runtime_change_rebuilds_and_splits_shared_unit(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "a" / "app.py")
    build_stack(stack(tmp_path, fn("A", tmp_path / "a"), fn("C", tmp_path / "a")), cache_dir=cache)
    out = by_id(build_stack(stack(tmp_path, fn("A", tmp_path / "a"),
                                  fn("C", tmp_path / "a", runtime="python3.99")), cache_dir=cache))
    assert not out["A"].rebuilt and out["C"].rebuilt
    assert out["C"].path.name == "C.zip" and out["C"].runtime == "python3.99"


def test_manifests_written_and_stale_outputs_removed(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "a" / "app.py")
    build_stack(stack(tmp_path, fn("Old", tmp_path / "a")), cache_dir=cache)
    bdir = tmp_path / ".samlite" / "build"
    assert (bdir / "Old.zip").exists()
    arts = build_stack(stack(tmp_path, fn("New", tmp_path / "a")), cache_dir=cache)
    assert not (bdir / "Old.zip").exists() and not (bdir / "Old.json").exists()
    meta = json.loads((bdir / "New.json").read_text())
    assert meta == {k: v for k, v in arts[0].to_dict().items() if k != "rebuilt"}
    assert set(meta) >= {"logical_id", "sha256", "zipped_size", "unzipped_size", "file_count", "runtime"}
    manifest = json.loads((bdir / "build.json").read_text())
    assert [u["input_hash"] for u in manifest["units"].values()]


def test_custom_build_dir_and_unpack_round_trip(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "a" / "app.py")
    write(tmp_path / "a" / "bootstrap", "#!/bin/sh\n")
    out = tmp_path / "out"
    art = build_stack(stack(tmp_path, fn("A", tmp_path / "a")), build_dir=out, cache_dir=cache)[0]
    assert art.path == out / "A.zip"
    unpack_artifact(art.path, tmp_path / "code")
    assert (tmp_path / "code" / "app.py").read_text() == HANDLER
    assert os.access(tmp_path / "code" / "bootstrap", os.X_OK)


def test_progress_callback(tmp_path: Path, cache: Path) -> None:
    st = _project(tmp_path)
    seen: list[tuple[str, str]] = []
    build_stack(st, cache_dir=cache, on_progress=lambda lid, s: seen.append((lid, s)))
    assert ("B", "building") in seen and ("B", "built") in seen
    seen.clear()
    build_stack(st, cache_dir=cache, on_progress=lambda lid, s: seen.append((lid, s)))
    assert sorted(seen) == [("A", "cached"), ("B", "cached"), ("C", "cached")]


# -- inputs -------------------------------------------------------------------------------------

def test_excludes_and_samliteignore(tmp_path: Path, cache: Path) -> None:
    code = tmp_path / "a"
    write(code / "app.py")
    for junk in ("__pycache__/app.cpython-311.pyc", "x.pyc", ".git/HEAD", ".venv/bin/python",
                 "node_modules/m/index.js", ".aws-sam/build.toml", ".samlite/x", "sub/__pycache__/y.pyc",
                 "tests/test_app.py", "secret.env", "keep/data.txt"):
        write(code / junk, "junk")
    write(code / ".samliteignore", "tests/\n*.env\n")
    art = build_stack(stack(tmp_path, fn("A", code)), cache_dir=cache)[0]
    assert names(art.path) == ["app.py", "keep/data.txt"]


def test_inline_code_python_and_node(tmp_path: Path, cache: Path) -> None:
    arts = by_id(build_stack(stack(
        tmp_path,
        fn("Py", None, handler="index.handler", inline_code=HANDLER),
        fn("Js", None, runtime="nodejs20.x", handler="index.handler",
           inline_code="exports.handler = async () => 1;\n"),
    ), cache_dir=cache))
    with zipfile.ZipFile(arts["Py"].path) as zf:
        assert zf.namelist() == ["index.py"] and zf.read("index.py").decode() == HANDLER
    assert names(arts["Js"].path) == ["index.js"]
    with pytest.raises(BuildError, match="Bad.*index.py|handler 'app.handler'"):
        build_stack(stack(tmp_path, fn("Bad", None, inline_code=HANDLER)), cache_dir=cache)


def test_zip_code_uri_copied_as_is(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "code.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("app.py", HANDLER)
        zf.writestr("lib/x.py", "")
    art = build_stack(stack(tmp_path, fn("Z", src)), cache_dir=cache)[0]
    assert art.path.read_bytes() == src.read_bytes()
    assert (art.file_count, art.unzipped_size) == (2, len(HANDLER))
    assert not build_stack(stack(tmp_path, fn("Z", src)), cache_dir=cache)[0].rebuilt


def test_zip_code_uri_with_slip_entry_refused(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "code.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("app.py", HANDLER)
        zf.writestr("../../evil.py", "x")
    with pytest.raises(BuildError, match=r"Z: .*'\.\./\.\./evil\.py' is unsafe"):
        build_stack(stack(tmp_path, fn("Z", src)), cache_dir=cache)
    assert not (tmp_path / ".samlite" / "build" / "Z.zip").exists()


def test_layer_keeps_python_layout(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "layer" / "python" / "shared" / "__init__.py", "X = 1\n")
    write(tmp_path / "fn" / "other.py", "")
    layer = Layer("Shared", "shared", "arn:aws:lambda:us-east-1:123456789012:layer:shared",
                  str(tmp_path / "layer"), ("python3.12",))
    # The handler module may live in a local layer (/opt/python is on sys.path).
    arts = by_id(build_stack(stack(tmp_path, fn("F", tmp_path / "fn", handler="shared.handler",
                                                layers=("Shared",)), layers=(layer,)), cache_dir=cache))
    assert arts["Shared"].kind == "layer" and arts["Shared"].runtime == "python3.12"
    assert names(arts["Shared"].path) == ["python/shared/__init__.py"]


def test_functions_without_local_code_are_skipped_with_warning(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "a" / "app.py")
    result = build_stack(stack(tmp_path, fn("A", tmp_path / "a"), fn("S3", "s3://bucket/key.zip"),
                               fn("Img", None, package_type="Image"), fn("None_", None)), cache_dir=cache)
    assert [a.logical_id for a in result] == ["A"]
    assert sorted(w.logical_id for w in result.warnings) == ["Img", "None_", "S3"]
    assert all("skipped" in w.message for w in result.warnings)


# -- handler checks ------------------------------------------------------------------------------

@pytest.mark.parametrize("handler,files", [
    ("app.lambda_handler", ["app.py"]),
    ("app.lambda_handler", ["app/__init__.py"]),
    ("src/handlers/app.handler", ["src/handlers/app.py"]),
    ("pkg.sub.mod.fn", ["pkg/sub/mod.py"]),
])
def test_python_handler_found(tmp_path: Path, cache: Path, handler: str, files: list[str]) -> None:
    for f in files:
        write(tmp_path / "c" / f)
    build_stack(stack(tmp_path, fn("F", tmp_path / "c", handler=handler)), cache_dir=cache)


@pytest.mark.parametrize("runtime,handler,file,message", [
    (PY, "app.handler", "other.py", r"F: handler 'app.handler' cannot be loaded: no app.py or app/__init__.py"),
    (PY, "src/handlers/app.handler", "app.py", r"no src/handlers/app.py"),
    (PY, "nodot", "nodot.py", r"malformed"),
    ("nodejs20.x", "app.handler", "app.ts", r"no app.js or app.mjs or app.cjs"),
])
def test_missing_handler_module_is_an_error(tmp_path: Path, cache: Path, runtime: str, handler: str,
                                            file: str, message: str) -> None:
    write(tmp_path / "c" / file)
    with pytest.raises(BuildError, match=message):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c", runtime=runtime, handler=handler)), cache_dir=cache)


def test_node_handler_mjs_ok(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "src" / "index.mjs", "export const handler = async () => 1;\n")
    art = build_stack(stack(tmp_path, fn("F", tmp_path / "c", runtime="nodejs20.x",
                                         handler="src/index.handler")), cache_dir=cache)[0]
    assert names(art.path) == ["src/index.mjs"]


def test_empty_code_folder(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="F: handler 'app.handler' cannot be loaded: the code folder is empty"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "empty")), cache_dir=cache)
    # Without a checkable handler the empty artifact itself is fine: a valid zip with 0 files.
    art = build_stack(stack(tmp_path, fn("G", tmp_path / "empty", runtime="java21")), cache_dir=cache)[0]
    assert art.file_count == 0 and names(art.path) == []


def test_provided_without_bootstrap_still_builds(tmp_path: Path, cache: Path) -> None:
    # Go sources that SAM would compile: samlite cannot run them, but the stack deploys.
    write(tmp_path / "c" / "main.go", "package main\n")
    art = build_stack(stack(tmp_path, fn("F", tmp_path / "c", runtime="provided.al2023", handler="bootstrap")),
                      cache_dir=cache)[0]
    assert names(art.path) == ["main.go"]


# -- bad input ----------------------------------------------------------------------------------

def test_missing_code_uri(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(BuildError, match="F: CodeUri .*nowhere does not exist"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "nowhere")), cache_dir=cache)
    assert not (tmp_path / ".samlite").exists()
    # A single file is zipped as `sam package` does; the handler check then names what is missing.
    write(tmp_path / "notzip.txt", "hello")
    with pytest.raises(BuildError, match="no app.py or app/__init__.py in .*notzip.txt"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "notzip.txt")), cache_dir=cache)


def test_symlink_outside_refused_inside_followed(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "app.py")
    write(tmp_path / "c" / "real" / "x.py", "X = 1\n")
    os.symlink(tmp_path / "c" / "real" / "x.py", tmp_path / "c" / "alias.py")
    art = build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)[0]
    assert names(art.path) == ["alias.py", "app.py", "real/x.py"]
    write(tmp_path / "outside.txt", "secret")
    os.symlink(tmp_path / "outside.txt", tmp_path / "c" / "leak.txt")
    with pytest.raises(BuildError, match="F: symlink 'leak.txt' points outside the code folder"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)


def test_symlink_dir_loop_refused(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "app.py")
    os.symlink(tmp_path / "c", tmp_path / "c" / "sub")
    with pytest.raises(BuildError, match="loops back"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)


def test_dangling_symlink_is_unreadable(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "app.py")
    os.symlink(tmp_path / "c" / "gone.py", tmp_path / "c" / "link.py")
    with pytest.raises(BuildError, match="F: cannot read 'link.py': dangling symlink"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)


def test_fifo_is_refused_not_read(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "app.py")
    os.mkfifo(tmp_path / "c" / "pipe")  # opening it would block forever
    with pytest.raises(BuildError, match="F: cannot read 'pipe': it is a FIFO"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "app.py")
    secret = write(tmp_path / "c" / "secret.py", "x")
    secret.chmod(0)
    with pytest.raises(BuildError, match="F: cannot read 'secret.py'"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)


def test_non_utf8_file_name(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "app.py")
    bad = os.path.join(os.fsencode(tmp_path / "c"), b"caf\xe9.txt")
    with open(bad, "wb") as fh:
        fh.write(b"x")
    with pytest.raises(BuildError, match=r"F: file name 'caf\\\\xe9.txt' is not valid UTF-8"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)
    write(tmp_path / "c" / ".samliteignore", "*.txt\n")
    art = build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)[0]
    assert names(art.path) == ["app.py"]


def test_zipped_limit(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "c" / "app.py")
    write(tmp_path / "c" / "blob.bin", os.urandom(20_000).hex())
    monkeypatch.setattr(builder, "ZIPPED_LIMIT", 10_000)
    with pytest.raises(BuildError, match=r"F: package is .*zipped, over Lambda's limit of 0.0 MB \(10,000 bytes\)"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)
    assert not (tmp_path / ".samlite" / "build" / "F.zip").exists()


def test_unzipped_limit_real_sparse_file(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "c" / "app.py")
    with open(tmp_path / "c" / "huge.bin", "wb") as fh:
        fh.truncate(builder.UNZIPPED_LIMIT + 1)  # sparse: no disk used, refused before reading
    with pytest.raises(BuildError, match=r"F: package is 250.0 MB \(262,144,0\d\d bytes\) unzipped, "
                                         r"over Lambda's limit of 250.0 MB \(262,144,000 bytes\)"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c")), cache_dir=cache)


def test_function_plus_layers_unzipped_limit(tmp_path: Path, cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "c" / "app.py", HANDLER + "#" * 600)
    write(tmp_path / "layer" / "python" / "big.py", "#" * 600)
    monkeypatch.setattr(builder, "UNZIPPED_LIMIT", 1000)
    layer = Layer("L", "l", "arn:l", str(tmp_path / "layer"))
    with pytest.raises(BuildError, match="F: function code plus its layers"):
        build_stack(stack(tmp_path, fn("F", tmp_path / "c", layers=("L",)), layers=(layer,)), cache_dir=cache)


# -- dependencies ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real wheel for a tiny package, written by hand (the venv has no `wheel`/bdist_wheel)."""
    import base64
    import hashlib

    wheels = tmp_path_factory.mktemp("wheels")
    files = {
        "tinydep/__init__.py": "VALUE = 42\n",
        "tinydep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                       "Tag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("tinydep-1.0.dist-info/RECORD,,")
    files["tinydep-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(wheels / "tinydep-1.0-py3-none-any.whl", "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheels


def test_pip_requirements_installed_and_cached(tmp_path: Path, cache: Path, wheelhouse: Path) -> None:
    wheels = tmp_path / "wheels"
    shutil.copytree(wheelhouse, wheels)
    code = tmp_path / "c"
    write(code / "app.py", "import tinydep\n" + HANDLER)
    write(code / "requirements.txt", f"--no-index\n--find-links {wheels}\ntinydep==1.0\n")
    st = stack(tmp_path, fn("F", code))
    art = build_stack(st, cache_dir=cache)[0]
    assert "tinydep/__init__.py" in names(art.path) and "app.py" in names(art.path)
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1

    # A code-only change must not run pip: with the wheels gone, pip would fail.
    shutil.rmtree(wheels)
    write(code / "app.py", "import tinydep\n" + HANDLER + "# v2\n")
    art2 = build_stack(st, cache_dir=cache)[0]
    assert art2.rebuilt and art2.sha256 != art.sha256
    assert "tinydep/__init__.py" in names(art2.path)

    # The installed package really works from the unpacked artifact.
    unpack_artifact(art2.path, tmp_path / "run")
    out = subprocess.run([sys.executable, "-c", "import tinydep; print(tinydep.VALUE)"],
                         cwd=tmp_path / "run", capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "42"


def test_pip_falls_back_to_current_python_with_warning(tmp_path: Path, cache: Path,
                                                      wheelhouse: Path) -> None:
    code = tmp_path / "c"
    write(code / "app.py")
    write(code / "requirements.txt", f"--no-index\n--find-links {wheelhouse}\ntinydep\n")
    result = build_stack(stack(tmp_path, fn("F", code, runtime="python3.99")), cache_dir=cache)
    assert "tinydep/__init__.py" in names(result[0].path)
    assert [w.logical_id for w in result.warnings] == ["F"]
    assert "no working python3.99 found (PATH, pyenv's versions" in result.warnings[0].message
    # A pure-Python wheel fits any version: installed for 3.99 itself, not for this interpreter.
    assert "dependencies were installed as python3.99 wheels" in result.warnings[0].message


def test_pip_failure_names_function_and_shows_pip_output(tmp_path: Path, cache: Path) -> None:
    code = tmp_path / "c"
    write(code / "app.py")
    write(code / "requirements.txt", f"--no-index\n--find-links {tmp_path}\nno-such-package-xyz==9.9\n")
    with pytest.raises(BuildError) as info:
        build_stack(stack(tmp_path, fn("Broken", code)), cache_dir=cache)
    msg = info.value.message
    assert msg.startswith("Broken: pip install failed")
    assert "no-such-package-xyz" in msg and len(msg.splitlines()) <= 16
    assert info.value.exit_code == 1
    assert list(cache.iterdir()) == []  # no half-installed cache entry


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
def test_npm_install_from_local_tarball(tmp_path: Path, cache: Path) -> None:
    lib = tmp_path / "lib"
    write(lib / "package.json", '{"name": "tinylib", "version": "1.0.0", "main": "index.js"}')
    write(lib / "index.js", "module.exports = 42;\n")
    subprocess.run(["npm", "pack", "--silent"], cwd=lib, check=True, capture_output=True, timeout=120)
    code = tmp_path / "c"
    write(code / "app.js", "exports.handler = async () => require('tinylib');\n")
    write(code / "package.json", json.dumps({"name": "app", "version": "1.0.0", "dependencies": {
        "tinylib": f"file:{lib / 'tinylib-1.0.0.tgz'}"}, "devDependencies": {}}))
    st = stack(tmp_path, fn("N", code, runtime="nodejs20.x"))
    art = build_stack(st, cache_dir=cache)[0]
    assert "node_modules/tinylib/index.js" in names(art.path)
    (lib / "tinylib-1.0.0.tgz").unlink()  # cached: a code-only rebuild must not run npm
    write(code / "app.js", "exports.handler = async () => 1;\n")
    assert "node_modules/tinylib/index.js" in names(build_stack(st, cache_dir=cache)[0].path)


# -- the CLI --------------------------------------------------------------------------------------

def _cli_ready() -> bool:
    try:
        import samlite.template as t
    except ImportError:
        return False
    return all(hasattr(t, n) for n in ("load_stack", "find_template", "parse_parameter_overrides"))


@pytest.mark.skipif(not _cli_ready(), reason="samlite.template.load_stack not available yet")
def test_cli_build_text_and_json(tmp_path: Path) -> None:
    write(tmp_path / "hello" / "app.py")
    write(tmp_path / "other" / "app.py")
    write(tmp_path / "template.yaml", textwrap.dedent(f"""\
        AWSTemplateFormatVersion: "2010-09-09"
        Transform: AWS::Serverless-2016-10-31
        Resources:
          HelloFunction:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: hello/
              Handler: app.handler
              Runtime: {PY}
          OtherFunction:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: other/
              Handler: app.handler
              Runtime: {PY}
        """))
    env = dict(os.environ, SAMLITE_HOME=str(tmp_path / "home"))
    cmd = [sys.executable, "-m", "samlite", "build", "--output", "json"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    listing = json.loads(out.stdout)
    assert sorted(a["logical_id"] for a in listing) == ["HelloFunction", "OtherFunction"]
    assert all(a["rebuilt"] and Path(a["path"]).is_file() for a in listing)
    text = subprocess.run([sys.executable, "-m", "samlite", "build", "-t", "template.yaml"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert "HelloFunction" in text.stdout and "cached" in text.stdout and "rebuilt" not in text.stdout

    (tmp_path / "hello" / "app.py").unlink()
    bad = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "Error: HelloFunction: handler 'app.handler' cannot be loaded" in bad.stderr


def test_code_uri_at_project_root_skips_build_output(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "app.py")
    out = tmp_path / "dist"
    st = stack(tmp_path, fn("F", tmp_path))
    build_stack(st, build_dir=out, cache_dir=cache)
    art = build_stack(st, build_dir=out, cache_dir=cache)[0]
    assert not art.rebuilt and names(art.path) == ["app.py"]
    shutil.rmtree(out)  # from here on dist/ would be ordinary project content
    build_stack(st, cache_dir=cache)  # default output (.samlite/build) is excluded too
    assert names(build_stack(st, cache_dir=cache)[0].path) == ["app.py"]


def test_node_user_installed_node_modules_shipped_as_is(tmp_path: Path, cache: Path) -> None:
    code = tmp_path / "c"
    write(code / "app.js", "exports.handler = async () => 1;\n")
    write(code / "package.json", '{"name": "app", "version": "1.0.0"}')
    write(code / "node_modules" / "dep" / "index.js", "module.exports = 1;\n")
    art = build_stack(stack(tmp_path, fn("N", code, runtime="nodejs20.x")), cache_dir=cache)[0]
    assert names(art.path) == ["app.js", "node_modules/dep/index.js", "package.json"]
    assert not cache.exists()  # npm never ran


def test_runtime_interpreter_is_verified_not_just_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from samlite.package import deps

    bin_dir = tmp_path / "bin"
    # Like a pyenv shim for a version that is not selected: on PATH, but fails to run.
    write(bin_dir / "python3.98", "#!/bin/sh\necho 'pyenv: python3.98: command not found' >&2\nexit 127\n")
    # A real interpreter that reports version 3.97 (only the version probe is faked).
    write(bin_dir / "python3.97", f"#!/bin/sh\ncase \"$*\" in *version_info*) echo 3.97;; *) exec {sys.executable} "
                                  "\"$@\";; esac\n")
    for name in ("python3.98", "python3.97"):
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    from samlite import pythons

    pythons.find_python.cache_clear()
    try:
        assert deps.python_for_runtime("python3.98") == (sys.executable, False)
        assert deps.python_for_runtime("python3.97") == (str(bin_dir / "python3.97"), True)
    finally:
        pythons.find_python.cache_clear()


def test_python_runtime_found_in_pyenv_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from samlite import pythons

    # Not on PATH, only in pyenv's versions folder (pyenv's shim would fail: version not selected).
    fake = tmp_path / "pyenv" / "versions" / "3.96.2" / "bin" / "python3.96"
    write(fake, f"#!/bin/sh\ncase \"$*\" in *version_info*) echo 3.96;; *) exec {sys.executable} \"$@\";; esac\n")
    fake.chmod(0o755)
    older = tmp_path / "pyenv" / "versions" / "3.96.10" / "bin" / "python3.96"
    write(older, "#!/bin/sh\nexit 127\n")  # a broken install is skipped
    older.chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    pythons.find_python.cache_clear()
    try:
        assert pythons.find_python("python3.96") == str(fake)
        assert pythons.mismatch_warning("python3.96") is None
        assert pythons.find_python("python3.95") is None
        assert "no Python 3.95 found" in pythons.mismatch_warning("python3.95")
        assert pythons.mismatch_warning("nodejs20.x") is None and pythons.mismatch_warning("python") is None
    finally:
        pythons.find_python.cache_clear()


def test_stat_cache_trusted_for_old_files_but_ctime_catches_edits(tmp_path: Path, cache: Path) -> None:
    code = tmp_path / "c"
    path = write(code / "app.py", HANDLER + "# A\n")
    old = 1_600_000_000_000_000_000
    os.utime(path, ns=(old, old))
    st = stack(tmp_path, fn("F", code))
    first = build_stack(st, cache_dir=cache)[0]
    manifest = json.loads((tmp_path / ".samlite" / "build" / "build.json").read_text())
    (record,) = manifest["units"].values()
    assert record["files"]["app.py"][1] == old  # an old file's stat is trusted from now on
    assert not build_stack(st, cache_dir=cache)[0].rebuilt
    path.write_text(HANDLER + "# B\n")  # same size, and the mtime is forced back
    os.utime(path, ns=(old, old))
    second = build_stack(st, cache_dir=cache)[0]
    assert second.rebuilt and second.sha256 != first.sha256


@pytest.mark.skipif(not _cli_ready(), reason="samlite.template.load_stack not available yet")
def test_cli_parameter_overrides_reach_the_build(tmp_path: Path) -> None:
    write(tmp_path / "v2" / "app.py")
    write(tmp_path / "template.yaml", textwrap.dedent(f"""\
        AWSTemplateFormatVersion: "2010-09-09"
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          CodeDir:
            Type: String
            Default: v1/
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: !Ref CodeDir
              Handler: app.handler
              Runtime: {PY}
        """))
    env = dict(os.environ, SAMLITE_HOME=str(tmp_path / "home"))
    base = [sys.executable, "-m", "samlite", "build", "--output", "json"]
    missing = subprocess.run(base, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "Fn: CodeUri" in missing.stderr and "does not exist" in missing.stderr
    ok = subprocess.run(base + ["--parameter-overrides", "CodeDir=v2/"], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert [a["logical_id"] for a in json.loads(ok.stdout)] == ["Fn"]


def test_pip_shows_a_live_status_line_only_in_a_terminal(tmp_path: Path, wheelhouse: Path) -> None:
    import pty

    project = tmp_path / "p"
    write(project / "src" / "app.py", "def handler(event, context):\n    return 1\n")
    write(project / "src" / "requirements.txt", f"--no-index\n--find-links {wheelhouse}\ntinydep\n")
    write(project / "template.yaml", "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n"
          "    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.11\n"
          "      Handler: app.handler\n      CodeUri: src/\n")
    env = {**os.environ, "SAMLITE_HOME": str(tmp_path / "home1"), "TERM": "dumb"}
    piped = subprocess.run([sys.executable, "-m", "samlite", "build", "--build-dir", str(tmp_path / "b1")],
                           cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "pip" not in piped.stderr, piped.stderr

    env["SAMLITE_HOME"] = str(tmp_path / "home2")  # a new dependency cache: pip runs again
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(project)
        os.execvpe(sys.executable, [sys.executable, "-m", "samlite", "build", "--build-dir", str(tmp_path / "b2")], env)
    drawn = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, drawn
    assert b"\rF: pip " in drawn and b" s)" in drawn, drawn  # what runs, and for how long
    assert b"\x1b" not in drawn  # TERM=dumb: no escape codes, only carriage returns
    assert b"tinydep" in drawn and b"F.zip" in drawn  # the step named, then the artifact table


def test_pip_falls_back_to_this_interpreter_when_no_wheel_fits_the_runtime(tmp_path: Path, cache: Path) -> None:
    import base64
    import hashlib
    import sysconfig

    # A wheel only for this interpreter's version and platform: nothing fits python3.99.
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform_tag = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    files = {"cponly/__init__.py": "VALUE = 1\n",
             "cponly-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: cponly\nVersion: 1.0\n",
             "cponly-1.0.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
                                           f"Tag: {tag}-{tag}-{platform_tag}\n"}
    record = [f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for name, text in files.items()]
    files["cponly-1.0.dist-info/RECORD"] = "\n".join(record + ["cponly-1.0.dist-info/RECORD,,"]) + "\n"
    with zipfile.ZipFile(wheels / f"cponly-1.0-{tag}-{tag}-{platform_tag}.whl", "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    code = tmp_path / "c"
    write(code / "app.py")
    write(code / "requirements.txt", f"--no-index\n--find-links {wheels}\ncponly\n")
    result = build_stack(stack(tmp_path, fn("F", code, runtime="python3.99")), cache_dir=cache)
    assert "cponly/__init__.py" in names(result[0].path)
    assert f"dependencies were installed with {sys.executable}" in result.warnings[0].message

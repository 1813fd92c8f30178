"""`build_stack`: one deterministic zip per function and per layer, rebuilt only when inputs change.

Functions that share a CodeUri and Runtime form one *build unit* and share one zip. A unit's
input hash covers every included file (relative path, executable bit, content digest), the
dependency manifest key, the runtime and the kind of source. File digests are remembered in the
build manifest with the file's stat (size, mtime, ctime, inode); a file whose stat is unchanged is
not re-read, except a file modified within the last two seconds of being hashed ("racily clean",
as git calls it), whose digest is never trusted. So a no-change build only walks the folders.

Output: `<project>/.samlite/build/<Owner>.zip`, `<LogicalId>.json` per artifact, and
`build.json` (the build manifest with input hashes and the stat cache).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from samlite.errors import BuildError
from samlite.package import deps as deps_mod
from samlite.package import methods, node_sdk
from samlite.package.unpack import check_entries
from samlite.package.zipper import ZipSource, file_sha256, write_zip
from samlite.template.model import Function, Stack
from samlite.template.model import Warning as BuildWarning

# Lambda's package limits. Module constants so tests can lower them.
ZIPPED_LIMIT = 52_428_800
UNZIPPED_LIMIT = 262_144_000

BUILDER_VERSION = 2
MANIFEST_NAME = "build.json"
IGNORE_FILE = ".samliteignore"
EXCLUDED_DIRS = frozenset({"__pycache__", ".git", ".samlite", ".aws-sam", ".venv", "node_modules"})
_RACY_NS = 2_000_000_000
_NODE_EXTS = (".js", ".mjs", ".cjs")

ProgressCallback = Callable[[str, str], None]  # (logical_id, "building"|"built"|"cached"|"skipped")


@dataclass(frozen=True)
class Artifact:
    logical_id: str
    kind: str  # "function" | "layer"
    path: Path  # absolute path of the zip
    sha256: str
    zipped_size: int
    unzipped_size: int
    file_count: int
    runtime: str | None
    rebuilt: bool

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


class BuildResult(list):  # list[Artifact]
    """The artifacts, plus `warnings` for functions that were skipped (S3 code, images), and
    `not_built`: logical id -> why a function that still deploys has no code to run here."""

    def __init__(self, artifacts: list[Artifact], warnings: list[BuildWarning],
                 not_built: dict[str, str] | None = None) -> None:
        super().__init__(artifacts)
        self.warnings = warnings
        self.not_built = not_built or {}


@dataclass
class _File:
    arcname: str
    path: str
    size: int
    stat_key: list[int]
    executable: bool


@dataclass
class _Unit:
    uid: str
    owner: str  # logical id that names the zip
    kind: str
    runtime: str | None
    source: str  # "folder" | "zip" | "inline" | "file" (one file, zipped) | "custom" (a BuildMethod)
    location: str  # folder path, zip path or the inline code itself
    members: list[str] = field(default_factory=list)
    method: str | None = None  # the BuildMethod of a "custom" unit
    props: dict[str, Any] = field(default_factory=dict)


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB ({n:,} bytes)"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _ignore_spec(root: str) -> Any:
    path = os.path.join(root, IGNORE_FILE)
    if not os.path.isfile(path):
        return None
    import pathspec  # only projects with a .samliteignore pay for the import

    with open(path, encoding="utf-8", errors="replace") as fh:
        return pathspec.GitIgnoreSpec.from_lines(fh.read().splitlines())


def walk_folder(root: str, owner: str, excluded_dirs: frozenset[str] = EXCLUDED_DIRS,
                use_ignore_file: bool = True, skip_dir: str | None = None) -> list[_File]:
    """Every file to ship from `root`, refusing what cannot be shipped safely.

    `skip_dir` (the build output folder) is never walked, wherever it lives.
    """
    root_real = os.path.realpath(root)
    skip_rel = None
    if skip_dir and _inside(skip_dir, root_real) and skip_dir != root_real:
        skip_rel = os.path.relpath(skip_dir, root_real).replace(os.sep, "/")
    spec = _ignore_spec(root) if use_ignore_file else None
    files: list[_File] = []
    pending = [(root, "")]
    while pending:
        dir_path, prefix = pending.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = list(it)
        except OSError as exc:
            raise BuildError(f"{owner}: cannot list folder {dir_path!r}: {exc.strerror or exc}") from None
        for entry in entries:
            rel = prefix + entry.name
            try:
                rel.encode("utf-8")
                bad_name = False
            except UnicodeEncodeError:
                bad_name = True
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _inside(target, root_real):
                        raise BuildError(f"{owner}: symlink {rel!r} points outside the code folder "
                                         f"(to {target}); refusing it",
                                         hint=f"Copy the file in, or list it in {IGNORE_FILE}.")
                    try:
                        st = os.stat(entry.path)
                    except OSError:
                        raise BuildError(f"{owner}: cannot read {rel!r}: dangling symlink to {target}",
                                         hint=f"Remove the link or list it in {IGNORE_FILE}.") from None
                    if stat.S_ISDIR(st.st_mode) and _inside(os.path.realpath(dir_path), target):
                        raise BuildError(f"{owner}: symlink {rel!r} loops back to {target}")
                else:
                    st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                raise BuildError(f"{owner}: cannot read {rel!r}: {exc.strerror or exc}") from None
            if stat.S_ISDIR(st.st_mode):
                if entry.name in excluded_dirs or rel == skip_rel \
                        or (spec is not None and spec.match_file(rel + "/")):
                    continue
                if bad_name:
                    _bad_name(owner, rel)
                pending.append((entry.path, rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                if entry.name.endswith(".pyc") or entry.name == IGNORE_FILE:
                    continue
                if spec is not None and spec.match_file(rel):
                    continue
                if bad_name:
                    _bad_name(owner, rel)
                files.append(_File(rel, entry.path, st.st_size,
                                   [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino],
                                   bool(st.st_mode & 0o111) or rel == "bootstrap"))
            else:
                kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) \
                    else "device or special file"
                raise BuildError(f"{owner}: cannot read {rel!r}: it is a {kind}, not a regular file",
                                 hint=f"Remove it or list it in {IGNORE_FILE}.")
    files.sort(key=lambda f: f.arcname)
    return files


def _bad_name(owner: str, rel: str) -> None:
    shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
    raise BuildError(f"{owner}: file name {shown!r} is not valid UTF-8; a zip cannot carry it portably",
                     hint=f"Rename it, or list it in {IGNORE_FILE}.")


class _Hasher:
    """Content digests through the stat cache of the previous build."""

    def __init__(self, previous: dict[str, list[Any]]) -> None:
        self.previous = previous
        self.current: dict[str, list[Any]] = {}
        self.now_ns = time.time_ns()

    def digest(self, f: _File, owner: str) -> str:
        rec = self.previous.get(f.arcname)
        if rec is not None and rec[:4] == f.stat_key:
            digest = rec[4]
        else:
            try:
                digest = file_sha256(f.path)
            except OSError as exc:
                raise BuildError(f"{owner}: cannot read {f.arcname!r}: {exc.strerror or exc}") from None
        racy = f.stat_key[1] >= self.now_ns - _RACY_NS
        self.current[f.arcname] = ([-1, -1, -1, -1] if racy else f.stat_key) + [digest]
        return digest


def _hash_inputs(header: dict[str, Any], lines: list[str]) -> str:
    import hashlib

    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for line in lines:
        h.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return h.hexdigest()


def _resolve_code(stack: Stack, fn: Function) -> tuple[str, str] | None:
    """(source kind, location) of a function's code, or None when samlite cannot build it."""
    if fn.inline_code is not None:
        return "inline", fn.inline_code
    if fn.code_uri is None or fn.package_type != "Zip" or fn.code_uri.startswith("s3://"):
        return None
    path = Path(fn.code_uri)
    if not path.is_absolute():
        path = Path(stack.project_dir) / path
    return _source_of(path, fn.logical_id, "CodeUri", single_file=True)


def _source_of(path: Path, logical_id: str, prop: str, single_file: bool = False) -> tuple[str, str]:
    if path.is_dir():
        return "folder", str(path)
    if path.is_file():
        if zipfile.is_zipfile(path):
            return "zip", str(path)
        if single_file:  # `sam package` zips a CodeUri that names one file
            return "file", str(path)
        raise BuildError(f"{logical_id}: {prop} {path} is a file but not a zip archive",
                         hint=f"Point {prop} at a folder or a .zip.")
    raise BuildError(f"{logical_id}: {prop} {path} does not exist",
                     hint=f"Fix {prop} in the template (paths are relative to the template's folder).")


def _plan_units(stack: Stack, warnings: list[BuildWarning]) -> list[_Unit]:
    """Group functions into build units (same source and runtime); layers are units of their own."""
    units: dict[str, _Unit] = {}

    def add(uid: str, logical_id: str, kind: str, runtime: str | None, source: str, loc: str,
            method: str | None = None, props: Any = None) -> None:
        if methods.is_custom(method):
            if source != "folder":
                raise BuildError(f"{logical_id}: BuildMethod {method} needs a source folder, not {loc}")
            source = "custom"
            uid += f"|{method}|{json.dumps(props or {}, sort_keys=True, default=str)}"
        unit = units.get(uid)
        if unit is None:
            unit = units[uid] = _Unit(uid, logical_id, kind, runtime, source, loc, method=method,
                                      props=dict(props or {}))
        unit.members.append(logical_id)

    for lid in sorted(stack.layers):
        layer = stack.layers[lid]
        source, loc = _source_of(Path(layer.content_uri) if os.path.isabs(layer.content_uri)
                                 else Path(stack.project_dir) / layer.content_uri, lid, "ContentUri")
        runtime = layer.compatible_runtimes[0] if layer.compatible_runtimes else None
        add(f"layer|{lid}", lid, "layer", runtime, source, loc, layer.build_method, layer.build_properties)
    for lid in sorted(stack.functions):
        fn = stack.functions[lid]
        if fn.not_emulated:
            warnings.append(BuildWarning(lid, fn.not_emulated))
            continue
        code = _resolve_code(stack, fn)
        if code is None:
            why = "is an image" if fn.package_type != "Zip" else "has no local code (S3 or absent CodeUri)"
            warnings.append(BuildWarning(lid, f"skipped: the function {why}; samlite builds only "
                                         "local CodeUri folders, .zip files and InlineCode"))
            continue
        source, loc = code
        key = os.path.realpath(loc) if source != "inline" else loc
        add(f"function|{source}|{fn.runtime}|{key}", lid, "function", fn.runtime, source, loc,
            fn.build_method, fn.build_properties)
    return list(units.values())


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != BUILDER_VERSION:
        return {}
    return data


class _Builder:
    def __init__(self, stack: Stack, build_dir: Path, cache_dir: Path | None,
                 on_progress: ProgressCallback | None) -> None:
        self.stack = stack
        self.build_dir = build_dir
        self.cache_dir = cache_dir
        self.on_progress = on_progress or (lambda _lid, _status: None)
        self.previous = _load_manifest(build_dir / MANIFEST_NAME)
        self.units_out: dict[str, Any] = {}
        self.names: dict[str, set[str]] = {}  # unit uid -> arcnames of its code (handler checks)
        self.warnings: list[BuildWarning] = []

    # -- one unit -----------------------------------------------------------------------------
    def build_unit(self, unit: _Unit) -> tuple[dict[str, Any], bool]:
        prev = self.previous.get("units", {}).get(unit.uid, {})
        hasher = _Hasher(prev.get("files", {}))
        files: list[_File] = []
        spec = None
        if unit.source == "custom":
            # The inputs are the source folder; what the build makes is zipped below.
            files = walk_folder(unit.location, unit.owner, skip_dir=str(self.build_dir))
            lines = [f"{f.arcname}\0{int(f.executable)}\0{hasher.digest(f, unit.owner)}" for f in files]
        elif unit.source == "file":
            single = _File(os.path.basename(unit.location), unit.location, 0,
                           _stat_key(unit.location, unit.owner), False)
            lines = [single.arcname, hasher.digest(single, unit.owner)]
            self.names[unit.uid] = {single.arcname}
        elif unit.source == "folder":
            node = bool(unit.runtime and unit.runtime.startswith("nodejs"))
            user_modules = node and os.path.isdir(os.path.join(unit.location, "node_modules"))
            # A layer is shipped as laid out: nodejs/node_modules is its whole point.
            user_modules = user_modules or unit.kind == "layer"
            excluded = EXCLUDED_DIRS - {"node_modules"} if user_modules else EXCLUDED_DIRS
            files = walk_folder(unit.location, unit.owner, excluded, skip_dir=str(self.build_dir))
            self._check_unzipped(unit.owner, sum(f.size for f in files))
            if unit.kind == "function":
                spec = deps_mod.deps_spec(Path(unit.location), unit.runtime)
            lines = [f"{f.arcname}\0{int(f.executable)}\0{hasher.digest(f, unit.owner)}" for f in files]
            self.names[unit.uid] = {f.arcname for f in files}
        elif unit.source == "zip":
            zf_file = _File("<zip>", unit.location, 0, _stat_key(unit.location, unit.owner), False)
            lines = [hasher.digest(zf_file, unit.owner)]
        else:
            import hashlib

            lines = [hashlib.sha256(unit.location.encode()).hexdigest()]
            self.names[unit.uid] = {self._inline_name(unit)}
        header = {"v": BUILDER_VERSION, "kind": unit.kind, "source": unit.source,
                  "runtime": unit.runtime, "deps": spec.key if spec else None,
                  "method": unit.method, "props": json.dumps(unit.props, sort_keys=True, default=str)}
        input_hash = _hash_inputs(header, lines)
        zip_path = self.build_dir / f"{unit.owner}.zip"

        if prev.get("input_hash") == input_hash and prev.get("zip") == zip_path.name and _zip_intact(zip_path, prev):
            record = {**prev, "files": hasher.current}
            return record, False

        for lid in unit.members:
            self.on_progress(lid, "building")
        if unit.source == "zip":
            stats = self._copy_zip(unit, zip_path)
        elif unit.source == "custom":
            stats = write_zip(self._custom_build(unit), zip_path)
        elif unit.source == "file":
            stats = write_zip([ZipSource(os.path.basename(unit.location), path=unit.location)], zip_path)
        else:
            sources = self._sources(unit, files, spec)
            stats = write_zip(sources, zip_path)
        if stats.zipped_size > ZIPPED_LIMIT:
            zip_path.unlink(missing_ok=True)
            raise BuildError(f"{unit.owner}: package is {_mb(stats.zipped_size)} zipped, over Lambda's "
                             f"limit of {_mb(ZIPPED_LIMIT)}",
                             hint=f"Trim dependencies or list large files in {IGNORE_FILE}.")
        self._check_unzipped(unit.owner, stats.unzipped_size)
        st = zip_path.stat()
        record = {"input_hash": input_hash, "zip": zip_path.name, "sha256": stats.sha256,
                  "zipped_size": stats.zipped_size, "unzipped_size": stats.unzipped_size,
                  "file_count": stats.file_count, "zip_mtime_ns": st.st_mtime_ns,
                  "files": hasher.current}
        return record, True

    def _custom_build(self, unit: _Unit) -> list[ZipSource]:
        """Run the unit's BuildMethod into a fresh folder; its files are the artifact."""
        out = self.build_dir / ".artifacts" / unit.owner
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        from samlite.config import load_settings

        assert unit.method is not None
        methods.run_build(unit.method, unit.props, unit.owner, unit.runtime, Path(unit.location), out,
                          self.build_dir / ".scratch" / unit.owner, load_settings().cache_dir)
        files = walk_folder(str(out), unit.owner, frozenset({"__pycache__"}), use_ignore_file=False)
        if not files:
            raise BuildError(f"{unit.owner}: BuildMethod {unit.method} produced no files in {out}")
        self.names[unit.uid] = {f.arcname for f in files}
        return [ZipSource(f.arcname, path=f.path, executable=f.executable) for f in files]

    def _inline_name(self, unit: _Unit) -> str:
        return "index.js" if unit.runtime and unit.runtime.startswith("nodejs") else "index.py"

    def _sources(self, unit: _Unit, files: list[_File], spec: deps_mod.DepsSpec | None) -> list[ZipSource]:
        if unit.source == "inline":
            return [ZipSource(self._inline_name(unit), data=unit.location.encode())]
        merged: dict[str, ZipSource] = {}
        if spec is not None:
            cache = self.cache_dir or deps_mod.default_cache_dir()
            folder, installed = deps_mod.ensure_deps(spec, cache, unit.owner)
            if installed and spec.tool == "pip" and not deps_mod.python_for_runtime(spec.runtime)[1]:
                used = deps_mod.python_for_runtime(spec.runtime)[0]
                from samlite.pythons import WHERE

                how = (f"dependencies were installed as {spec.runtime} wheels" if deps_mod.installed_for_runtime(folder)
                       else f"dependencies were installed with {used}")
                self.warnings.append(BuildWarning(unit.owner, f"no working {spec.runtime} found ({WHERE}); {how}"))
            dep_files = walk_folder(str(folder), unit.owner, frozenset({"__pycache__"}), use_ignore_file=False)
            for f in dep_files:
                merged[f.arcname] = ZipSource(f.arcname, path=f.path, executable=f.executable)
            self.names[unit.uid] |= {f.arcname for f in dep_files}
        for f in files:  # the function's own files win over a dependency's
            merged[f.arcname] = ZipSource(f.arcname, path=f.path, executable=f.executable)
        self._check_unzipped(unit.owner, sum(os.path.getsize(s.path) for s in merged.values() if s.path))
        return list(merged.values())

    def _copy_zip(self, unit: _Unit, zip_path: Path) -> Any:
        from samlite.package.zipper import ZipStats

        try:
            with zipfile.ZipFile(unit.location) as zf:
                check_entries(zf, f"{unit.owner}: {unit.location}")
                infos = [i for i in zf.infolist() if not i.is_dir()]
        except zipfile.BadZipFile as exc:
            raise BuildError(f"{unit.owner}: {unit.location} is not a valid zip ({exc})") from None
        self._check_unzipped(unit.owner, sum(i.file_size for i in infos))
        self.names[unit.uid] = {i.filename for i in infos}
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{zip_path.name}.", suffix=".tmp", dir=zip_path.parent)
        os.close(fd)
        try:
            shutil.copyfile(unit.location, tmp)
            os.replace(tmp, zip_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ZipStats(file_sha256(zip_path), zip_path.stat().st_size,
                        sum(i.file_size for i in infos), len(infos))

    def provide_node_sdk(self, unit: _Unit, record: dict[str, Any], rebuilt: bool, zip_path: Path) -> None:
        """Install the `@aws-sdk/*` packages the unit imports into the runtime's SDK (nodejs18+)."""
        if rebuilt or "node_sdk" not in record:
            if unit.source in ("folder", "custom"):
                folder = Path(unit.location) if unit.source == "folder" else \
                    self.build_dir / ".artifacts" / unit.owner
                root: Path | None = folder
                blobs = node_sdk.folder_sources(folder, self.names.get(unit.uid, ()))
            elif unit.source == "file":
                root, blobs = None, iter([Path(unit.location).read_bytes()])
            elif unit.source == "zip":
                root, blobs = None, node_sdk.zip_sources(Path(unit.location))
            else:
                root, blobs = None, iter([unit.location.encode()])
            wanted = node_sdk.scan(blobs) - node_sdk.bundled(root, self.unit_names(unit, zip_path, full=True))
            record["node_sdk"] = sorted(wanted)
        if record["node_sdk"]:
            from samlite.config import load_settings

            problem = node_sdk.ensure(record["node_sdk"], load_settings().cache_dir)
            if problem:
                self.warnings.append(BuildWarning(unit.owner, problem))

    def _check_unzipped(self, owner: str, size: int) -> None:
        if size > UNZIPPED_LIMIT:
            raise BuildError(f"{owner}: package is {_mb(size)} unzipped, over Lambda's limit of "
                             f"{_mb(UNZIPPED_LIMIT)}",
                             hint=f"Trim dependencies or list large files in {IGNORE_FILE}.")

    def unit_names(self, unit: _Unit, zip_path: Path, full: bool = False) -> set[str]:
        """Arcnames of a unit; `full` adds what only the zip knows (a cached unit's dependencies)."""
        names = self.names.get(unit.uid)
        if names is None or full:
            try:
                with zipfile.ZipFile(zip_path) as zf:
                    names = (names or set()) | set(zf.namelist())
            except (OSError, zipfile.BadZipFile):
                names = names or set()
            self.names[unit.uid] = names
        return names


def _stat_key(path: str, owner: str) -> list[int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise BuildError(f"{owner}: cannot read {path}: {exc.strerror or exc}") from None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _zip_intact(zip_path: Path, record: dict[str, Any]) -> bool:
    try:
        st = zip_path.stat()
    except OSError:
        return False
    return st.st_size == record.get("zipped_size") and st.st_mtime_ns == record.get("zip_mtime_ns")


def _handler_candidates(fn: Function) -> list[str] | None:
    """Files one of which must exist for the handler to load; None when not checkable."""
    runtime = fn.runtime or ""
    # provided.* without a bootstrap (Go or Rust sources SAM would compile) still builds and
    # deploys: validate warns that samlite cannot run it, and invoking it says why.
    if not (runtime.startswith("python") or runtime.startswith("nodejs")):
        return None
    handler = fn.handler or ""
    if "." not in handler:
        raise BuildError(f"{fn.logical_id}: Handler {handler!r} is malformed; expected 'module.function'",
                         hint="For example Handler: app.lambda_handler")
    module = handler.rsplit(".", 1)[0]
    if runtime.startswith("python"):
        base = module.replace(".", "/")
        return [f"{base}.py", f"{base}/__init__.py"]
    return [module + ext for ext in _NODE_EXTS]


def _handler_found(fn: Function, names: set[str], layer_names: set[str]) -> bool:
    candidates = _handler_candidates(fn) or []
    if any(c in names for c in candidates):
        return True
    return (fn.runtime or "").startswith("python") and any(f"python/{c}" in layer_names for c in candidates)


def _handler_error(fn: Function, names: set[str], where: str) -> BuildError:
    candidates = _handler_candidates(fn) or []
    detail = "the code folder is empty" if not names else f"no {' or '.join(candidates)} in {where}"
    return BuildError(f"{fn.logical_id}: handler {fn.handler!r} cannot be loaded: {detail}",
                      hint="Fix Handler or CodeUri in the template.")


def build_stack(stack: Stack, build_dir: Path | None = None, on_progress: ProgressCallback | None = None,
                cache_dir: Path | None = None) -> BuildResult:
    """Build every function and layer of `stack`; return one Artifact per function and layer.

    Raises BuildError (naming the logical id) for missing code, unsafe or unreadable inputs,
    failed dependency installs, a handler whose module is missing, and Lambda's size limits.
    """
    build_dir = Path(build_dir or Path(stack.project_dir) / ".samlite" / "build").resolve()
    warnings: list[BuildWarning] = []
    units = _plan_units(stack, warnings)
    builder = _Builder(stack, build_dir, cache_dir, on_progress)
    artifacts: list[Artifact] = []
    layer_sizes: dict[str, int] = {}
    layer_names: set[str] = set()
    new_units: dict[str, Any] = {}
    not_built: dict[str, str] = {}
    for unit in units:  # layers come first, so handler checks can see their files
        try:
            record, rebuilt = builder.build_unit(unit)
        except methods.NotEmulated as exc:
            for lid in unit.members:
                not_built[lid] = str(exc)
                warnings.append(BuildWarning(lid, str(exc)))
            continue
        new_units[unit.uid] = record
        zip_path = build_dir / record["zip"]
        for lid in unit.members:
            artifacts.append(Artifact(lid, unit.kind, zip_path, record["sha256"], record["zipped_size"],
                                      record["unzipped_size"], record["file_count"], unit.runtime, rebuilt))
            builder.on_progress(lid, "built" if rebuilt else "cached")
        if unit.kind == "function" and node_sdk.wants_sdk(unit.runtime):
            builder.provide_node_sdk(unit, record, rebuilt, zip_path)
        if unit.kind == "layer":
            layer_sizes[unit.owner] = record["unzipped_size"]
            layer_names |= builder.unit_names(unit, zip_path)
            continue
        for lid in unit.members:
            fn = stack.functions[lid]
            if _handler_candidates(fn) is None:
                continue
            names = builder.unit_names(unit, zip_path)
            if not _handler_found(fn, names, layer_names):
                names = builder.unit_names(unit, zip_path, full=True)
                if not _handler_found(fn, names, layer_names):
                    raise _handler_error(fn, names, unit.location if unit.source != "inline" else "InlineCode")
            total = record["unzipped_size"] + sum(layer_sizes.get(layer, 0) for layer in fn.layers)
            if total > UNZIPPED_LIMIT:
                raise BuildError(f"{lid}: function code plus its layers is {_mb(total)} unzipped, over "
                                 f"Lambda's limit of {_mb(UNZIPPED_LIMIT)}")
    artifacts += _public_layers(stack, warnings)
    for w in warnings:
        builder.on_progress(w.logical_id, "skipped")
    warnings.extend(builder.warnings)
    _write_outputs(build_dir, builder.previous, new_units, artifacts)
    not_built.update({lid: fn.not_emulated for lid, fn in stack.functions.items() if fn.not_emulated})
    return BuildResult(artifacts, warnings, not_built)


def _public_layers(stack: Stack, warnings: list[BuildWarning]) -> list[Artifact]:
    """Artifacts for well-known public layer ARNs (Powertools), keyed by the ARN; one warning per
    other public layer."""
    from samlite.config import load_settings
    from samlite.package import public_layers

    users: dict[str, list[Function]] = {}
    for fn in stack.functions.values():
        for layer in fn.layers:
            if layer not in stack.layers and public_layers.is_layer_arn(layer):
                users.setdefault(layer, []).append(fn)
    out: list[Artifact] = []
    for arn, fns in sorted(users.items()):
        known = public_layers.known(arn)
        if known is None:
            if not public_layers.is_parameters_and_secrets(arn):  # the engine serves that extension
                names = ", ".join(sorted(fn.logical_id for fn in fns))
                warnings.append(BuildWarning(fns[0].logical_id, f"layer {arn} is a public layer samlite cannot "
                                             f"download; {names} run without it"))
            continue
        runtime = fns[0].runtime or "python3.12"
        python = deps_mod.python_for_runtime(runtime)[0] if runtime.startswith("python") else sys.executable
        if known.tool == "pip":  # compiled wheels (pydantic-core) depend on the Python version
            known = public_layers.PublicLayer(f"{known.name}-{runtime}", known.tool, known.packages)
        path, stats = public_layers.ensure_zip(known, load_settings().cache_dir, python)
        out.append(Artifact(arn, "layer", path, str(stats["sha256"]), int(stats["zipped_size"]),
                            int(stats["unzipped_size"]), int(stats["file_count"]), runtime, False))
    return out


def _write_outputs(build_dir: Path, previous: dict[str, Any], units: dict[str, Any],
                   artifacts: list[Artifact]) -> None:
    build_dir.mkdir(parents=True, exist_ok=True)
    artifacts = [a for a in artifacts if a.path.parent == build_dir]  # public layers live in the cache
    outputs = sorted({a.path.name for a in artifacts} | {f"{a.logical_id}.json" for a in artifacts})
    for art in artifacts:
        meta = {k: v for k, v in art.to_dict().items() if k != "rebuilt"}
        _write_if_changed(build_dir / f"{art.logical_id}.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
    # Remove what an earlier build produced and this one no longer does (renamed functions).
    for name in set(previous.get("outputs", [])) - set(outputs):
        if "/" not in name and name != MANIFEST_NAME:
            (build_dir / name).unlink(missing_ok=True)
    manifest = {"version": BUILDER_VERSION, "units": units, "outputs": outputs}
    _write_if_changed(build_dir / MANIFEST_NAME, json.dumps(manifest, sort_keys=True, separators=(",", ":")))


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

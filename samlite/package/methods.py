"""SAM's build methods (`Metadata: BuildMethod: ...`): each turns a source folder into the folder
that is zipped.

- `esbuild`: bundles the BuildProperties' EntryPoints with esbuild (the project's own
  node_modules/.bin/esbuild, else a pinned esbuild installed once from npm into the cache), after
  installing package.json dependencies (devDependencies too) through the dependency cache.
  Options as SAM maps them: Minify, Target, Format, Sourcemap, External, Loader, Banner,
  MainFields, OutExtension. On nodejs18+ a project that does not depend on `@aws-sdk/*` gets it
  as external: the runtime provides it.
- `makefile`: `make build-<LogicalId>` with ARTIFACTS_DIR, in a scratch copy of the source
  folder, as SAM does.
- `rust-cargolambda`, `go1.x`: cargo-lambda or go when installed; otherwise `NotEmulated`, and the
  function is deployed without code (invoking it says why).
- `dotnet*`, `java*`/gradle/maven: `NotEmulated` (their runtimes do not run here).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping

from samlite.errors import BuildError

ESBUILD_VERSION = "0.25.9"  # pinned: the same bundle from the same inputs
BUILD_TIMEOUT = 900.0
_TAIL_LINES = 15
# Runtime-named methods that mean "build as usual" (SAM's default for that runtime).
DEFAULT_METHODS = re.compile(r"python\d+\.\d+|nodejs\d+\.x")


class NotEmulated(Exception):
    """The build needs a toolchain samlite does not emulate, and it is not installed."""


def is_custom(method: str | None) -> bool:
    return bool(method) and not DEFAULT_METHODS.fullmatch(method or "")


def run_build(method: str, props: Mapping[str, Any], logical_id: str, runtime: str | None, source: Path,
              out: Path, scratch: Path, cache_dir: Path) -> None:
    """Build `source` into the empty folder `out` (`scratch` is free to use)."""
    if method == "esbuild":
        _esbuild(props, logical_id, runtime, source, out, cache_dir)
    elif method == "makefile":
        _makefile(logical_id, source, out, scratch)
    elif method == "rust-cargolambda":
        _cargo_lambda(props, logical_id, source, out)
    elif method == "go1.x":
        _go(logical_id, source, out)
    elif method.startswith("dotnet") or method in ("java8", "java11", "java17", "java21", "gradle", "maven"):
        raise NotEmulated(f"BuildMethod {method} is not emulated by samlite: function {logical_id} is "
                          "deployed but cannot be invoked locally")
    else:
        raise BuildError(f"{logical_id}: unknown Metadata.BuildMethod {method!r}",
                         hint="samlite builds esbuild, makefile, rust-cargolambda, go1.x and the runtime's default.")


def _run(cmd: list[str], cwd: Path, logical_id: str, what: str, env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                              errors="replace", timeout=BUILD_TIMEOUT)
    except FileNotFoundError:
        raise BuildError(f"{logical_id}: cannot run {cmd[0]!r} for {what}") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{logical_id}: {what} timed out after {BUILD_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        lines = [line for line in (proc.stdout + "\n" + proc.stderr).splitlines() if line.strip()]
        raise BuildError(f"{logical_id}: {what} failed (exit {proc.returncode}):\n" + "\n".join(lines[-_TAIL_LINES:]))


# --- esbuild -----------------------------------------------------------------------------------


def _strings(props: Mapping[str, Any], key: str, logical_id: str) -> list[str]:
    value = props.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise BuildError(f"{logical_id}: Metadata.BuildProperties.{key} must be a string or a list of strings, "
                     f"not {json.dumps(value)}")


def _flag(props: Mapping[str, Any], key: str, logical_id: str) -> bool:
    value = props.get(key, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise BuildError(f"{logical_id}: Metadata.BuildProperties.{key} must be true or false, not {value!r}")
    return value


def esbuild_args(props: Mapping[str, Any], logical_id: str, runtime: str | None, source: Path, out: Path) -> list[str]:
    """esbuild's command line for SAM's BuildProperties (without the executable)."""
    known = {"EntryPoints", "Minify", "Target", "Format", "Sourcemap", "External", "Loader", "Banner", "MainFields",
             "OutExtension", "Platform", "UseNpmCi"}
    unknown = sorted(set(props) - known)
    if unknown:
        raise BuildError(f"{logical_id}: unknown Metadata.BuildProperties {', '.join(unknown)} for esbuild",
                         hint=f"esbuild takes {', '.join(sorted(known))}.")
    entries = _strings(props, "EntryPoints", logical_id)
    if not entries:
        raise BuildError(f"{logical_id}: BuildMethod esbuild needs Metadata.BuildProperties.EntryPoints",
                         hint="For example EntryPoints: [app.ts]")
    for entry in entries:
        if not (source / entry).is_file():
            raise BuildError(f"{logical_id}: esbuild entry point {entry!r} does not exist in {source}")
    node = re.fullmatch(r"nodejs(\d+)\.x", runtime or "")
    target = props.get("Target") or (f"node{node.group(1)}" if node else "es2020")
    fmt = props.get("Format", "cjs")
    if fmt not in ("cjs", "esm"):
        raise BuildError(f"{logical_id}: Metadata.BuildProperties.Format must be cjs or esm, not {fmt!r}")
    args = [*entries, "--bundle", f"--platform={props.get('Platform', 'node')}", f"--format={fmt}",
            f"--target={target}", f"--outdir={out}", "--log-level=warning"]
    if _flag(props, "Minify", logical_id):
        args.append("--minify")
    if _flag(props, "Sourcemap", logical_id):
        args.append("--sourcemap")
    externals = _strings(props, "External", logical_id)
    if node and int(node.group(1)) >= 18 and not _names_sdk(source):
        # The runtime provides the v3 SDK (and samlite installs what the bundle imports), so a
        # project that does not depend on it leaves it out of the bundle instead of failing.
        externals.append("@aws-sdk/*")
    args += [f"--external:{name}" for name in externals]
    for loader in _strings(props, "Loader", logical_id):
        if "=" not in loader:
            raise BuildError(f"{logical_id}: Metadata.BuildProperties.Loader entries look like '.png=file', "
                             f"not {loader!r}")
        args.append(f"--loader:{loader}")
    banner = props.get("Banner")
    if banner is not None:
        if not isinstance(banner, str):
            raise BuildError(f"{logical_id}: Metadata.BuildProperties.Banner must be a string")
        args.append(f"--banner:{banner}" if banner.startswith(("js=", "css=")) else f"--banner:js={banner}")
    main_fields = _strings(props, "MainFields", logical_id)
    if main_fields:
        args.append(f"--main-fields={','.join(main_fields)}")
    for ext in _strings(props, "OutExtension", logical_id):
        args.append(f"--out-extension:{ext}")
    return args


def _names_sdk(source: Path) -> bool:
    """The project's package.json depends on some @aws-sdk/* package (then it is bundled)."""
    try:
        manifest = json.loads((source / "package.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    names = [*(manifest.get("dependencies") or {}), *(manifest.get("devDependencies") or {})]
    return any(str(name).startswith("@aws-sdk/") for name in names)


def esbuild_binary(source: Path, cache_dir: Path, logical_id: str) -> str:
    """The project's own esbuild, else the pinned one from the cache (installed from npm once)."""
    own = source / "node_modules" / ".bin" / "esbuild"
    if own.is_file():
        return str(own)
    tool = cache_dir / "tools" / f"esbuild-{ESBUILD_VERSION}"
    binary = tool / "node_modules" / ".bin" / "esbuild"
    if binary.is_file():
        return str(binary)
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"{logical_id}: BuildMethod esbuild needs esbuild, and npm is not on PATH to install it",
                         hint="Install Node.js (npm), or add esbuild to the project's devDependencies.")
    import tempfile

    tool.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{tool.name}.", dir=tool.parent))
    try:
        (tmp / "package.json").write_text('{"private": true}')
        _run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock", f"esbuild@{ESBUILD_VERSION}"],
             tmp, logical_id, f"npm install esbuild@{ESBUILD_VERSION}")
        try:
            os.rename(tmp, tool)
        except OSError:
            if not binary.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(binary)


def _esbuild(props: Mapping[str, Any], logical_id: str, runtime: str | None, source: Path, out: Path,
             cache_dir: Path) -> None:
    args = esbuild_args(props, logical_id, runtime, source, out)
    env: dict[str, str] = {}
    if (source / "package.json").is_file() and not (source / "node_modules").is_dir():
        from samlite.package import deps

        spec = deps.deps_spec(source, runtime if runtime and runtime.startswith("nodejs") else "nodejs20.x")
        if spec is not None:
            # As `sam build` does for esbuild: devDependencies too (types, build-time imports).
            spec = dataclasses.replace(spec, key=spec.key + "-dev", dev=True)
            folder, _ = deps.ensure_deps(spec, cache_dir / "deps", logical_id)
            env["NODE_PATH"] = str(folder / "node_modules")  # esbuild resolves bare imports here too
    _run([esbuild_binary(source, cache_dir, logical_id), *args], source, logical_id, "esbuild", env)


# --- makefile ----------------------------------------------------------------------------------


def _makefile(logical_id: str, source: Path, out: Path, scratch: Path) -> None:
    if not any((source / name).is_file() for name in ("Makefile", "makefile", "GNUmakefile")):
        raise BuildError(f"{logical_id}: BuildMethod makefile, but {source} has no Makefile")
    make = shutil.which("make")
    if make is None:
        raise BuildError(f"{logical_id}: BuildMethod makefile needs `make`, which is not on PATH")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(source, scratch, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".samlite", ".aws-sam", "__pycache__"))
    _run([make, f"build-{logical_id}"], scratch, logical_id, f"make build-{logical_id}",
         {"ARTIFACTS_DIR": str(out)})


# --- compiled languages ------------------------------------------------------------------------


def _cargo_lambda(props: Mapping[str, Any], logical_id: str, source: Path, out: Path) -> None:
    if shutil.which("cargo-lambda") is None:
        raise NotEmulated(f"BuildMethod rust-cargolambda needs cargo-lambda, which is not installed: function "
                          f"{logical_id} is deployed but cannot be invoked locally")
    _run(["cargo", "lambda", "build", "--release", "--lambda-dir", str(out / ".lambda")], source, logical_id,
         "cargo lambda build")
    binaries = sorted(p for p in (out / ".lambda").glob("*/bootstrap") if p.is_file())
    wanted = props.get("Binary")
    chosen = next((p for p in binaries if p.parent.name == wanted), None) if wanted else \
        (binaries[0] if len(binaries) == 1 else None)
    if chosen is None:
        names = ", ".join(p.parent.name for p in binaries) or "none"
        raise BuildError(f"{logical_id}: cargo lambda built binaries {names}; name one with "
                         "Metadata.BuildProperties.Binary")
    shutil.copy2(chosen, out / "bootstrap")
    shutil.rmtree(out / ".lambda", ignore_errors=True)


def _go(logical_id: str, source: Path, out: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise NotEmulated(f"BuildMethod go1.x needs Go, which is not installed: function {logical_id} is "
                          "deployed but cannot be invoked locally")
    _run([go, "build", "-tags", "lambda.norpc", "-o", str(out / "bootstrap"), "."], source, logical_id, "go build",
         {"CGO_ENABLED": "0"})

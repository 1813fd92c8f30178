"""Well-known public layers, provided from the package registries instead of AWS.

A function's `Layers` entry that is a layer version ARN from another account cannot be downloaded
without AWS. For Powertools for AWS Lambda, whose layers are its PyPI and npm releases, samlite
installs the release into the cache once (pip --target python/, npm into nodejs/node_modules),
zips it once, and deploys it as that layer. A layer ARN maps to the latest release of its major
version, pinned here (the layer's own version number is not mapped to a release).

The AWS Parameters and Secrets Lambda Extension needs no files: the engine serves it (see
core.runtime.extensions). Any other public layer is reported once per build by ARN.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from samlite.core.runtime import wants_extension
from samlite.errors import BuildError
from samlite.package.zipper import ZipSource, write_zip

INSTALL_TIMEOUT = 900.0
NPM_SNAPSHOT = "2025-09-01"


@dataclass(frozen=True)
class PublicLayer:
    name: str  # the cache folder and zip name
    tool: str  # "pip" | "npm"
    packages: tuple[str, ...]


# (ARN layer name pattern, the release it gets). Publisher accounts: 017000801446 (Python),
# 094274105915 (TypeScript).
_KNOWN: list[tuple[re.Pattern[str], PublicLayer]] = [
    (re.compile(r"017000801446:layer:AWSLambdaPowertoolsPythonV3-python3\d+-(x86_64|arm64)"),
     PublicLayer("powertools-python-3.19.0", "pip", ("aws-lambda-powertools[tracer,validation,parser]==3.19.0",))),
    (re.compile(r"017000801446:layer:AWSLambdaPowertoolsPythonV2(-Arm64)?"),
     PublicLayer("powertools-python-2.43.1", "pip", ("aws-lambda-powertools[tracer,validation,parser]==2.43.1",))),
    (re.compile(r"017000801446:layer:AWSLambdaPowertoolsPython"),
     PublicLayer("powertools-python-1.31.1", "pip", ("aws-lambda-powertools[pydantic]==1.31.1",))),
    # The TypeScript packages are not all released together: each at its latest of the major as of
    # the snapshot date (`npm install --before`), like the layer of that date.
    (re.compile(r"094274105915:layer:AWSLambdaPowertoolsTypeScriptV2"),
     PublicLayer(f"powertools-typescript-2-{NPM_SNAPSHOT}", "npm", tuple(
         f"@aws-lambda-powertools/{p}@^2" for p in
         ("commons", "logger", "metrics", "tracer", "parameters", "idempotency", "batch")))),
    (re.compile(r"094274105915:layer:AWSLambdaPowertoolsTypeScript"),
     PublicLayer(f"powertools-typescript-1-{NPM_SNAPSHOT}", "npm", tuple(
         f"@aws-lambda-powertools/{p}@^1" for p in ("commons", "logger", "metrics", "tracer", "parameters")))),
]
_LAYER_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+")


def is_layer_arn(value: str) -> bool:
    return bool(_LAYER_ARN.fullmatch(value))


def known(arn: str) -> PublicLayer | None:
    for pattern, layer in _KNOWN:
        if re.search(pattern.pattern + r":\d+$", arn):
            return layer
    return None


def is_parameters_and_secrets(arn: str) -> bool:
    return wants_extension([arn])


def ensure_zip(layer: PublicLayer, cache_dir: Path, python: str) -> tuple[Path, dict[str, int | str]]:
    """The layer's zip in the cache (installed and zipped the first time) and its stats."""
    root = cache_dir / "layers"
    zip_path = root / f"{layer.name}.zip"
    stats_path = root / f"{layer.name}.json"
    if zip_path.is_file() and stats_path.is_file():
        return zip_path, json.loads(stats_path.read_text())
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{layer.name}.", dir=root))
    try:
        if layer.tool == "pip":
            cmd = [python, "-m", "pip", "install", "--target", str(tmp / "python"), "--no-compile",
                   "--disable-pip-version-check", "--no-input", *layer.packages]
            _run(cmd, tmp, layer.name)
        else:
            npm = shutil.which("npm")
            if npm is None:
                raise BuildError(f"public layer {layer.name} needs npm to install, and npm is not on PATH")
            (tmp / "nodejs").mkdir()
            (tmp / "nodejs" / "package.json").write_text('{"private": true}')
            _run([npm, "install", "--omit=dev", "--no-audit", "--no-fund", "--no-package-lock",
                  f"--before={NPM_SNAPSHOT}", *layer.packages],
                 tmp / "nodejs", layer.name)
            (tmp / "nodejs" / "package.json").unlink()
        sources = [ZipSource(str(p.relative_to(tmp)), path=str(p), executable=bool(p.stat().st_mode & 0o111))
                   for p in sorted(tmp.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
        stats = write_zip(sources, zip_path)
        record: dict[str, int | str] = {"sha256": stats.sha256, "zipped_size": stats.zipped_size,
                  "unzipped_size": stats.unzipped_size, "file_count": stats.file_count}
        stats_path.write_text(json.dumps(record))
        return zip_path, record
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(cmd: list[str], cwd: Path, name: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace",
                              timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"public layer {name}: cannot install it: {exc}") from None
    if proc.returncode != 0:
        tail = "\n".join([line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][-10:])
        raise BuildError(f"public layer {name}: install failed (exit {proc.returncode}):\n{tail}",
                         hint="The layer comes from PyPI or npm: check the network, or remove the layer.")

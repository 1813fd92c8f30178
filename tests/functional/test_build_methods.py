"""SAM's build methods: esbuild (TypeScript), makefile, a single-file CodeUri, and what is not
emulated (images, Rust without cargo-lambda) deploying with a warning while the rest runs.

esbuild comes from npm once into a download cache kept between runs (shared_cache_dir).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from samlite.package import methods, node_sdk
from samlite.testing import EngineHandle, require_registry, shared_cache_dir, write_project

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  TsFn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: ts-fn
      CodeUri: ts/
      Handler: app.handler
      Runtime: nodejs20.x
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        EntryPoints: [app.ts]
        Minify: true
        Target: es2020
        Sourcemap: true
        Banner: "/* built by samlite */"
        External: ["@aws-sdk/*"]
  TsSdk:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: ts-sdk
      CodeUri: ts-sdk/
      Handler: app.handler
      Runtime: nodejs22.x
    Metadata:
      BuildMethod: esbuild
      BuildProperties: {EntryPoints: [app.ts], Format: esm, OutExtension: [.js=.mjs]}
  MakeFn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: make-fn
      CodeUri: made/
      Handler: app.handler
      Runtime: python3.11
    Metadata:
      BuildMethod: makefile
  OneFile:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: one-file
      CodeUri: single/handler.py
      Handler: handler.lambda_handler
      Runtime: python3.11
  ImageFn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: image-fn
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest
  RustFn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: rust-fn
      CodeUri: rust/
      Handler: bootstrap
      Runtime: provided.al2023
    Metadata:
      BuildMethod: rust-cargolambda
"""

FILES = {
    "ts/app.ts": """\
import { greet } from "./greet";
interface Event { name?: string }
export const handler = async (event: Event): Promise<{ message: string }> =>
  ({ message: greet(event.name ?? "world") });
""",
    "ts/greet.ts": "export function greet(name: string): string { return `hello ${name}`; }\n",
    # No package.json: the runtime's SDK, left out of the bundle (external) and provided at run time.
    "ts-sdk/app.ts": """\
import { SQSClient } from "@aws-sdk/client-sqs";
export const handler = async (): Promise<string> => typeof new SQSClient({}).send;
""",
    "made/Makefile": """\
build-MakeFn:
\tcp app.py "$(ARTIFACTS_DIR)/"
\techo '{"made": true}' > "$(ARTIFACTS_DIR)/made.json"
""",
    "made/app.py": """\
import json, os
def handler(event, context):
    with open(os.path.join(os.path.dirname(__file__), "made.json")) as fh:
        return json.load(fh)
""",
    "single/handler.py": "def lambda_handler(event, context):\n    return {'single': True}\n",
    "single/other.py": "raise SystemExit('not part of the package')\n",
    "rust/Cargo.toml": '[package]\nname = "rust-fn"\nversion = "0.1.0"\nedition = "2021"\n',
    "rust/src/main.rs": "fn main() {}\n",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineHandle]:
    if shutil.which("node") is None:
        pytest.skip("needs node on PATH")
    cache = shared_cache_dir()
    if not (cache / "tools" / f"esbuild-{methods.ESBUILD_VERSION}").is_dir() \
            or not node_sdk.installed(cache, "@aws-sdk/client-sqs"):
        require_registry("registry.npmjs.org")
    handle = EngineHandle(tmp_path_factory.mktemp("methods") / "home", {"SAMLITE_CACHE_DIR": str(cache)}).start()
    yield handle
    handle.close()


@pytest.fixture(scope="module")
def deployed(engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> tuple[EngineHandle, str]:
    root = tmp_path_factory.mktemp("methods-project")
    write_project(root, TEMPLATE, FILES)
    out = engine.cli("deploy", "-t", str(root / "template.yaml"), "--stack-name", "methods",
                     "--no-confirm-changeset", check=True, timeout=600)
    return engine, out.stderr


def _invoke(engine: EngineHandle, name: str) -> tuple[dict | str, str | None]:
    out = engine.client("lambda").invoke(FunctionName=name, Payload=b'{"name": "sam"}')
    return json.loads(out["Payload"].read()), out.get("FunctionError")


def test_typescript_built_with_esbuild(deployed: tuple[EngineHandle, str]) -> None:
    engine, _ = deployed
    assert _invoke(engine, "ts-fn") == ({"message": "hello sam"}, None)
    assert _invoke(engine, "ts-sdk") == ("function", None)


def test_makefile_and_single_file(deployed: tuple[EngineHandle, str]) -> None:
    engine, _ = deployed
    assert _invoke(engine, "make-fn") == ({"made": True}, None)
    assert _invoke(engine, "one-file") == ({"single": True}, None)


def test_image_and_rust_deploy_with_warnings_and_say_why(deployed: tuple[EngineHandle, str]) -> None:
    engine, stderr = deployed
    assert "ImageFn: PackageType Image is not emulated" in stderr
    body, error = _invoke(engine, "image-fn")
    assert error == "Unhandled" and body["errorType"] == "Runtime.InvalidRuntime"
    assert "PackageType Image is not emulated" in body["errorMessage"] and "ImageFn" in body["errorMessage"]
    if shutil.which("cargo-lambda") is None:
        assert "RustFn: BuildMethod rust-cargolambda needs cargo-lambda" in stderr
        body, error = _invoke(engine, "rust-fn")
        assert error == "Unhandled" and "cargo-lambda" in body["errorMessage"]


def _build(engine: EngineHandle, root: Path, template: str, files: dict[str, str]) -> str:
    write_project(root, template, files)
    out = engine.cli("build", "-t", str(root / "template.yaml"), timeout=300)
    assert out.returncode != 0, out.stdout
    return out.stderr


BAD = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: %s}
    Metadata: %s
"""


@pytest.mark.parametrize(("runtime", "metadata", "files", "expected"), [
    ("python3.11", "{BuildMethod: makefile}", {"src/Makefile": "build-Other:\n\ttrue\n", "src/app.py": ""},
     "make build-Fn failed"),
    ("python3.11", "{BuildMethod: makefile}", {"src/Makefile": "build-Fn:\n\texit 3\n", "src/app.py": ""},
     "make build-Fn failed (exit 2)"),
    ("python3.11", "{BuildMethod: makefile}", {"src/app.py": ""}, "has no Makefile"),
    ("nodejs20.x", "{BuildMethod: esbuild, BuildProperties: {EntryPoints: [app.ts], Format: umd}}",
     {"src/app.ts": ""}, "Format must be cjs or esm"),
    ("nodejs20.x", "{BuildMethod: esbuild, BuildProperties: {EntryPoints: [app.ts], Minfy: true}}",
     {"src/app.ts": ""}, "unknown Metadata.BuildProperties Minfy"),
    ("nodejs20.x", "{BuildMethod: esbuild, BuildProperties: {EntryPoints: [missing.ts]}}",
     {"src/app.ts": ""}, "entry point 'missing.ts' does not exist"),
    ("nodejs20.x", "{BuildMethod: esbuild}", {"src/app.ts": ""}, "needs Metadata.BuildProperties.EntryPoints"),
    ("nodejs20.x", "{BuildMethod: esbuild, BuildProperties: {EntryPoints: [app.ts]}}",
     {"src/app.ts": "export const handler = (: number) => 1;\n"}, "esbuild failed"),
    ("python3.11", "{BuildMethod: cobol}", {"src/app.py": ""}, "unknown Metadata.BuildMethod 'cobol'"),
])
def test_bad_build_input_is_a_clear_error(engine: EngineHandle, tmp_path: Path, runtime: str, metadata: str,
                                          files: dict[str, str], expected: str) -> None:
    stderr = _build(engine, tmp_path, BAD % (runtime, metadata), files)
    assert "Fn" in stderr and expected in stderr, stderr

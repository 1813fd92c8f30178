"""The AWS SDK for JavaScript v3 in the Node runtime, as Lambda's nodejs18.x+ runtimes ship it.

Needs node, npm and (the first time) registry.npmjs.org: the SDK lands in a download cache kept
between test runs (samlite.testing.shared_cache_dir).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from samlite.core.runtime.node_sdk import node_sdk_root
from samlite.package import node_sdk
from samlite.testing import EngineHandle, require_registry, shared_cache_dir, write_project

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="needs node and npm on PATH")

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: nodejs22.x
    Timeout: 10
Resources:
  Queue:
    Type: AWS::SQS::Queue
  EsmSender:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: esm/
      Handler: app.handler
      Environment: {Variables: {QUEUE_URL: !Ref Queue}}
  CjsSender:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: cjs/
      Handler: app.handler
      Environment: {Variables: {QUEUE_URL: !Ref Queue}}
  OwnCopy:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: own/
      Handler: app.handler
  FromLayer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: uses-layer/
      Handler: app.handler
      Layers: [!Ref SdkLayer]
  SdkLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  V2:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: v2/
      Handler: app.handler
"""

FILES = {
    # ES module, no package.json: `import` finds the runtime's SDK.
    "esm/app.mjs": """\
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
const sqs = new SQSClient({});
export const handler = async (event) => {
  const out = await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: "from esm" }));
  return { id: out.MessageId };
};
""",
    # CommonJS, no package.json: `require` finds it too.
    "cjs/app.js": """\
const { SQSClient, SendMessageCommand } = require("@aws-sdk/client-sqs");
const sqs = new SQSClient({});
exports.handler = async () => {
  const out = await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: "from cjs" }));
  return { id: out.MessageId };
};
""",
    # A bundled copy of the package wins over the runtime's, for require and import alike.
    "own/app.mjs": """\
import { createRequire } from "node:module";
import { who } from "@aws-sdk/client-sqs";
const require = createRequire(import.meta.url);
export const handler = async () => ({ esm: who, cjs: require("@aws-sdk/client-sqs").who });
""",
    "own/node_modules/@aws-sdk/client-sqs/package.json": '{"name": "@aws-sdk/client-sqs", "main": "index.js"}',
    "own/node_modules/@aws-sdk/client-sqs/index.js": "exports.who = 'bundled';\n",
    # A layer's copy wins over the runtime's for require, as NODE_PATH orders them on Lambda.
    "uses-layer/app.js": """\
exports.handler = async () => ({ who: require("@aws-sdk/client-sqs").who ?? "runtime" });
""",
    "layer/nodejs/node_modules/@aws-sdk/client-sqs/package.json": '{"name": "@aws-sdk/client-sqs", "main": "i.js"}',
    "layer/nodejs/node_modules/@aws-sdk/client-sqs/i.js": "exports.who = 'layer';\n",
    # The v2 SDK is not part of nodejs18.x and later.
    "v2/app.js": """\
exports.handler = async () => {
  try { require("aws-sdk"); return "present"; } catch (e) { return e.code; }
};
""",
}


def _needs_sdk(*packages: str) -> Path:
    cache = shared_cache_dir()
    if not all(node_sdk.installed(cache, p) for p in packages):
        require_registry("registry.npmjs.org")
    return cache


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineHandle]:
    cache = _needs_sdk("@aws-sdk/client-sqs")
    home = tmp_path_factory.mktemp("node-sdk") / "home"
    handle = EngineHandle(home, {"SAMLITE_CACHE_DIR": str(cache)}).start()
    yield handle
    handle.close()


@pytest.fixture(scope="module")
def deployed(engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    root = tmp_path_factory.mktemp("node-sdk-project")
    write_project(root, TEMPLATE, FILES)
    engine.cli("deploy", "-t", str(root / "template.yaml"), "--stack-name", "sdk", "--no-confirm-changeset",
               check=True, timeout=600)
    return engine


def _invoke(engine: EngineHandle, name: str) -> object:
    lam = engine.client("lambda")
    full = next(f["FunctionName"] for f in lam.list_functions()["Functions"] if f"-{name}-" in f["FunctionName"])
    out = lam.invoke(FunctionName=full)
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def test_import_and_require_reach_the_local_queue(deployed: EngineHandle) -> None:
    sqs = deployed.client("sqs")
    url = sqs.list_queues()["QueueUrls"][0]
    first = _invoke(deployed, "EsmSender")
    second = _invoke(deployed, "CjsSender")
    assert first["id"] and second["id"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    assert sorted(m["Body"] for m in got) == ["from cjs", "from esm"]


def test_function_and_layer_copies_win_and_v2_is_absent(deployed: EngineHandle) -> None:
    assert _invoke(deployed, "OwnCopy") == {"esm": "bundled", "cjs": "bundled"}
    assert _invoke(deployed, "FromLayer") == {"who": "layer"}
    assert _invoke(deployed, "V2") == "MODULE_NOT_FOUND"


def test_sdk_is_installed_once_at_the_pinned_snapshot(deployed: EngineHandle) -> None:
    root = node_sdk_root(shared_cache_dir())
    manifest = json.loads((root / "package.json").read_text())
    assert "@aws-sdk/client-sqs" in manifest["dependencies"]
    assert "aws-sdk" not in manifest["dependencies"]
    # the bundled and layer copies asked for nothing more
    assert not (root / "node_modules" / "aws-sdk").exists()


def test_scan_finds_specifiers_and_skips_bundled_packages(tmp_path: Path) -> None:
    found = node_sdk.scan([b'import {X} from "@aws-sdk/client-s3";\nconst d = require(\'@aws-sdk/lib-dynamodb\');\n'
                           b'await import(`@aws-sdk/client-sns/dist-cjs/index.js`); // "aws-sdk" v2 is not v3'])
    assert found == {"@aws-sdk/client-s3", "@aws-sdk/lib-dynamodb", "@aws-sdk/client-sns"}
    (tmp_path / "package.json").write_text('{"dependencies": {"@aws-sdk/client-s3": "^3"}}')
    own = node_sdk.bundled(tmp_path, {"node_modules/@aws-sdk/lib-dynamodb/package.json", "app.js"})
    assert own == {"@aws-sdk/client-s3", "@aws-sdk/lib-dynamodb"}
    assert node_sdk.wants_sdk("nodejs18.x") and node_sdk.wants_sdk("nodejs24.x")
    assert not node_sdk.wants_sdk("nodejs16.x") and not node_sdk.wants_sdk("python3.12")


def test_unknown_package_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    require_registry("registry.npmjs.org")
    problem = node_sdk.ensure(["@aws-sdk/client-does-not-exist-samlite"], tmp_path)
    assert problem and "@aws-sdk/client-does-not-exist-samlite" in problem
    assert "client-does-not-exist" not in (node_sdk_root(tmp_path) / "package.json").read_text()

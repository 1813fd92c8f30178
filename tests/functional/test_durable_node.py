"""Lambda durable functions with the Node SDK (@aws/durable-execution-sdk-js, from the project's
package.json): a step, a 2 s wait, a callback sent from the test with boto3, a parallel block and
an invoke of another function.

Needs node, npm and (the first time) registry.npmjs.org: the project's dependencies land in a
download cache kept between test runs (samlite.testing.shared_cache_dir).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, require_registry, shared_cache_dir, wait_for, write_project

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="needs node and npm on PATH")

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  NodeFlow:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs22.x
      Handler: index.handler
      CodeUri: src/
      Timeout: 30
      DurableConfig:
        ExecutionTimeout: 600
      Environment:
        Variables:
          HELPER: !Ref NodeHelper
  NodeHelper:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs22.x
      Handler: helper.handler
      CodeUri: src/
"""

FILES = {
    "src/package.json": json.dumps({"name": "node-durable", "version": "1.0.0",
                                    "dependencies": {"@aws/durable-execution-sdk-js": "^2.4.0"}}),
    "src/index.js": """\
const { withDurableExecution } = require('@aws/durable-execution-sdk-js');

exports.handler = withDurableExecution(async (event, context) => {
  const doubled = await context.step('double', async () => event.x * 2);
  await context.wait('pause', { seconds: 2 });
  const approval = await context.waitForCallback('approval', async (callbackId) => {});
  const both = await context.parallel('both', [
    async (ctx) => ctx.step('left', async () => 'left'),
    async (ctx) => ctx.step('right', async () => 'right'),
  ]);
  const helped = await context.invoke('help', process.env.HELPER, { n: doubled });
  return { doubled, approval, parallel: both.getResults(), helped };
});
""",
    "src/helper.js": "exports.handler = async (event) => ({ helped: event.n + 1 });\n",
}


def test_node_sdk_step_wait_callback_parallel_invoke(tmp_path: Path) -> None:
    cache = shared_cache_dir()
    if not any(cache.glob("deps/*/node_modules/@aws/durable-execution-sdk-js/package.json")):
        require_registry("registry.npmjs.org")
    engine = EngineHandle(tmp_path / "home", {"SAMLITE_CACHE_DIR": str(cache)}).start()
    try:
        engine.deploy(write_project(tmp_path / "project", TEMPLATE, FILES), "nodedurable")
        lam = engine.client("lambda")
        [name] = [f["FunctionName"] for f in lam.list_functions()["Functions"]
                  if f["FunctionName"].startswith("nodedurable-NodeFlow-")]
        arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"x": 21}')["DurableExecutionArn"]

        def callback_id() -> str | None:
            events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
            return next((e["CallbackStartedDetails"]["CallbackId"] for e in events
                         if e["EventType"] == "CallbackStarted"), None)

        cb = wait_for(callback_id, timeout=60, interval=0.2, message="the callback to be created")
        lam.send_durable_execution_callback_success(CallbackId=cb, Result=b'"ok"')

        def ended() -> Any:
            got = lam.get_durable_execution(DurableExecutionArn=arn)
            return got if got["Status"] != "RUNNING" else None

        got = wait_for(ended, timeout=90, interval=0.2, message="the execution to end")
        assert got["Status"] == "SUCCEEDED", got
        assert json.loads(got["Result"]) == {"doubled": 42, "approval": '"ok"', "parallel": ["left", "right"],
                                             "helped": {"helped": 43}}
        events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        kinds = [e["EventType"] for e in events]
        for kind in ("StepSucceeded", "WaitSucceeded", "CallbackSucceeded", "ChainedInvokeSucceeded",
                     "ExecutionSucceeded"):
            assert kind in kinds, (kind, kinds)
        [started] = [e for e in events if e["EventType"] == "WaitStarted"]
        [done] = [e for e in events if e["EventType"] == "WaitSucceeded"]
        assert (done["EventTimestamp"] - started["EventTimestamp"]).total_seconds() >= 2.0
    finally:
        engine.close()

"""nodejs* functions: the shipped Node bootstrap over the Runtime API, through the InvokeService."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from invoke_lab import ARN, lab, run

from samlite.core.runtime import interpreters

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

CJS_APP = """\
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  console.log('event', JSON.stringify(event));
  console.warn(JSON.stringify({ multi: true }, null, 2));
  if (event.fail) throw new TypeError('bad ' + event.fail);
  if (event.thrown) throw 'just a string';
  return {
    count, pid: process.pid,
    functionName: context.functionName, functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId, logGroupName: context.logGroupName, logStreamName: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(), waits: context.callbackWaitsForEmptyEventLoop,
    identity: context.identity ?? null, clientContext: context.clientContext ?? null,
    taskRoot: process.env.LAMBDA_TASK_ROOT, cwd: process.cwd(), api: process.env.AWS_LAMBDA_RUNTIME_API,
    trace: process.env._X_AMZN_TRACE_ID, exec: process.env.AWS_EXECUTION_ENV,
  };
};
"""

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(\S+)\t(INFO|WARN|ERROR)\t(.*)$", re.S)


def test_commonjs_async_handler_context_and_logs(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            spec = L.add("cjs", {"src/app.js": CJS_APP}, runtime="nodejs20.x", handler="src/app.handler",
                         timeout=5, memory_size=256)
            first = await L.invoke("cjs", {"a": 1})
            assert first.function_error is None, first.log_tail
            out = json.loads(first.payload)
            assert out["count"] == 1 and out["functionName"] == "cjs" and out["functionVersion"] == "$LATEST"
            assert out["invokedFunctionArn"] == ARN.format("cjs") and out["memoryLimitInMB"] == "256"
            assert out["awsRequestId"] == first.request_id and out["logGroupName"] == "/aws/lambda/cjs"
            assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", out["logStreamName"])
            assert 0 < out["remaining"] <= 5000 and out["waits"] is True
            assert out["identity"] is None and out["clientContext"] is None
            assert out["taskRoot"] == out["cwd"] == str(spec.code_dir)
            assert out["api"].startswith("127.0.0.1:") and out["trace"].startswith("Root=1-")
            assert out["exec"] == "AWS_Lambda_nodejs20.x"
            assert first.cold and first.init_ms is not None
            events = first.log_tail.splitlines()
            assert events[0] == f"START RequestId: {first.request_id} Version: $LATEST"
            match = LINE.match(events[1])
            assert match and match.groups() == (first.request_id, "INFO", 'event {"a":1}')
            # a multi-line console message is ONE log event
            log_text = first.log_tail.split("\nEND RequestId")[0]
            assert f"\t{first.request_id}\tWARN\t{{\n  \"multi\": true\n}}" in log_text
            warm = await L.invoke("cjs", {"b": 2})
            assert json.loads(warm.payload)["count"] == 2 and json.loads(warm.payload)["pid"] == out["pid"]
            assert not warm.cold
            # errors: {errorType, errorMessage, trace} with errorType = error.name
            failed = await L.invoke("cjs", {"fail": "x"})
            assert failed.error_type == "TypeError"
            error = json.loads(failed.payload)
            assert list(error) == ["errorType", "errorMessage", "trace"]
            assert error["errorMessage"] == "bad x" and error["trace"][0] == "TypeError: bad x"
            assert any("src/app.js" in frame for frame in error["trace"])
            assert f"\t{failed.request_id}\tERROR\tInvoke Error \t{{\"errorType\":\"TypeError\"" in failed.log_tail
            thrown = json.loads((await L.invoke("cjs", {"thrown": 1})).payload)
            assert thrown == {"errorType": "string", "errorMessage": "just a string", "trace": []}
            # the environment survives handler errors
            assert json.loads((await L.invoke("cjs", {})).payload)["pid"] == out["pid"]
    run(body())


def test_es_modules_callbacks_and_sync_handlers(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("mjs", {"app.mjs": "export const handler = async (event) => ({ esm: true, event });\n"},
                  runtime="nodejs22.x")
            result = await L.invoke("mjs", {"x": 1})
            assert json.loads(result.payload) == {"esm": True, "event": {"x": 1}}, result.log_tail
            L.add("typemod", {"package.json": '{"type": "module"}',
                              "lib/app.js": "import os from 'node:os';\n"
                                            "export async function handler() { return typeof os.cpus; }\n"},
                  runtime="nodejs20.x", handler="lib/app.handler")
            assert json.loads((await L.invoke("typemod")).payload) == "function"
            L.add("cb", {"index.js": "exports.handler = (event, context, callback) => {\n"
                                     "  if (event.err) return callback(new RangeError('cb failed'));\n"
                                     "  setTimeout(() => callback(null, { via: 'callback' }), 5);\n};\n"},
                  runtime="nodejs20.x", handler="index.handler")
            assert json.loads((await L.invoke("cb")).payload) == {"via": "callback"}
            cb_error = await L.invoke("cb", {"err": 1})
            assert cb_error.error_type == "RangeError"
            assert json.loads(cb_error.payload)["errorMessage"] == "cb failed"
            L.add("promise", {"app.cjs": "exports.nested = { fn: (e) => Promise.resolve(e.v * 2) };\n"},
                  runtime="nodejs20.x", handler="app.nested.fn")
            assert json.loads((await L.invoke("promise", {"v": 21})).payload) == 42
            L.add("undef", {"app.js": "exports.handler = async () => undefined;\n"}, runtime="nodejs20.x")
            assert (await L.invoke("undef")).payload == b"null"
    run(body())


def test_init_errors_are_lambda_node_errors(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("missing", {"other.js": ""}, runtime="nodejs20.x")
            missing = await L.invoke("missing")
            assert missing.error_type == "Runtime.ImportModuleError"
            error = json.loads(missing.payload)
            assert error["errorType"] == "Runtime.ImportModuleError"
            assert error["errorMessage"].startswith("Error: Cannot find module 'app'")
            assert error["trace"][0].startswith("Runtime.ImportModuleError: Error: Cannot find module 'app'")
            assert "\tundefined\tERROR\tUncaught Exception \t" in missing.log_tail
            assert "INIT_REPORT Init Duration:" in missing.log_tail
            # Lambda reports the memory the runtime used before failing, never 0 MB
            used = re.search(r"Max Memory Used: (\d+) MB", missing.log_tail)
            assert used and int(used.group(1)) > 0 and missing.max_memory_mb == int(used.group(1))

            L.add("nohandler", {"app.js": "exports.other = async () => 1;\n"}, runtime="nodejs20.x")
            nohandler = json.loads((await L.invoke("nohandler")).payload)
            assert nohandler["errorType"] == "Runtime.HandlerNotFound"
            assert nohandler["errorMessage"] == "app.handler is undefined or not exported"

            L.add("syntax", {"app.js": "exports.handler = async () => {\n  return {;\n};\n"}, runtime="nodejs20.x")
            syntax = json.loads((await L.invoke("syntax")).payload)
            assert syntax["errorType"] == "Runtime.UserCodeSyntaxError"
            assert syntax["errorMessage"].startswith("SyntaxError: ")

            L.add("throws", {"app.js": "throw new Error('no config at load');\n"}, runtime="nodejs20.x")
            throws = await L.invoke("throws")
            assert throws.error_type == "Error" and json.loads(throws.payload)["errorMessage"] == "no config at load"

            L.add("malformed", {"app.js": ""}, runtime="nodejs20.x", handler="app")
            assert (await L.invoke("malformed")).error_type == "Runtime.MalformedHandlerName"
    run(body())


def test_timeout_crash_and_rejection(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            code = ("exports.handler = async (event) => {\n"
                    "  if (event.hang) return new Promise(() => setInterval(() => {}, 1000));\n"
                    "  if (event.exit) { console.log('bye'); process.exit(7); }\n"
                    "  if (event.reject) { Promise.reject(new Error('nobody caught me')); "
                    "return new Promise(() => setInterval(() => {}, 1000)); }\n"
                    "  return process.pid;\n};\n")
            L.add("n", {"app.js": code}, runtime="nodejs20.x", timeout=1)
            hang = await L.invoke("n", {"hang": True})
            assert hang.error_type == "Sandbox.Timedout" and "Status: timeout" in hang.log_tail
            exited = await L.invoke("n", {"exit": True})
            assert exited.cold and exited.error_type == "Runtime.ExitError"
            assert json.loads(exited.payload)["errorMessage"].endswith("Runtime exited with error: exit status 7")
            assert "\tINFO\tbye" in exited.log_tail
            rejected = await L.invoke("n", {"reject": True})
            assert rejected.error_type == "Runtime.UnhandledPromiseRejection", rejected.log_tail
            assert json.loads(rejected.payload)["errorMessage"] == "Error: nobody caught me"
            ok = await L.invoke("n", {})
            assert ok.function_error is None and ok.cold
    run(body())


def test_node_version_mismatch_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    interpreters._resolved.pop("nodejs18.x", None)
    caplog.set_level(logging.WARNING, logger="samlite.engine")

    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("old", {"app.js": "exports.handler = async () => process.versions.node;\n"}, runtime="nodejs18.x")
            first = await L.invoke("old")
            await L.invoke("old")
            await asyncio.gather(L.invoke("old"), L.invoke("old"))
            major = int(json.loads(first.payload).split(".")[0])
            warnings = [r.getMessage() for r in caplog.records if "nodejs18.x" in r.getMessage()]
            if major == 18:
                assert warnings == []
            else:
                assert warnings == [f"runtime nodejs18.x: no Node.js 18 on PATH, using Node.js {major} "
                                    f"({interpreters._resolved['nodejs18.x'].path})"]
    run(body())


STACKS = Path(__file__).parent / "stacks"


def test_node_sqs_example_runs_unmodified(tmp_path: Path, samlite_engine: object) -> None:
    """The seed's queue example: deploy, send a message, and see the Node function log it."""
    from samlite.testing import EngineHandle, wait_for

    engine: EngineHandle = samlite_engine  # type: ignore[assignment]
    project = tmp_path / "node-sqs"
    shutil.copytree(STACKS / "node-sqs", project)
    engine.deploy(project / "template.yaml", "S")
    body = json.dumps({"order": "n-42", "note": "hello from samlite"})
    sent = engine.cli("send-message", "MySqsQueue", "--stack-name", "S", "--body", body, check=True)
    message_id = sent.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", message_id), sent.stdout

    def logged() -> str | None:
        out = engine.cli("logs", "-n", "MySQSQueueFunction", "--stack-name", "S").stdout
        return out if message_id in out and "REPORT RequestId" in out else None

    out = wait_for(logged, timeout=30, interval=0.2, message="the Node function to log the SQS record")
    line = next(text for text in out.splitlines() if message_id in text)
    record = json.loads(line.split("\tINFO\t", 1)[1])
    assert record["messageId"] == message_id and record["body"] == body
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].startswith("arn:aws:sqs:us-east-1:123456789012:")

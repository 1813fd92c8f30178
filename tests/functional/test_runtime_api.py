"""The Lambda Runtime API served per environment: provided.* bootstraps (shell + curl, Python
probes) and awslambdaric, driven through the real InvokeService (limits, logs, timeouts)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from invoke_lab import ARN, lab, run

CURL_BOOTSTRAP = """\
#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "init handler=$_HANDLER cwd=$(pwd) root=$LAMBDA_TASK_ROOT api=$AWS_LAMBDA_RUNTIME_API"
HEADERS="$(mktemp)"
while true; do
  EVENT=$(curl -sSf -D "$HEADERS" "$API/invocation/next")
  RID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "event $EVENT pid $$"
  case "$EVENT" in
    *fail*) curl -sSf -X POST -H "Lambda-Runtime-Function-Error-Type: Custom.Failure" \\
              -d '{"errorMessage":"it failed","errorType":"Custom.Failure","stackTrace":[]}' \\
              "$API/invocation/$RID/error" >/dev/null ;;
    *) curl -sSf -X POST -d "{\\"echo\\": $EVENT, \\"pid\\": $$}" "$API/invocation/$RID/response" >/dev/null ;;
  esac
done
"""

# A Python bootstrap (stdlib only) that probes the API's error answers and reports them.
PROBE_BOOTSTRAP = """\
#!{python}
import json, os, sys, urllib.request, urllib.error
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"

def call(method, route, body=None, headers=None):
    req = urllib.request.Request(API + route, data=body, method=method, headers=headers or {{}})
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, {{k.lower(): v for k, v in res.headers.items()}}, res.read()
    except urllib.error.HTTPError as err:
        return err.code, {{k.lower(): v for k, v in err.headers.items()}}, err.read()

def answer(status, body):
    return {{"status": status, "body": json.loads(body) if body.startswith(b"{{") else body.decode()}}

seen = {{"early_response": answer(*call("POST", "/invocation/x/response", b"{{}}")[::2]),
        "unknown_path": call("GET", "/nope")[0]}}
if os.environ.get("PROBE_INIT_ERROR"):
    print("failing init on purpose", flush=True)
    call("POST", "/init/error", b'{{"errorMessage":"no config","errorType":"Custom.InitFailed","stackTrace":[]}}',
         {{"Lambda-Runtime-Function-Error-Type": "Custom.InitFailed"}})
    sys.exit(0)
while True:
    status, headers, body = call("GET", "/invocation/next")
    rid = headers["lambda-runtime-aws-request-id"]
    event = json.loads(body)
    seen["late_init_error"] = answer(*call("POST", "/init/error", b"{{}}")[::2])
    seen["second_next"] = call("GET", "/invocation/next")[0]
    seen["wrong_id"] = answer(*call("POST", "/invocation/not-" + rid + "/response", b"{{}}")[::2])
    seen["headers"] = {{k: v for k, v in headers.items() if k.startswith("lambda-runtime")}}
    action = event.get("do") if isinstance(event, dict) else None
    if action == "big":
        seen["big"] = answer(*call("POST", "/invocation/" + rid + "/response", b"x" * 6291557)[::2])
        print(json.dumps(seen), flush=True)
        continue
    if action == "crash":
        print("about to crash", flush=True)
        os._exit(3)
    if action == "hog":
        hog = bytearray(300 * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    if action == "hang":
        child = os.fork()
        if child == 0:
            os.execvp("sleep", ["sleep", "60"])
        with open(event["pidfile"], "w") as fh:
            fh.write(str(child))
        os.waitpid(child, 0)
    if action == "raw_error":
        call("POST", "/invocation/" + rid + "/error", b"not json at all", {{"Lambda-Runtime-Function-Error-Type": "Raw.Type"}})
        continue
    print("handled", rid, flush=True)
    first = call("POST", "/invocation/" + rid + "/response", json.dumps(seen).encode())
    seen = {{"repeat": answer(*call("POST", "/invocation/" + rid + "/response", b"{{}}")[::2]), "first": first[0]}}
"""


def probe(python: str = sys.executable) -> str:
    return PROBE_BOOTSTRAP.format(python=python)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_shell_bootstrap_with_curl(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            spec = L.add("sh", {"bootstrap": CURL_BOOTSTRAP}, handler="function.handler")
            first = await L.invoke("sh", {"a": 1})
            assert first.function_error is None and first.cold and first.init_ms is not None
            out = json.loads(first.payload)
            assert out["echo"] == {"a": 1}
            lines = first.log_tail.splitlines()
            assert lines[0] == (f"init handler=function.handler cwd={spec.code_dir} root={spec.code_dir} "
                                f"api={lines[0].rsplit('api=', 1)[1]}")
            assert lines[0].rsplit("api=", 1)[1].startswith("127.0.0.1:")
            assert lines[1].startswith(f"START RequestId: {first.request_id}")
            assert lines[2] == f'event {{"a": 1}} pid {out["pid"]}'
            assert lines[3] == f"END RequestId: {first.request_id}" and "Init Duration" in lines[4]
            warm = await L.invoke("sh", {"b": 2})
            assert not warm.cold and json.loads(warm.payload) == {"echo": {"b": 2}, "pid": out["pid"]}
            assert "Init Duration" not in warm.log_tail
            failed = await L.invoke("sh", "fail")
            assert failed.function_error == "Unhandled" and failed.error_type == "Custom.Failure"
            assert json.loads(failed.payload) == {"errorMessage": "it failed", "errorType": "Custom.Failure",
                                                  "stackTrace": []}
            # an error does not discard the environment
            again = await L.invoke("sh", {"c": 3})
            assert json.loads(again.payload)["pid"] == out["pid"]
    run(body())


def test_protocol_answers_and_next_headers(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("p", {"bootstrap": probe()}, timeout=7)
            cc = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
            before = time.time() * 1000
            result = await L.svc.invoke("p:$LATEST", b"{\"x\": 1}", client_context=cc, log_tail=True)
            assert result.function_error is None, result.log_tail
            seen = json.loads(result.payload)
            transition = ("State transition from Initializing to InvocationResponse failed for runtime. "
                          "Error: State transition is not allowed")
            assert seen["early_response"] == {"status": 403, "body": {
                "errorMessage": transition, "errorType": "InvalidStateTransition"}}
            assert seen["unknown_path"] == 404
            assert seen["late_init_error"]["status"] == 403
            assert seen["late_init_error"]["body"]["errorType"] == "InvalidStateTransition"
            assert seen["second_next"] == 403
            assert seen["wrong_id"] == {"status": 400, "body": {"errorMessage": "Invalid request ID",
                                                                "errorType": "InvalidRequestID"}}
            headers = seen["headers"]
            assert headers["lambda-runtime-aws-request-id"] == result.request_id
            assert headers["lambda-runtime-invoked-function-arn"] == ARN.format("p") + ":$LATEST"
            deadline = int(headers["lambda-runtime-deadline-ms"])
            assert before + 6000 < deadline <= time.time() * 1000 + 7000
            assert headers["lambda-runtime-trace-id"].startswith("Root=1-")
            assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"k": "v"}}
            assert "lambda-runtime-cognito-identity" not in headers
            # answering the same request twice: the second is an unknown request id
            second = json.loads((await L.invoke("p", {})).payload)
            assert second["first"] == 202
            assert second["repeat"] == {"status": 400, "body": {"errorMessage": "Invalid request ID",
                                                                "errorType": "InvalidRequestID"}}
            # a non-JSON error body is wrapped, typed by the header
            raw = await L.invoke("p", {"do": "raw_error"})
            assert raw.error_type == "Raw.Type"
            assert json.loads(raw.payload) == {"errorMessage": "not json at all", "errorType": "Raw.Type"}
    run(body())


def test_oversized_response_is_413_and_a_function_error(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("p", {"bootstrap": probe()})
            result = await L.invoke("p", {"do": "big"})
            assert result.error_type == "Function.ResponseSizeTooLarge"
            assert json.loads(result.payload) == {
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge"}
            # the runtime saw AWS's 413 (printed to its log) and keeps serving
            ok = await L.invoke("p", {})
            assert ok.function_error is None, ok.log_tail
            seen = json.loads(next(line for line in ok.log_tail.splitlines() if line.startswith("{")))
            assert seen["big"] == {"status": 413, "body": {
                "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "RequestEntityTooLarge"}}
    run(body())


def test_init_error_discards_the_environment(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("p", {"bootstrap": probe()}, environment={"PROBE_INIT_ERROR": "1"})
            result = await L.invoke("p", {})
            assert result.function_error == "Unhandled" and result.error_type == "Custom.InitFailed"
            assert json.loads(result.payload) == {"errorMessage": "no config", "errorType": "Custom.InitFailed",
                                                  "stackTrace": []}
            assert "failing init on purpose" in result.log_tail
            assert "INIT_REPORT Init Duration:" in result.log_tail and "Error Type: Custom.InitFailed" in result.log_tail
            again = await L.invoke("p", {})
            assert again.cold and again.error_type == "Custom.InitFailed"
            assert L.svc.workers.busy_count("p") == 0 and not L.svc.workers.pools["p"].idle
    run(body())


def test_crash_timeout_and_memory_limit(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("p", {"bootstrap": probe()}, timeout=1, memory_size=128)
            crash = await L.invoke("p", {"do": "crash"})
            assert crash.error_type == "Runtime.ExitError"
            assert json.loads(crash.payload)["errorMessage"] == (
                f"RequestId: {crash.request_id} Error: Runtime exited with error: exit status 3")
            assert "about to crash" in crash.log_tail
            # the process group dies on timeout: the bootstrap's child too
            pidfile = tmp_path / "child.pid"
            hang = await L.invoke("p", {"do": "hang", "pidfile": str(pidfile)})
            assert hang.error_type == "Sandbox.Timedout" and "Status: timeout" in hang.log_tail
            child = int(pidfile.read_text())
            deadline = time.monotonic() + 5
            while _alive(child) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert not _alive(child)
            oom = await L.invoke("p", {"do": "hog"})
            assert oom.error_type == "Runtime.OutOfMemory" and oom.max_memory_mb == 128
            fine = await L.invoke("p", {})
            assert fine.cold and fine.function_error is None
    run(body())


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_missing_bootstrap_is_invalid_entrypoint(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            spec = L.add("none", {"README": "no bootstrap here"}, runtime="provided.al2023")
            result = await L.invoke("none")
            assert result.error_type == "Runtime.InvalidEntrypoint"
            assert json.loads(result.payload)["errorMessage"] == (
                f"Couldn't find valid bootstrap(s): [{spec.code_dir / 'bootstrap'}]")
            L.add("noexec", {"bootstrap": "#!/bin/sh\necho hi\n"})
            (L.functions["noexec"].code_dir / "bootstrap").chmod(0o644)
            denied = await L.invoke("noexec")
            assert denied.error_type == "Runtime.InvalidEntrypoint"
            assert "permission denied" in json.loads(denied.payload)["errorMessage"]
    run(body())


def test_environments_have_their_own_api(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("p", {"bootstrap": probe()}, timeout=5)
            first, second = await asyncio.gather(L.invoke("p", {}), L.invoke("p", {}))
            assert first.function_error is None and second.function_error is None
            for result in (first, second):
                assert json.loads(result.payload)["headers"]["lambda-runtime-aws-request-id"] == result.request_id
            envs = L.svc.workers.pools["p"].idle
            assert len(envs) == 2 and len({env.port for env in envs}) == 2  # type: ignore[attr-defined]
    run(body())


# --- awslambdaric ---------------------------------------------------------------------------

RIC_APP = """\
import logging, os
logger = logging.getLogger()
logger.setLevel(logging.INFO)
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("print from handler", event)
    logger.info("log record %s", context.aws_request_id)
    if event.get("fail"):
        raise ValueError("boom " + event["fail"])
    return {"count": COUNT, "request_id": context.aws_request_id, "function": context.function_name,
            "memory": context.memory_limit_in_mb, "remaining": context.get_remaining_time_in_millis() > 0,
            "arn": context.invoked_function_arn, "pid": os.getpid()}
"""


@pytest.fixture(scope="session")
def awslambdaric_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("awslambdaric")
    try:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", str(target), "awslambdaric"], check=True, capture_output=True, timeout=240)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"awslambdaric cannot be installed here: {exc}")
    return target


def test_awslambdaric_runs_unmodified(tmp_path: Path, awslambdaric_dir: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            bootstrap = f'#!/bin/sh\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n'
            spec = L.add("ric", {"bootstrap": bootstrap, "app.py": RIC_APP})
            shutil.copytree(awslambdaric_dir, spec.code_dir, dirs_exist_ok=True)
            first = await L.invoke("ric", {"n": 1})
            assert first.function_error is None, (first.payload, first.log_tail)
            out = json.loads(first.payload)
            assert out["count"] == 1 and out["request_id"] == first.request_id and out["function"] == "ric"
            assert out["memory"] == "128" and out["remaining"] and out["arn"] == ARN.format("ric")
            assert "print from handler {'n': 1}" in first.log_tail
            assert f"log record {first.request_id}" in first.log_tail
            warm = await L.invoke("ric", {"n": 2})
            assert json.loads(warm.payload)["count"] == 2 and json.loads(warm.payload)["pid"] == out["pid"]
            failed = await L.invoke("ric", {"fail": "x"})
            assert failed.error_type == "ValueError"
            error = json.loads(failed.payload)
            assert error["errorMessage"] == "boom x" and error["errorType"] == "ValueError"
            assert error["requestId"] == failed.request_id and error["stackTrace"]
            missing = L.add("ric2", {"bootstrap": bootstrap, "app.py": RIC_APP}, handler="nope.handler")
            shutil.copytree(awslambdaric_dir, missing.code_dir, dirs_exist_ok=True)
            bad = await L.invoke("ric2", {})
            assert bad.error_type == "Runtime.ImportModuleError"
            assert json.loads(bad.payload)["errorMessage"].startswith("Unable to import module 'nope'")
    run(body())


def test_python_path_is_untouched(tmp_path: Path) -> None:
    """python3.x keeps the worker protocol: no Runtime API server is created for it."""
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("py", {"app.py": "def handler(e, c):\n    return 1\n"},
                  runtime=f"python{sys.version_info[0]}.{sys.version_info[1]}")
            assert (await L.invoke("py")).payload == b"1"
            assert L.svc.workers.runtime_api is None
    run(body())

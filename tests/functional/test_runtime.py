"""Execution environments end to end: real worker processes, real store, no mocks."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path

from invoke_lab import Lab, lab, run


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # it vanished between the two checks
        return False
    return not stat.split(") ")[1].startswith("Z")


async def wait_dead(pid: int, deadline_s: float = 5.0) -> bool:
    end = time.monotonic() + deadline_s
    while pid_alive(pid):
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True


COUNTER = """
    import os
    COUNT = 0
    def handler(event, context):
        global COUNT
        COUNT += 1
        return {"pid": os.getpid(), "count": COUNT}
"""


def test_warm_reuse_keeps_process_and_globals(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", COUNTER)
            first = await L.svc.invoke("f", b"{}")
            second = await L.svc.invoke("f", b"{}")
            a, b = json.loads(first.payload), json.loads(second.payload)
            assert a["pid"] == b["pid"] and (a["count"], b["count"]) == (1, 2)
            assert first.cold and first.init_ms is not None and first.init_ms > 0
            assert not second.cold and second.init_ms is None
            assert first.function_error is None and first.status_code == 200
    run(body())


def test_new_code_sha_cold_starts_and_old_env_stops(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", COUNTER, sha="v1")
            old = json.loads((await L.svc.invoke("f", b"{}")).payload)["pid"]
            L.add("f", COUNTER, sha="v2")
            L.svc.retire("f")
            result = await L.svc.invoke("f", b"{}")
            new = json.loads(result.payload)
            assert result.cold and new["pid"] != old and new["count"] == 1
            assert await wait_dead(old)
    run(body())


def test_timeout_kills_worker_and_next_call_is_cold(tmp_path: Path) -> None:
    code = """
        import os, time
        def handler(event, context):
            if event.get("sleep"):
                print("going to sleep")
                time.sleep(event["sleep"])
            return os.getpid()
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", code, timeout=1)
            pid = json.loads((await L.svc.invoke("f", b"{}")).payload)
            result = await L.svc.invoke("f", b'{"sleep": 30}', log_tail=True)
            rid = result.request_id
            assert result.function_error == "Unhandled" and result.error_type == "Sandbox.Timedout"
            assert json.loads(result.payload) == {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
            assert 1000 <= result.duration_ms < 2000
            assert re.search(rf"\d{{4}}-\d\d-\d\dT[\d:.]+Z {rid} Task timed out after 1.00 seconds", result.log_tail)
            report = result.log_tail.strip().splitlines()[-1]
            assert report.startswith(f"REPORT RequestId: {rid}\t") and "Status: timeout" in report
            assert await wait_dead(pid)
            after = await L.svc.invoke("f", b"{}")
            assert after.cold and json.loads(after.payload) != pid
    run(body())


def test_memory_limit_kills_and_reports_out_of_memory(tmp_path: Path) -> None:
    code = """
        def handler(event, context):
            if event.get("hog"):
                blocks = [bytearray(1024 * 1024) for _ in range(400)]
                return len(blocks)
            return "ok"
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", code, memory_size=128)
            result = await L.svc.invoke("f", b'{"hog": true}', log_tail=True)
            rid = result.request_id
            assert result.error_type == "Runtime.OutOfMemory", result.payload
            assert json.loads(result.payload) == {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"}
            report = result.log_tail.strip().splitlines()[-1]
            assert "Status: error\tError Type: Runtime.OutOfMemory" in report
            assert "Max Memory Used: 128 MB" in report
            assert json.loads((await L.svc.invoke("f", b"{}")).payload) == "ok"
    run(body())


def test_handler_exception_payload_and_log(tmp_path: Path) -> None:
    code = """
        def helper():
            raise ValueError("boom")

        def handler(event, context):
            helper()
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", code)
            result = await L.svc.invoke("f", b"{}", log_tail=True)
            error = json.loads(result.payload)
            assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
            assert error["errorMessage"] == "boom" and error["errorType"] == "ValueError"
            assert error["requestId"] == result.request_id
            assert len(error["stackTrace"]) == 2
            assert all("app.py" in line for line in error["stackTrace"])
            assert "bootstrap.py" not in json.dumps(error["stackTrace"])
            assert 'raise ValueError("boom")' in error["stackTrace"][1]
            assert "[ERROR] ValueError: boom\nTraceback (most recent call last):\n" in result.log_tail
            assert result.function_error == "Unhandled" and result.error_type == "ValueError"
            # the environment survives a handled exception
            assert not (await L.svc.invoke("f", b"{}")).cold
    run(body())


def test_crash_fails_only_its_invocation(tmp_path: Path) -> None:
    code = """
        import ctypes, os
        def handler(event, context):
            if event.get("exit"):
                print("about to exit")
                os._exit(event["exit"])
            if event.get("segv"):
                ctypes.string_at(0)
            return "fine"
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", code)
            result = await L.svc.invoke("f", b'{"exit": 3}', log_tail=True)
            rid = result.request_id
            assert json.loads(result.payload) == {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3"}
            assert "about to exit" in result.log_tail and "Error Type: Runtime.ExitError" in result.log_tail
            assert json.loads((await L.svc.invoke("f", b"{}")).payload) == "fine"
            segv = await L.svc.invoke("f", b'{"segv": true}')
            assert json.loads(segv.payload)["errorMessage"].endswith("signal: segmentation fault")
            assert json.loads((await L.svc.invoke("f", b"{}")).payload) == "fine"
    run(body())


def test_init_errors_have_lambda_messages(tmp_path: Path) -> None:
    cases = [
        ("app", {"app.py": "x = 1\n"}, "Runtime.MalformedHandlerName",
         "Bad handler 'app': not enough values to unpack (expected 2, got 1)"),
        ("nope.handler", {"app.py": "x = 1\n"}, "Runtime.ImportModuleError",
         "Unable to import module 'nope': No module named 'nope'"),
        ("app.missing", {"app.py": "x = 1\n"}, "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'app'"),
        ("app.handler", {"app.py": "def handler(:\n"}, "Runtime.UserCodeSyntaxError",
         "Syntax error in module 'app': "),
        ("src/handlers/app.handler", {"src/handlers/app.py": "import notthere\n"}, "Runtime.ImportModuleError",
         "Unable to import module 'src/handlers/app': No module named 'notthere'"),
    ]

    async def body() -> None:
        async with lab(tmp_path) as L:
            for index, (handler, files, error_type, message) in enumerate(cases):
                L.add(f"f{index}", files, handler=handler)
                result = await L.svc.invoke(f"f{index}", b"{}", log_tail=True)
                error = json.loads(result.payload)
                assert error["errorType"] == error_type, error
                assert error["errorMessage"].startswith(message), error
                assert error["requestId"] == "" and error["stackTrace"] == []
                assert result.function_error == "Unhandled" and result.error_type == error_type
                assert f"[ERROR] {error_type}: {message}" in result.log_tail
                assert f"Status: error\tError Type: {error_type}" in result.log_tail
            # a failed init is retried by the next invocation (fresh environment)
            (L.tmp / "code" / "f1" / "v1" / "nope.py").write_text("def handler(e, c):\n    return 7\n")
            assert json.loads((await L.svc.invoke("f1", b"{}")).payload) == 7
    run(body())


def test_marshal_error_bytes_and_unmarshal(tmp_path: Path) -> None:
    code = """
        def handler(event, context):
            if event.get("set"):
                return {1, 2}
            if event.get("bytes"):
                return b"\\x00raw bytes\\xff"
            return None
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            spec = L.add("f", code)
            bad = await L.svc.invoke("f", b'{"set": 1}')
            error = json.loads(bad.payload)
            assert error["errorType"] == "Runtime.MarshalError"
            assert error["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
            raw = await L.svc.invoke("f", b'{"bytes": 1}')
            assert raw.payload == b"\x00raw bytes\xff" and raw.function_error is None
            assert (await L.svc.invoke("f", b"")).payload == b"null"
            # run() is the raw path (pollers): a non-JSON event reaches the runtime's unmarshal check
            un = await L.svc.run(spec, b"not json", "rid-1", source="test")
            assert json.loads(un.payload)["errorType"] == "Runtime.UnmarshalError"
            assert json.loads(un.payload)["errorMessage"].startswith("Unable to unmarshal input: Expecting value")
    run(body())


def test_parallel_invocations_scale_and_keep_logs_apart(tmp_path: Path) -> None:
    code = """
        import os, time
        def handler(event, context):
            for i in range(3):
                print(f"line {i} of {context.aws_request_id}")
                time.sleep(0.1)
            return {"pid": os.getpid(), "stream": context.log_stream_name}
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", code)
            results = await asyncio.gather(*(L.svc.invoke("f", b"{}", log_tail=True) for _ in range(4)))
            payloads = [json.loads(r.payload) for r in results]
            assert len({p["pid"] for p in payloads}) == 4
            assert all(r.cold for r in results)
            for result in results:
                rid = result.request_id
                lines = result.log_tail.strip().splitlines()
                start = lines.index(f"START RequestId: {rid} Version: $LATEST")
                assert lines[start + 1 : start + 4] == [f"line {i} of {rid}" for i in range(3)]
                assert lines[start + 4] == f"END RequestId: {rid}"
                assert lines[start + 5].startswith(f"REPORT RequestId: {rid}\t")
            await L.poll_logs("/aws/lambda/f", "REPORT")
            end = time.monotonic() + 5
            while True:
                rows = L.store.query("SELECT log_stream, message FROM log_events WHERE log_group = '/aws/lambda/f'"
                                     " ORDER BY id")
                if sum(r["message"].startswith("REPORT") for r in rows) == 4 or time.monotonic() > end:
                    break
                await asyncio.sleep(0.02)
            for result, payload in zip(results, payloads):
                own = [r["message"] for r in rows if r["log_stream"] == payload["stream"]]
                assert [m for m in own if m.startswith("line")] == [
                    f"line {i} of {result.request_id}" for i in range(3)]
                assert sum(m.startswith("REPORT") for m in own) == 1
    run(body())


def test_context_and_environment(tmp_path: Path) -> None:
    code = """
        import os, sys, tempfile
        def handler(event, context):
            cc = context.client_context
            return {
                "function_name": context.function_name, "version": context.function_version,
                "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
                "request_id": context.aws_request_id, "group": context.log_group_name,
                "stream": context.log_stream_name, "remaining": context.get_remaining_time_in_millis(),
                "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                "client": cc and [cc.client.app_title, cc.custom, cc.env],
                "tenant": context.tenant_id,
                "env": {k: v for k, v in os.environ.items()},
                "cwd": os.getcwd(), "path0": sys.path[0], "tmp": tempfile.gettempdir(),
                "tmp_ok": os.path.isdir(tempfile.gettempdir()),
            }
    """
    async def body() -> None:
        import base64

        async with lab(tmp_path) as L:
            spec = L.add("ctx", code, memory_size=256, timeout=7, environment={"STAGE": "dev"})
            client = base64.b64encode(json.dumps(
                {"client": {"app_title": "demo"}, "custom": {"k": "v"}, "env": {"e": 1}}).encode()).decode()
            result = await L.svc.invoke("ctx:$LATEST", b"{}", client_context=client)
            c = json.loads(result.payload)
            assert c["function_name"] == "ctx" and c["version"] == "$LATEST"
            assert c["arn"] == spec.arn + ":$LATEST"
            assert c["memory"] == "256" and c["request_id"] == result.request_id
            assert c["group"] == "/aws/lambda/ctx"
            assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", c["stream"])
            assert 6000 < c["remaining"] <= 7000
            assert c["identity"] == [None, None] and c["tenant"] is None
            assert c["client"] == ["demo", {"k": "v"}, {"e": 1}]
            env = c["env"]
            expected = {
                "AWS_LAMBDA_FUNCTION_NAME": "ctx", "_HANDLER": "app.handler", "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ctx",
                "AWS_LAMBDA_LOG_STREAM_NAME": c["stream"], "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "TZ": ":UTC", "LANG": "en_US.UTF-8", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                "AWS_ACCESS_KEY_ID": "samlite", "AWS_SECRET_ACCESS_KEY": "samlite-secret", "STAGE": "dev",
            }
            assert {k: env.get(k) for k in expected} == expected
            assert env["AWS_SESSION_TOKEN"] and env["PATH"] and env["LAMBDA_RUNTIME_DIR"]
            assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
            assert c["cwd"] == str(spec.code_dir) and c["path0"] == str(spec.code_dir)
            assert c["tmp"] == env["TMPDIR"] and c["tmp_ok"]
            assert Path(c["tmp"]).parent == L.settings.envs_dir
            no_cc = json.loads((await L.svc.invoke(spec.arn, b"{}")).payload)
            assert no_cc["client"] is None and no_cc["arn"] == spec.arn
    run(body())


def test_logging_format_and_level(tmp_path: Path) -> None:
    code = """
        import logging
        logger = logging.getLogger()
        def handler(event, context):
            logger.info("info line")
            logger.warning("careful %s", 1)
            context.log("via context")
            return 1
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("quiet", code)
            L.add("loud", code, environment={"AWS_LAMBDA_LOG_LEVEL": "INFO"})
            quiet = await L.svc.invoke("quiet", b"{}", log_tail=True)
            loud = await L.svc.invoke("loud", b"{}", log_tail=True)
            assert "info line" not in quiet.log_tail and "via context" in quiet.log_tail
            assert re.search(rf"^\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{quiet.request_id}\tcareful 1$",
                             quiet.log_tail, re.M)
            assert "[INFO]\t" in loud.log_tail and f"\t{loud.request_id}\tinfo line" in loud.log_tail
    run(body())


def test_spawned_worker_without_zygote(tmp_path: Path) -> None:
    code = """
        import os, sys
        print("init from spawned")
        def handler(event, context):
            import boto3
            return {"pid": os.getpid(), "ppid": os.getppid(), "boto3": boto3.__name__,
                    "task_root": os.environ["LAMBDA_TASK_ROOT"], "path0": sys.path[0]}
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.svc.workers.use_zygote = False
            spec = L.add("f", code)
            first = await L.svc.invoke("f", b"{}", log_tail=True)
            data = json.loads(first.payload)
            assert data["boto3"] == "boto3" and data["ppid"] == os.getpid()
            assert data["path0"] == str(spec.code_dir) and "init from spawned" in first.log_tail
            assert json.loads((await L.svc.invoke("f", b"{}")).payload)["pid"] == data["pid"]
    run(body())


def test_memory_limit_by_rss_sampling_without_cgroups(tmp_path: Path) -> None:
    code = """
        import time
        def handler(event, context):
            blocks = [bytearray(1024 * 1024) for _ in range(400)]
            time.sleep(2)
            return len(blocks)
    """
    async def body() -> None:
        the_lab = Lab(tmp_path)
        the_lab.svc.workers.use_cgroups = False
        await the_lab.svc.start()
        try:
            the_lab.add("f", code, memory_size=128)
            result = await the_lab.svc.invoke("f", b"{}")
            assert result.error_type == "Runtime.OutOfMemory", result.payload
            assert result.duration_ms < 1500
        finally:
            await the_lab.svc.stop()
            the_lab.store.close()
    run(body())


def test_init_overrun_is_retried_under_the_function_timeout(tmp_path: Path) -> None:
    slow = """
        import time
        time.sleep(0.6)
        def handler(event, context):
            return "initialised"
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.svc.init_limit_s = 0.3  # stands in for Lambda's 10 s
            L.add("ok", slow, timeout=3)
            result = await L.svc.invoke("ok", b"{}", log_tail=True)
            assert json.loads(result.payload) == "initialised"
            assert "Phase: init\tStatus: timeout" in result.log_tail
            L.add("late", slow.replace("0.6", "5"), timeout=1)
            late = await L.svc.invoke("late", b"{}")
            assert late.error_type == "Sandbox.Timedout"
            assert json.loads(late.payload)["errorMessage"].endswith("Task timed out after 1.00 seconds")
    run(body())


def test_worker_killed_while_idle_and_zygote_restart(tmp_path: Path) -> None:
    import signal

    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", COUNTER)
            pid = json.loads((await L.svc.invoke("f", b"{}")).payload)["pid"]
            os.kill(pid, signal.SIGKILL)
            assert await wait_dead(pid)
            # The engine learns of the death from its exit watcher; under load that is a few loop
            # turns after the pid is gone. Until then the environment still looks idle.
            end = time.monotonic() + 10
            while pid in L.svc.workers.by_pid and time.monotonic() < end:
                await asyncio.sleep(0.02)
            again = await L.svc.invoke("f", b"{}")
            assert again.function_error is None and again.cold
            after = await L.svc.invoke("f", b"{}")
            assert after.function_error is None and json.loads(after.payload)["pid"] != pid
            zygote = L.svc.workers.zygote.proc
            assert zygote is not None
            zygote.kill()
            await zygote.wait()
            L.add("f", COUNTER, sha="v2")
            L.svc.retire("f")
            fresh = await L.svc.invoke("f", b"{}")
            assert fresh.function_error is None and fresh.cold
    run(body())

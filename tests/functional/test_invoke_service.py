"""The Invoke API surface of InvokeService: validation, limits, throttling, records."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import pytest
from invoke_lab import lab, run

from samlite.core.invoke import (
    EnvironmentWaitTimeout,
    FunctionNotFound,
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
    TooManyRequests,
)
from samlite.core.runtime import FunctionSpec


def test_request_size_limits(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f")
            big = b'"' + b"a" * 6_291_455 + b'"'  # 6,291,457 bytes
            with pytest.raises(RequestTooLarge) as exc:
                await L.svc.invoke("f", big)
            assert exc.value.message == (
                "6291457 byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)")
            with pytest.raises(RequestTooLarge) as exc:
                await L.svc.invoke("f", b'"' + b"a" * 1_048_575 + b'"', invocation_type="Event")
            assert exc.value.message == (
                "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
            # exactly at the limit is accepted
            ok = await L.svc.invoke("f", b'"' + b"a" * 6_291_454 + b'"')
            assert ok.function_error is None
            assert L.svc.workers.busy_count("f") == 0
    run(body())


def test_response_too_large_is_a_function_error(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f")
            result = await L.svc.invoke("f", json.dumps({"big": 7 * 1024 * 1024}).encode())
            assert result.function_error == "Unhandled" and result.error_type == "Function.ResponseSizeTooLarge"
            assert json.loads(result.payload) == {
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge"}
            # just under the limit passes (JSON string adds 2 quote bytes)
            fine = await L.svc.invoke("f", json.dumps({"big": 6_291_554}).encode())
            assert fine.function_error is None and len(fine.payload) == 6_291_556
    run(body())


def test_payload_must_be_json_and_empty_means_empty_object(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f")
            with pytest.raises(InvalidRequestContent) as exc:
                await L.svc.invoke("f", b"{not json")
            assert exc.value.message.startswith("Could not parse request body into json: ")
            assert json.loads((await L.svc.invoke("f", b"")).payload)["event"] == {}
            assert json.loads((await L.svc.invoke("f", b"[1, 2]")).payload)["event"] == [1, 2]
            with pytest.raises(InvalidParameterValue):
                await L.svc.invoke("f", b"{}", client_context="not base64!")
            with pytest.raises(InvalidParameterValue):
                await L.svc.invoke("f", b"{}", client_context=base64.b64encode(b"[1]").decode())
            with pytest.raises(InvalidParameterValue):
                await L.svc.invoke("f", b"{}", invocation_type="Sometimes")
    run(body())


def test_resolve_names_arns_and_qualifiers(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            spec = L.add("my-fn")
            for name in ("my-fn", "my-fn:$LATEST", spec.arn, spec.arn + ":$LATEST",
                         "123456789012:function:my-fn", "123456789012:function:my-fn:$LATEST"):
                assert L.svc.resolve(name) is spec
            with pytest.raises(FunctionNotFound) as exc:
                L.svc.resolve("nope")
            assert exc.value.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
            for bad in ("my-fn:7", "arn:aws:lambda:eu-west-1:123456789012:function:my-fn",
                        "999999999999:function:my-fn", "a:b:c:d:e"):
                with pytest.raises(FunctionNotFound):
                    L.svc.resolve(bad)
            with pytest.raises(FunctionNotFound):
                await L.svc.invoke("nope", b"{}")
    run(body())


def test_dry_run_and_event(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            spec = L.add("f")
            dry = await L.svc.invoke("f", b"{}", invocation_type="DryRun")
            assert (dry.status_code, dry.payload, dry.function_error) == (204, b"", None)
            with pytest.raises(RuntimeError):
                await L.svc.invoke("f", b"{}", invocation_type="Event")
            seen: list[tuple[FunctionSpec, bytes, str]] = []

            async def sink(s: FunctionSpec, payload: bytes, request_id: str) -> None:
                seen.append((s, payload, request_id))

            L.svc.async_sink = sink
            event = await L.svc.invoke("f", b'{"a": 1}', invocation_type="Event")
            assert event.status_code == 202 and event.payload == b""
            assert seen == [(spec, b'{"a": 1}', event.request_id)]
            assert not L.svc.workers.pools  # neither DryRun nor Event ran anything here
    run(body())


def test_reserved_concurrency_zero_throttles_everything(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", reserved_concurrency=0)
            with pytest.raises(TooManyRequests) as exc:
                await L.svc.invoke("f", b"{}")
            assert exc.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
            assert exc.value.message == "Rate Exceeded."
            rows = await L.poll("SELECT * FROM metrics WHERE throttled = 1")
            assert len(rows) == 1 and rows[0]["function_name"] == "f"
    run(body())


def test_reserved_one_with_three_parallel_throttles_two(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", reserved_concurrency=1)
            results = await asyncio.gather(*(L.svc.invoke("f", b'{"sleep": 0.3}') for _ in range(3)),
                                           return_exceptions=True)
            throttled = [r for r in results if isinstance(r, TooManyRequests)]
            assert len(throttled) == 2 and len([r for r in results if not isinstance(r, Exception)]) == 1
            rows = await L.poll("SELECT * FROM metrics", want=3)
            assert sorted(r["throttled"] for r in rows) == [0, 1, 1]
    run(body())


def test_account_concurrency_and_environment_cap(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path, account_concurrency=2, max_environments=2) as L:
            L.add("a")
            L.add("b")
            L.add("c")
            results = await asyncio.gather(*(L.svc.invoke(n, b'{"sleep": 0.3}') for n in "abc"),
                                           return_exceptions=True)
            throttled = [r for r in results if isinstance(r, TooManyRequests)]
            assert [t.reason for t in throttled] == ["ConcurrentInvocationLimitExceeded"]
            # two idle envs now exist (the cap): a third function reaps the oldest idle one
            before = len(L.svc.workers.live)
            assert before == 2
            result = await L.svc.invoke("c", b"{}")
            assert result.function_error is None and len(L.svc.workers.live) == 2
    run(body())


def test_sync_runs_beyond_the_environment_cap_wait_in_line(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path, max_environments=2, environment_wait=60.0) as L:
            a, b = L.add("a"), L.add("b")
            peak = 0

            async def watch() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, len(L.svc.workers.live))
                    await asyncio.sleep(0.01)

            watcher = asyncio.get_running_loop().create_task(watch())
            # Five sync runs over two functions, two environments: none is throttled; an environment
            # of one function is reaped to make room for the other's waiter.
            calls = [L.svc.invoke(n, b'{"sleep": 0.2}', source=src)
                     for n, src in zip("aabab", ("api", "gateway", "cli", "api", "console"))]
            results = await asyncio.gather(*calls)
            watcher.cancel()
            assert all(r.function_error is None for r in results)
            assert peak <= 2 and len(L.svc.workers.live) <= 2
            assert not L.svc.workers.waiters and L.svc.workers.granted == 0
            # Async events and mappings keep their behaviour at the cap: throttled at once, retried later.
            held = [asyncio.ensure_future(L.svc.invoke(n, b'{"sleep": 0.5}')) for n in "ab"]
            while L.svc.workers.busy_count("a") + L.svc.workers.busy_count("b") < 2:
                await asyncio.sleep(0.01)
            for source in ("async", "esm"):
                with pytest.raises(TooManyRequests) as exc:
                    await L.svc.run(a if source == "async" else b, b"{}", "rid-" + source, source=source)
                assert exc.value.reason == "ConcurrentInvocationLimitExceeded"
            await asyncio.gather(*held)
    run(body())


def test_a_wait_past_the_bound_is_an_environment_wait_timeout(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path, max_environments=1, environment_wait=0.2) as L:
            L.add("f")
            held = asyncio.ensure_future(L.svc.invoke("f", b'{"sleep": 1.5}'))
            while L.svc.workers.busy_count("f") < 1:
                await asyncio.sleep(0.01)
            with pytest.raises(EnvironmentWaitTimeout) as exc:
                await L.svc.invoke("f", b"{}")
            assert "No execution environment came free within 0.2 s" in exc.value.message
            assert not L.svc.workers.waiters
            assert (await held).function_error is None
            # The environment that was held serves the next caller.
            assert (await L.svc.invoke("f", b"{}")).function_error is None
    run(body())


def test_logs_and_metrics_reach_the_store(tmp_path: Path) -> None:
    code = """
        def handler(event, context):
            print("hello from", context.aws_request_id)
            return 1
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", code, stack="demo")
            first = await L.svc.invoke("f", b"{}", source="cli")
            second = await L.svc.invoke("f", b"{}")
            rows = await L.poll("SELECT * FROM log_events WHERE message LIKE 'REPORT%'", want=2)
            assert len(rows) == 2
            messages = [r["message"] for r in L.store.query("SELECT message FROM log_events ORDER BY id")]
            assert f"hello from {first.request_id}" in messages
            report = next(m for m in messages if m.startswith(f"REPORT RequestId: {first.request_id}"))
            fields = report.split("\t")
            assert fields[1].startswith("Duration: ") and fields[1].endswith(" ms")
            assert fields[2] == f"Billed Duration: {first.billed_ms} ms"
            assert fields[3] == "Memory Size: 128 MB" and fields[4].startswith("Max Memory Used: ")
            assert fields[5].startswith("Init Duration: ") and fields[-1] == ""
            assert first.billed_ms == int(-(-(first.duration_ms + first.init_ms) // 1))
            assert "Init Duration" not in next(m for m in messages if second.request_id in m and "REPORT" in m)
            metrics = await L.poll("SELECT * FROM metrics ORDER BY id", want=2)
            assert [(m["source"], m["cold"], m["stack"], m["error"]) for m in metrics] == [
                ("cli", 1, "demo", None), ("api", 0, "demo", None)]
            assert metrics[0]["init_ms"] > 0 and metrics[1]["init_ms"] is None
            streams = L.store.query("SELECT * FROM log_streams WHERE log_group = '/aws/lambda/f'")
            assert len(streams) == 1
    run(body())


def test_log_tail_is_last_4kb(tmp_path: Path) -> None:
    code = """
        def handler(event, context):
            for i in range(200):
                print(f"line {i:04d} " + "x" * 40)
            return 1
    """
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("f", code)
            result = await L.svc.invoke("f", b"{}", log_tail=True)
            assert len(result.log_tail.encode()) <= 4096
            assert result.log_tail.rstrip().splitlines()[-1].startswith("REPORT RequestId:")
            assert "line 0199" in result.log_tail and "line 0000" not in result.log_tail
            assert (await L.svc.invoke("f", b"{}")).log_tail == ""
    run(body())


def test_idle_reaping_and_stop(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path, idle_ttl=0.2) as L:
            L.add("f")
            await L.svc.invoke("f", b"{}")
            end = time.monotonic() + 5
            while L.svc.workers.live and time.monotonic() < end:
                await asyncio.sleep(0.05)
            assert not L.svc.workers.live
            assert (await L.svc.invoke("f", b"{}")).cold
            # stop waits for the in-flight invocation, then refuses new work
            slow = asyncio.ensure_future(L.svc.invoke("f", b'{"sleep": 0.3}'))
            await asyncio.sleep(0.05)
            await L.svc.stop(deadline_s=5)
            assert (await slow).function_error is None
            with pytest.raises(TooManyRequests):
                await L.svc.invoke("f", b"{}")
            assert not list(L.settings.envs_dir.iterdir())
    run(body())


def test_unsupported_runtime_is_a_function_error(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("java", runtime="java21")
            result = await L.svc.invoke("java", b"{}")
            assert result.function_error == "Unhandled" and result.error_type == "Runtime.InvalidRuntime"
            assert "java21" in json.loads(result.payload)["errorMessage"]
    run(body())

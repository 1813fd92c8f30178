"""`samlite metrics` and `samlite tune` against a real engine: counts, cost, throttles, CPU shares."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from samlite import pricing
from samlite.services.lambda_.tuning import CpuGroups
from samlite.testing import EngineHandle

STACK_DIR = Path(__file__).parent / "stacks" / "metrics"
STACK = "mstack"
BILLED = re.compile(r"Billed Duration: (\d+) ms")


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    root = tmp_path_factory.mktemp("metrics")
    project = root / "project"
    shutil.copytree(STACK_DIR, project, ignore=shutil.ignore_patterns(".samlite", ".aws-sam"))
    handle = samlite_module_engine
    handle.deploy(project / "template.yaml", STACK)
    return handle


@pytest.fixture(scope="module")
def names(engine: EngineHandle) -> dict[str, str]:
    rows = json.loads(engine.cli("list", "functions", "--stack-name", STACK, "--output", "json", check=True).stdout)
    return {r["logical_id"]: r["name"] for r in rows}


def summary(engine: EngineHandle, *args: str) -> dict[str, Any]:
    return json.loads(engine.cli("metrics", *args, "--stack-name", STACK, "--output", "json", check=True).stdout)


def function_row(data: dict[str, Any], logical_id: str) -> dict[str, Any]:
    [row] = [f for f in data["functions"] if f["logical_id"] == logical_id]
    return row


def boto_invoke(lam: Any, name: str, event: dict[str, Any]) -> int:
    """Invoke through the AWS endpoint; the Billed Duration of its REPORT line."""
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    tail = base64.b64decode(resp["LogResult"]).decode()
    return int(BILLED.search(tail).group(1))  # type: ignore[union-attr]


def test_counts_durations_and_cost_match_the_invocations(engine: EngineHandle, names: dict[str, str]) -> None:
    lam = engine.client("lambda")
    billed = [boto_invoke(lam, names["WorkFunction"], {}) for _ in range(5)]
    billed += [boto_invoke(lam, names["WorkFunction"], {"fail": True}) for _ in range(2)]
    ok = engine.cli("invoke", "WorkFunction", "--stack-name", STACK, "--payload", "{}")
    failed = engine.cli("invoke", "WorkFunction", "--stack-name", STACK, "--payload", '{"fail": 1}')
    assert ok.returncode == 0 and failed.returncode == 4
    billed += [int(BILLED.search(r.stderr).group(1)) for r in (ok, failed)]  # type: ignore[union-attr]

    data = summary(engine, "WorkFunction", "--since", "15m")
    assert data["since_s"] == 900
    row = function_row(data, "WorkFunction")
    assert (row["invocations"], row["errors"], row["throttles"]) == (9, 3, 0)
    assert row["memory_size"] == 256 and row["architecture"] == "x86_64"
    assert row["cold_starts"] >= 1 and row["init_ms"]["avg"] > 0
    assert row["concurrent_executions_max"] == 1
    d = row["duration_ms"]
    assert 0 < d["p50"] <= d["p90"] <= d["p99"] == d["max"]
    assert sum(row["series"]) == 9 and len(row["series"]) == 30
    # The bill is exactly what the REPORT lines said, priced by hand.
    assert row["billed_ms"] == sum(billed)
    gb_s = 256 / 1024 * sum(billed) / 1000
    assert row["gb_seconds"] == pytest.approx(gb_s, rel=1e-9)
    assert row["cost_usd"] == pytest.approx(9 * 0.20 / 1e6 + gb_s * 0.0000166667, rel=1e-9)
    assert data["prices"]["date"] == pricing.PRICES_DATE


def test_arm64_is_priced_at_the_arm_rate(engine: EngineHandle, names: dict[str, str]) -> None:
    lam = engine.client("lambda")
    billed = [boto_invoke(lam, names["ArmFunction"], {}) for _ in range(3)]
    row = function_row(summary(engine, "ArmFunction"), "ArmFunction")
    assert row["architecture"] == "arm64" and row["invocations"] == 3
    gb_s = 1024 / 1024 * sum(billed) / 1000
    assert row["cost_usd"] == pytest.approx(3 * 0.20 / 1e6 + gb_s * 0.0000133334, rel=1e-9)


def test_reserved_concurrency_zero_counts_throttles(engine: EngineHandle, names: dict[str, str]) -> None:
    import boto3
    from botocore.config import Config

    # No client retries: each throttled request is counted, so a retried 429 would count twice.
    lam = boto3.client("lambda", endpoint_url=engine.aws_url, region_name="us-east-1",
                       aws_access_key_id="samlite", aws_secret_access_key="samlite-secret",
                       config=Config(retries={"total_max_attempts": 1}))
    for _ in range(4):
        with pytest.raises(ClientError) as exc:
            lam.invoke(FunctionName=names["BlockedFunction"], Payload=b"{}")
        assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert engine.cli("invoke", "BlockedFunction", "--stack-name", STACK).returncode != 0
    row = function_row(summary(engine, "BlockedFunction"), "BlockedFunction")
    assert (row["invocations"], row["errors"], row["throttles"]) == (0, 0, 5)
    assert row["cost_usd"] == 0 and row["billed_ms"] == 0


def test_stack_totals_and_text_table(engine: EngineHandle, names: dict[str, str]) -> None:
    engine.client("lambda").invoke(FunctionName=names["WorkFunction"], Payload=b"{}")
    data = summary(engine)
    rows = {f["logical_id"]: f for f in data["functions"]}
    assert set(rows) == {"WorkFunction", "ArmFunction", "BlockedFunction", "SpinFunction"}
    [stack] = data["stacks"]
    assert stack["stack"] == STACK and stack["functions"] == 4
    for key in ("invocations", "errors", "throttles", "billed_ms"):
        assert stack[key] == sum(f[key] for f in rows.values()) == data["total"][key]
    # Each figure is rounded to 1e-12 USD, so sums of rounded figures may differ by a few 1e-12.
    assert stack["cost_usd"] == pytest.approx(sum(f["cost_usd"] for f in rows.values()), abs=1e-11)

    text = engine.cli("metrics", "--stack-name", STACK, check=True).stdout
    assert "WorkFunction" in text and "BlockedFunction" in text and "Per stack" in text
    assert re.search("[▁▂▃▄▅▆▇█]", text), text


def test_window_excludes_older_rows(engine: EngineHandle, names: dict[str, str]) -> None:
    row = function_row(summary(engine, "WorkFunction", "--since", "1d"), "WorkFunction")
    assert row["invocations"] >= 9
    # A 1-second window long after the last invocation of ArmFunction holds nothing.
    import time

    time.sleep(1.1)
    row = function_row(summary(engine, "ArmFunction", "--since", "1s"), "ArmFunction")
    assert row["invocations"] == 0 and row["duration_ms"]["p50"] is None


def test_tune_duration_falls_as_memory_rises(engine: EngineHandle, names: dict[str, str]) -> None:
    groups, why = CpuGroups.probe()
    if groups is None:
        pytest.skip(f"no writable cgroup v1 cpu controller, so CPU shares cannot be enforced: {why}")
    # About 60 ms of CPU at one full vCPU; 128 MB gets 7 % of a CPU.
    result = engine.cli("tune", "SpinFunction", "--stack-name", STACK, "--memory", "1769,128,256",
                        "--runs", "3", "--payload", '{"n": 2500000}', "--output", "json", timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cpu_limit"]["enforced"] is True and data["function"] == names["SpinFunction"]
    by_size = {r["memory_size"]: r for r in data["results"]}
    assert list(by_size) == [128, 256, 1769]
    p50 = {m: r["duration_ms"]["p50"] for m, r in by_size.items()}
    assert p50[128] > p50[256] > p50[1769], p50
    assert p50[128] > 3 * p50[1769], p50
    for m, r in by_size.items():
        assert r["errors"] == 0 and r["runs"] == 3
        assert r["cost_per_million_usd"] == pytest.approx(r["cost_per_invocation_usd"] * 1e6, rel=1e-6)
        expected = pricing.request_cost(1) + pricing.duration_cost(m, 1) * r["billed_ms_total"] / 3
        assert r["cost_per_invocation_usd"] == pytest.approx(expected, rel=1e-9)
    assert data["fastest"] == min(p50, key=p50.get)
    costs = {m: r["cost_per_invocation_usd"] for m, r in by_size.items()}
    assert data["cheapest"] == min(costs, key=costs.get)

    # The deployed function is untouched, tune runs are not traffic, and no cgroup is left behind.
    conf = engine.client("lambda").get_function(FunctionName=names["SpinFunction"])["Configuration"]
    assert conf["MemorySize"] == 1769
    assert function_row(summary(engine, "SpinFunction"), "SpinFunction")["invocations"] == 0
    leftovers = [p.name for p in groups.root.glob(f"tune-{engine.info['pid']}-*")]
    assert leftovers == []

    text = engine.cli("tune", "SpinFunction", "--stack-name", STACK, "--memory", "128,1769", "--runs", "1",
                      "--payload", '{"n": 500000}', timeout=120)
    assert text.returncode == 0, text.stderr
    assert "Cheapest:" in text.stdout and "Fastest:" in text.stdout and "█" in text.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["metrics", "NoSuchFunction"], "not deployed"),
    (["tune", "NoSuchFunction"], "not deployed"),
])
def test_unknown_function(engine: EngineHandle, args: list[str], message: str) -> None:
    result = engine.cli(*args, "--stack-name", STACK)
    assert result.returncode == 1 and message in result.stderr, result.stderr


@pytest.mark.parametrize(("args", "message", "code"), [
    (["tune", "WorkFunction", "--memory", "128,abc"], "not a whole number", 2),
    (["tune", "WorkFunction", "--memory", "64"], "outside", 2),
    (["tune", "WorkFunction", "--memory", "128,20000"], "outside", 2),
    (["tune", "WorkFunction", "--memory", ""], "at least one", 2),
    (["tune", "WorkFunction", "--runs", "0"], "--runs", 2),
    (["tune", "WorkFunction", "--runs", "many"], "many", 2),
    (["tune", "WorkFunction", "--payload", "{not json"], "not valid JSON", 1),  # samlite invoke's event check
    (["metrics", "--since", "abc"], "not a duration", 2),
    (["metrics", "--since", "15x"], "not a duration", 2),
    (["metrics", "--since", "0s"], "between", 2),
    (["metrics", "--since", "30d"], "between", 2),
])
def test_bad_input_is_refused(engine: EngineHandle, args: list[str], message: str, code: int) -> None:
    before = function_row(summary(engine, "WorkFunction", "--since", "1d"), "WorkFunction")["invocations"]
    result = engine.cli(*args, "--stack-name", STACK)
    assert result.returncode == code and message in result.stderr, result.stderr
    after = function_row(summary(engine, "WorkFunction", "--since", "1d"), "WorkFunction")["invocations"]
    assert after == before


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"memory_sizes": ["128"]}, "whole number"),
    ({"memory_sizes": [127]}, "outside"),
    ({"memory_sizes": []}, "at least one"),
    ({"runs": 0}, "--runs"),
    ({"runs": 101}, "--runs"),
    ({"payload_b64": base64.b64encode(b"[1,").decode()}, "not valid JSON"),
])
def test_engine_checks_tune_arguments_too(engine: EngineHandle, monkeypatch: pytest.MonkeyPatch,
                                          kwargs: dict[str, Any], message: str) -> None:
    from samlite.client import EngineClient, RemoteError
    from samlite.config import load_settings

    monkeypatch.setenv("SAMLITE_HOME", str(engine.home))
    client = EngineClient(load_settings())
    with pytest.raises(RemoteError) as exc:
        client.call("lambdas", "tune", function="WorkFunction", stack=STACK, **kwargs)
    assert exc.value.exit_code == 2 and message in exc.value.message
    with pytest.raises(RemoteError) as exc:
        client.call("metrics", "summary", since_s="15m")
    assert exc.value.exit_code == 2


def test_cloudwatch_get_metric_statistics_and_data(engine: EngineHandle, names: dict[str, str]) -> None:
    import datetime

    lam = engine.client("lambda")
    name = names["ArmFunction"]
    before = function_row(summary(engine, "ArmFunction", "--since", "1d"), "ArmFunction")
    for event in ({}, {}, {"fail": True}):
        lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    after = function_row(summary(engine, "ArmFunction", "--since", "1d"), "ArmFunction")
    cw = engine.client("cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc)
    window = {"StartTime": now - datetime.timedelta(hours=1), "EndTime": now + datetime.timedelta(minutes=1)}
    dims = [{"Name": "FunctionName", "Value": name}]

    def total(metric: str, stat: str = "Sum") -> float:
        resp = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, Period=3600 + 60,
                                        Statistics=[stat], **window)
        return sum(p[stat] for p in resp["Datapoints"])

    assert total("Invocations") == after["invocations"] == before["invocations"] + 3
    assert total("Errors") == after["errors"] == before["errors"] + 1
    assert total("Throttles") == 0
    assert total("Duration", "Maximum") == pytest.approx(after["duration_ms"]["max"], abs=1e-3)
    resp = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration", Dimensions=dims, Period=3660,
                                    ExtendedStatistics=["p50"], **window)
    assert resp["Datapoints"][0]["ExtendedStatistics"]["p50"] == pytest.approx(after["duration_ms"]["p50"], abs=1e-3)
    assert resp["Datapoints"][0]["Unit"] == "Milliseconds"

    data = cw.get_metric_data(MetricDataQueries=[
        {"Id": "inv", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                                                "Dimensions": dims}, "Period": 60, "Stat": "Sum"}},
    ], **window)
    [res] = data["MetricDataResults"]
    assert res["Id"] == "inv" and sum(res["Values"]) == after["invocations"]
    assert all(isinstance(t, datetime.datetime) for t in res["Timestamps"])

    other = cw.get_metric_statistics(Namespace="AWS/EC2", MetricName="CPUUtilization", Period=60,
                                     Statistics=["Average"], **window)
    assert other["Datapoints"] == []
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", Period=60, Statistics=["Sum"],
                                 StartTime=now, EndTime=now - datetime.timedelta(minutes=5))
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", Period=60, Statistics=["Sum"],
                                 StartTime=now - datetime.timedelta(days=2), EndTime=now)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterCombination"

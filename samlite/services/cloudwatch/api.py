"""CloudWatch metric reads for namespace AWS/Lambda: GetMetricStatistics and GetMetricData.

Current botocore sends CloudWatch requests in the JSON 1.0 protocol (X-Amz-Target
`GraniteServiceVersion20100801.<Action>`, timestamps as epoch seconds), which AwsApp routes
here. The data are the engine's invocation metrics (`services/cloudwatch/service.py`): Invocations, Errors,
Throttles, Duration and ConcurrentExecutions, optionally for one FunctionName dimension. Other
namespaces and metrics have no data points, as in an account that never published them.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from samlite.core.aws_api import AwsError, Reply, json_body
from samlite.core.endpoint import ApiService
from samlite.core.http import Request
from samlite.services.cloudwatch.service import LAMBDA_METRICS, percentile, samples

if TYPE_CHECKING:
    from samlite.services.cloudwatch.service import MetricsService

MAX_DATAPOINTS = 1440
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
CONTENT_TYPE = "application/x-amz-json-1.0"


def _invalid(message: str, code: str = "InvalidParameterValue") -> AwsError:
    return AwsError(code, message, 400)


def _time(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if value is None:
        raise AwsError("MissingParameter", f"The parameter {key} is required.", 400)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _invalid(f"The parameter {key} must be a timestamp.")
    return float(value)


def _window(data: dict[str, Any], period: Any) -> tuple[int, int, int]:
    start, end = _time(data, "StartTime"), _time(data, "EndTime")
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise _invalid("The parameter Period must be a positive integer.")
    if period >= 60 and period % 60:
        raise _invalid("The parameter Period must be 1, 5, 10, 30, or a multiple of 60.")
    if start >= end:
        raise _invalid("The parameter StartTime must be less than the parameter EndTime.")
    start_ms, end_ms = int(start) * 1000, int(math.ceil(end)) * 1000
    if (end_ms - start_ms) / (period * 1000) > MAX_DATAPOINTS:
        raise AwsError("InvalidParameterCombination",
                       f"You have requested up to {math.ceil((end_ms - start_ms) / (period * 1000))} datapoints,"
                       f" which exceeds the limit of {MAX_DATAPOINTS}. You may reduce the datapoints requested by"
                       " increasing Period, or decreasing the time range.", 400)
    return start_ms, end_ms, period


def _function_name(namespace: Any, dimensions: Any) -> tuple[bool, str | None]:
    """(has data, FunctionName or None for all functions)."""
    if dimensions is not None and not isinstance(dimensions, list):
        raise _invalid("The parameter Dimensions must be a list.")
    name = None
    for dim in dimensions or []:
        if not isinstance(dim, dict) or not isinstance(dim.get("Name"), str) or not isinstance(dim.get("Value"), str):
            raise _invalid("Each dimension must have a Name and a Value.")
        if dim["Name"] == "FunctionName":
            name = dim["Value"]
        else:
            return False, None  # Resource / ExecutedVersion: not tracked separately
    return namespace == "AWS/Lambda", name


def _stat(values: list[float], stat: str) -> float:
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Sum":
        return float(sum(values))
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    if stat.startswith("p"):
        return float(percentile(values, float(stat[1:])) or 0.0)
    raise _invalid(f"The statistic {stat} is not supported.")


def _check_extended(stat: Any) -> str:
    if not isinstance(stat, str) or not stat.startswith("p"):
        raise _invalid(f"The extended statistic {stat!r} is not a percentile like p99.")
    try:
        value = float(stat[1:])
    except ValueError:
        raise _invalid(f"The extended statistic {stat!r} is not a percentile like p99.") from None
    if not 0 <= value <= 100:
        raise _invalid(f"The extended statistic {stat!r} must be between p0 and p100.")
    return stat


def get_metric_statistics(metrics: "MetricsService", data: dict[str, Any]) -> dict[str, Any]:
    namespace, metric = data.get("Namespace"), data.get("MetricName")
    if not isinstance(namespace, str) or not isinstance(metric, str):
        raise AwsError("MissingParameter", "The parameters Namespace and MetricName are required.", 400)
    stats = data.get("Statistics") or []
    extended = data.get("ExtendedStatistics") or []
    if not stats and not extended:
        raise AwsError("MissingParameter", "Must specify either Statistics or ExtendedStatistics.", 400)
    if stats and not all(s in STATISTICS for s in stats):
        raise _invalid(f"Statistics must be among {', '.join(STATISTICS)}.")
    extended = [_check_extended(s) for s in extended]
    start_ms, end_ms, period = _window(data, data.get("Period"))
    known, function = _function_name(namespace, data.get("Dimensions"))
    unit = LAMBDA_METRICS.get(metric, "None")
    points = samples(metrics, metric, function, start_ms, end_ms, period) if known else {}
    datapoints = []
    for ts, values in sorted(points.items()):
        point: dict[str, Any] = {"Timestamp": ts, "Unit": unit}
        for stat in stats:
            point[stat] = _stat(values, stat)
        if extended:
            point["ExtendedStatistics"] = {s: _stat(values, s) for s in extended}
        datapoints.append(point)
    return {"Label": metric, "Datapoints": datapoints}


def get_metric_data(metrics: "MetricsService", data: dict[str, Any]) -> dict[str, Any]:
    queries = data.get("MetricDataQueries")
    if not isinstance(queries, list) or not queries:
        raise AwsError("MissingParameter", "The parameter MetricDataQueries is required.", 400)
    if len(queries) > 500:
        raise _invalid("At most 500 MetricDataQueries per request.")
    ascending = data.get("ScanBy") == "TimestampAscending"
    results = []
    for query in queries:
        if not isinstance(query, dict) or not isinstance(query.get("Id"), str):
            raise _invalid("Each MetricDataQuery needs an Id.")
        stat_q = query.get("MetricStat")
        if not isinstance(stat_q, dict):
            raise _invalid(f"Query {query['Id']}: only MetricStat queries are supported (no Expression).")
        metric_q = stat_q.get("Metric") or {}
        stat = stat_q.get("Stat")
        if stat not in STATISTICS:
            stat = _check_extended(stat)
        start_ms, end_ms, period = _window(data, stat_q.get("Period"))
        known, function = _function_name(metric_q.get("Namespace"), metric_q.get("Dimensions"))
        metric = metric_q.get("MetricName")
        points = samples(metrics, metric, function, start_ms, end_ms, period) \
            if known and isinstance(metric, str) else {}
        if query.get("ReturnData") is False:
            continue
        ordered = sorted(points.items(), reverse=not ascending)
        results.append({"Id": query["Id"], "Label": query.get("Label") or metric or query["Id"],
                        "Timestamps": [ts for ts, _ in ordered],
                        "Values": [_stat(values, stat) for _, values in ordered],
                        "StatusCode": "Complete"})
    return {"MetricDataResults": results, "Messages": []}


def list_metrics(metrics: "MetricsService", data: dict[str, Any]) -> dict[str, Any]:
    namespace = data.get("Namespace")
    if namespace not in (None, "AWS/Lambda"):
        return {"Metrics": []}
    since = int((time.time() - 14 * 86400) * 1000)
    names = [r["function_name"] for r in metrics.store.query(
        "SELECT DISTINCT function_name FROM metrics WHERE timestamp_ms >= ? ORDER BY function_name", (since,))]
    wanted = data.get("MetricName")
    out = [{"Namespace": "AWS/Lambda", "MetricName": m, "Dimensions": [{"Name": "FunctionName", "Value": n}]}
           for n in names for m in LAMBDA_METRICS if wanted in (None, m)]
    return {"Metrics": out}


ACTIONS = {"GetMetricStatistics": get_metric_statistics, "GetMetricData": get_metric_data,
           "ListMetrics": list_metrics}


async def handle(metrics: "MetricsService", request: Request, action: str) -> Reply:
    fn = ACTIONS.get(action)
    if fn is None:
        raise AwsError("UnknownOperationException", f"CloudWatch action {action} is not supported by samlite.", 400)
    return Reply.json(fn(metrics, json_body(request)), content_type=CONTENT_TYPE)


def api(metrics: "MetricsService") -> ApiService:
    return ApiService("monitoring", partial(handle, metrics), targets=("GraniteServiceVersion20100801",))

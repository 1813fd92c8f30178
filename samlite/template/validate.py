"""Semantic checks shared by several resource types: property conversions, ranges, and an SQS
event source's parameters (a SAM SQS event, an explicit mapping, a stream mapping's filters).

A type's own checks are in its module under `types/` (Lambda's limits in `types/function`,
SQS's in `types/queue`). Each `check_*` takes resolved properties and a
`report(path, message, severity)` callback, so it knows nothing about lines or files.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

Report = Callable[[tuple[Any, ...], str, str], None]

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def as_int(value: Any) -> int | None:
    """An integer property value (CloudFormation accepts "128" too); None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def check_range(report: Report, props: Mapping[str, Any], key: str, low: int | None,
                high: int | None, path: tuple[Any, ...] = ()) -> int | None:
    """Report a property outside [low, high]; return its integer value (or None if absent)."""
    if not isinstance(props, Mapping) or key not in props or props[key] is None:
        return None
    value = as_int(props[key])
    if value is None:
        report(path + (key,), f"must be an integer, not {props[key]!r}", "error")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            report(path + (key,), f"{value} is out of range: must be at least {low:,}", "error")
        else:
            report(path + (key,), f"{value} is out of range: must be {low:,}-{high:,}", "error")
    return value


def check_sqs_mapping(report: Report, props: Mapping[str, Any], fifo: bool | None,
                      path: tuple[Any, ...] = ()) -> None:
    """Event source mapping parameters for an SQS source (SAM SQS event or explicit)."""
    batch = check_range(report, props, "BatchSize", 1, 10 if fifo else 10000, path)
    window = check_range(report, props, "MaximumBatchingWindowInSeconds", 0, 300, path)
    if fifo and window is not None:
        report(path + ("MaximumBatchingWindowInSeconds",), "MaximumBatchingWindowInSeconds is "
               "not supported for FIFO queues", "error")
    elif not fifo and batch is not None and batch > 10 and not window:
        report(path + ("MaximumBatchingWindowInSeconds",), "MaximumBatchingWindowInSeconds must "
               f"be at least 1 when BatchSize is greater than 10 (BatchSize is {batch})", "error")
    scaling = props.get("ScalingConfig")
    if isinstance(scaling, Mapping):
        check_range(report, scaling, "MaximumConcurrency", 2, 1000, path + ("ScalingConfig",))
    types = props.get("FunctionResponseTypes")
    if isinstance(types, list):
        for index, item in enumerate(types):
            if item != "ReportBatchItemFailures":
                report(path + ("FunctionResponseTypes", index), f"unknown response type {item!r}; "
                       "only ReportBatchItemFailures is supported", "error")
    criteria = props.get("FilterCriteria")
    if isinstance(criteria, Mapping):
        filters = criteria.get("Filters")
        if isinstance(filters, list):
            if len(filters) > 5:
                report(path + ("FilterCriteria", "Filters"), f"{len(filters)} filters; at most 5 "
                       "are allowed", "error")
            for index, item in enumerate(filters):
                pattern = item.get("Pattern") if isinstance(item, Mapping) else None
                if isinstance(pattern, str):
                    try:
                        json.loads(pattern)
                    except ValueError:
                        report(path + ("FilterCriteria", "Filters", index, "Pattern"),
                               "the filter pattern is not valid JSON", "error")
                    if len(pattern) > 4096:
                        report(path + ("FilterCriteria", "Filters", index, "Pattern"),
                               "a filter pattern may be at most 4096 characters", "error")

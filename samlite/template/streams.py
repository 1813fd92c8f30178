"""DynamoDB Streams and Kinesis event sources: SAM `DynamoDB` / `Kinesis` function events and
AWS::Lambda::EventSourceMapping resources on a stream ARN, checked as CreateEventSourceMapping
checks them, and turned into `model.EventSourceMapping` (stream settings in `stream`, under
the API's own names)."""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

from samlite.template import model
from samlite.template import validate as checks

STREAM_ARN = re.compile(r"arn:aws[a-z-]*:(kinesis|dynamodb):[a-z0-9-]+:\d{12}:"
                        r"(stream/[^/]+|table/[^/]+/stream/[^/]+)$")
POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
# The stream-only parameters kept in `EventSourceMapping.stream`, as the Lambda API names them.
STREAM_KEYS = ("StartingPosition", "StartingPositionTimestamp", "MaximumRetryAttempts",
               "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "ParallelizationFactor",
               "DestinationConfig")
Report = Callable[..., None]


def stream_kind(arn: Any) -> str | None:
    match = STREAM_ARN.match(arn) if isinstance(arn, str) else None
    return match.group(1) if match else None


def _validation(report: Report, key: str, message: str) -> None:
    """AWS's ValidationException wording for one parameter."""
    report((key,), message, "error")


def check(report: Report, props: Mapping[str, Any], source_key: str) -> str | None:
    """Check a stream mapping's parameters as Lambda does; return the source kind, or None
    when the source is not a stream ARN (reported)."""
    arn = props.get(source_key)
    kind = stream_kind(arn)
    if kind is None:
        report((source_key,), f"{source_key} must be a Kinesis stream ARN or a DynamoDB stream ARN "
               f"(!GetAtt Table.StreamArn), not {arn!r}", "error")
        return None
    position = props.get("StartingPosition")
    if position is None:
        report(("StartingPosition",), "StartingPosition is required for a Kinesis or DynamoDB Streams "
               "event source (TRIM_HORIZON, LATEST or AT_TIMESTAMP)", "error")
    elif position not in POSITIONS:
        _validation(report, "StartingPosition", f"1 validation error detected: Value '{position}' at "
                    "'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: "
                    "[LATEST, AT_TIMESTAMP, TRIM_HORIZON]")
    elif position == "AT_TIMESTAMP":
        if kind == "dynamodb":
            report(("StartingPosition",), "InvalidParameterValueException: Unsupported starting position "
                   "AT_TIMESTAMP for a DynamoDB stream (use TRIM_HORIZON or LATEST)", "error")
        elif props.get("StartingPositionTimestamp") is None:
            report(("StartingPositionTimestamp",), "InvalidParameterValueException: Need to specify a "
                   "timestamp (StartingPositionTimestamp) for StartingPosition AT_TIMESTAMP", "error")
    if props.get("StartingPositionTimestamp") is not None and position != "AT_TIMESTAMP":
        report(("StartingPositionTimestamp",), "StartingPositionTimestamp is only allowed with "
               "StartingPosition AT_TIMESTAMP", "error")
    for key, api_key, low, high in (("BatchSize", "batchSize", 1, 10000),
                                    ("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, 300),
                                    ("ParallelizationFactor", "parallelizationFactor", 1, 10),
                                    ("MaximumRetryAttempts", "maximumRetryAttempts", -1, 10000),
                                    ("MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", -1, 604800),
                                    ("TumblingWindowInSeconds", "tumblingWindowInSeconds", 0, 900)):
        if props.get(key) is None:
            continue
        value = checks.as_int(props[key])
        if value is None:
            report((key,), f"must be an integer, not {props[key]!r}", "error")
        elif value < low or value > high:
            bound = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
            _validation(report, key, f"1 validation error detected: Value '{value}' at '{api_key}' failed to "
                        f"satisfy constraint: Member must have value {bound}")
        elif key == "MaximumRecordAgeInSeconds" and 0 <= value < 60:
            report((key,), "InvalidParameterValueException: MaximumRecordAgeInSeconds must be -1 (infinite) "
                   f"or between 60 and 604800, not {value}", "error")
    destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}) \
        if isinstance(props.get("DestinationConfig"), Mapping) else {}
    target = destination.get("Destination") if isinstance(destination, Mapping) else None
    if target is not None and not (isinstance(target, str) and re.match(r"arn:aws[a-z-]*:(sqs|sns):", target)):
        report(("DestinationConfig", "OnFailure", "Destination"), "InvalidParameterValueException: the "
               "OnFailure destination of a stream event source must be an SQS queue or SNS topic ARN, "
               f"not {target!r}", "error")
    checks.check_sqs_mapping(_only(report, ("FunctionResponseTypes", "FilterCriteria")),
                             {k: v for k, v in props.items() if k in ("FunctionResponseTypes", "FilterCriteria")},
                             None)
    return kind


def _only(report: Report, keys: tuple[str, ...]) -> Report:
    def inner(path: tuple[Any, ...], message: str, severity: str = "error") -> None:
        if path and path[0] in keys:
            report(path, message, severity)
    return inner


def mapping(mapping_lid: str, uuid: str, function_lid: str, arn: str,
            props: Mapping[str, Any]) -> model.EventSourceMapping:
    """The model of a stream mapping (SAM event properties or EventSourceMapping properties)."""
    filters = (props.get("FilterCriteria") or {}).get("Filters") if isinstance(props.get("FilterCriteria"), Mapping) \
        else None
    patterns = []
    for item in filters if isinstance(filters, list) else []:
        pattern = item.get("Pattern") if isinstance(item, Mapping) else None
        if pattern is not None:
            patterns.append(pattern if isinstance(pattern, str) else json.dumps(pattern))
    stream: dict[str, Any] = {}
    for key in STREAM_KEYS:
        value = props.get(key)
        if value is None:
            continue
        if key == "BisectBatchOnFunctionError":
            value = checks.as_bool(value)
        elif key == "DestinationConfig":
            target = ((value or {}).get("OnFailure") or {}).get("Destination") if isinstance(value, Mapping) else None
            value = {"OnFailure": {"Destination": target}} if target else {"OnFailure": {}}
        elif key != "StartingPosition":
            value = checks.as_int(value) if key != "StartingPositionTimestamp" else _timestamp(value)
        stream[key] = value
    types = props.get("FunctionResponseTypes")
    return model.EventSourceMapping(
        logical_id=mapping_lid, uuid=uuid, function=function_lid, event_source_arn=arn,
        batch_size=checks.as_int(props.get("BatchSize")) or 100,
        maximum_batching_window_seconds=checks.as_int(props.get("MaximumBatchingWindowInSeconds")) or 0,
        enabled=checks.as_bool(props.get("Enabled"), True), filter_patterns=tuple(patterns),
        function_response_types=tuple(str(t) for t in types) if isinstance(types, list) else (),
        stream=stream)


def _timestamp(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

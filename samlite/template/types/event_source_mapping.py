"""AWS::Lambda::EventSourceMapping: SQS, DynamoDB Streams and Kinesis mappings samlite polls.

`sqs_mapping` and `check_visibility` are shared with the SAM function's SQS events.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from samlite.template import model, streams
from samlite.template.schema_parts import ANY, BOOL, INT, LIST, OBJ, STR, obj
from samlite.template.types.base import MAPPINGS, Assembly, Entry, Pipeline, ResourceType, as_dict, attributes
from samlite.template.types.registry import register
from samlite.template.validate import Report, as_bool, as_int, check_sqs_mapping

SCHEMA = obj({"EventSourceArn": ANY, "FunctionName": ANY, "BatchSize": INT, "Enabled": BOOL,
              "MaximumBatchingWindowInSeconds": INT, "FilterCriteria": OBJ,
              "FunctionResponseTypes": LIST, "ScalingConfig": OBJ, "StartingPosition": STR,
              "StartingPositionTimestamp": ANY, "Tags": LIST, "KmsKeyArn": ANY,
              "MetricsConfig": OBJ, "ProvisionedPollerConfig": OBJ, "DestinationConfig": OBJ,
              "MaximumRecordAgeInSeconds": INT, "MaximumRetryAttempts": INT,
              "BisectBatchOnFunctionError": BOOL, "ParallelizationFactor": INT, "Queues": LIST,
              "SourceAccessConfigurations": LIST, "TumblingWindowInSeconds": INT, "Topics": LIST,
              "SelfManagedEventSource": OBJ, "AmazonManagedKafkaEventSourceConfig": OBJ,
              "SelfManagedKafkaEventSourceConfig": OBJ, "DocumentDBEventSourceConfig": OBJ},
             required=("FunctionName",))


def uuid_of(seed: str) -> str:
    raw = model.stable_id(seed, 32, "0123456789abcdef")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def fifo_arn(arn: Any) -> bool | None:
    """A queue outside the template is FIFO when its ARN says so; otherwise unknown."""
    return True if isinstance(arn, str) and arn.endswith(".fifo") else None


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None)
    return ()


def _int(value: Any, default: int) -> int:
    number = as_int(value)
    return default if number is None else number


def check_visibility(report: Report, queue: model.Queue | None, function: model.Function) -> None:
    if queue is not None and queue.visibility_timeout < function.timeout:
        report(("Queue",), f"Queue visibility timeout: {queue.visibility_timeout} seconds is "
               f"less than Function timeout: {function.timeout} seconds", "error")


def sqs_mapping(b: Pipeline, mapping_lid: str, function_lid: str, arn: str,
                props: Mapping[str, Any]) -> model.EventSourceMapping:
    """The model of an SQS mapping (SAM SQS event properties or EventSourceMapping properties)."""
    filters = as_dict(props.get("FilterCriteria")).get("Filters")
    patterns = []
    for item in filters if isinstance(filters, list) else []:
        pattern = as_dict(item).get("Pattern")
        if pattern is not None:
            patterns.append(pattern if isinstance(pattern, str) else json.dumps(pattern))
    scaling = as_dict(props.get("ScalingConfig"))
    return model.EventSourceMapping(
        logical_id=mapping_lid, uuid=str(b.ref_value(mapping_lid)), function=function_lid,
        event_source_arn=arn, batch_size=_int(props.get("BatchSize"), 10),
        maximum_batching_window_seconds=_int(props.get("MaximumBatchingWindowInSeconds"), 0),
        enabled=as_bool(props.get("Enabled"), True), filter_patterns=tuple(patterns),
        function_response_types=_strs(props.get("FunctionResponseTypes")),
        maximum_concurrency=as_int(scaling.get("MaximumConcurrency")))


class EventSourceMapping(ResourceType):
    type_name = "AWS::Lambda::EventSourceMapping"
    schema = SCHEMA
    attributes = attributes("EventSourceMappingArn Id")
    phase = MAPPINGS  # SAM's mappings are assembled with their function's events

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return uuid_of(f"{b.context.stack_name}/{entry.logical_id}")

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        ctx = b.context
        mapping = uuid_of(f"{ctx.stack_name}/{entry.logical_id}")
        return mapping if attr == "Id" else \
            f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:event-source-mapping:{mapping}"

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        report = asm.report(lid)
        arn = props.get("EventSourceArn")
        function_lid = asm.function_by_ref(props.get("FunctionName"))
        if streams.stream_kind(arn) and function_lid is not None:
            if streams.check(report, props, "EventSourceArn") is not None:
                asm.mappings[lid] = streams.mapping(lid, str(asm.b.ref_value(lid)), function_lid, str(arn), props)
            return
        if not (isinstance(arn, str) and arn.startswith("arn:aws:sqs:")):
            entry.emulated = False
            asm.b.warn_not_emulated(lid, "only SQS, DynamoDB Streams and Kinesis event source mappings "
                                    "are emulated; this one "
                                    "is skipped")
            return
        queue = asm.queue_by_arn(arn)
        check_sqs_mapping(report, props, queue.fifo if queue else fifo_arn(arn))
        if function_lid is None:
            report(("FunctionName",), f"FunctionName {props.get('FunctionName')!r} is not a "
                   "function of this stack; the mapping cannot be emulated", "error")
            return
        check_visibility(report, queue, asm.functions[function_lid])
        asm.mappings[lid] = sqs_mapping(asm.b, lid, function_lid, arn, props)


register(EventSourceMapping())

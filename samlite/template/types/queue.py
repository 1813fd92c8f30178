"""AWS::SQS::Queue: a queue samlite's SQS service runs."""

from __future__ import annotations

import json
from typing import Any, Mapping

from samlite.template import model
from samlite.template.schema_parts import ANY, BOOL, INT, LIST, STR, obj, typed
from samlite.template.types.base import (
    GENERATED_QUEUES,
    LAYERS_AND_QUEUES,
    Assembly,
    Entry,
    Pipeline,
    ResourceType,
    attributes,
)
from samlite.template.types.registry import register
from samlite.template.validate import QUEUE_NAME, Report, as_bool, as_int, check_range

SCHEMA = obj({"QueueName": STR, "VisibilityTimeout": INT, "MessageRetentionPeriod": INT,
              "DelaySeconds": INT, "MaximumMessageSize": INT, "ReceiveMessageWaitTimeSeconds": INT,
              "RedrivePolicy": typed("object", "string"), "RedriveAllowPolicy": typed("object", "string"),
              "FifoQueue": BOOL, "ContentBasedDeduplication": BOOL, "DeduplicationScope": STR,
              "FifoThroughputLimit": STR, "KmsMasterKeyId": ANY, "KmsDataKeyReusePeriodSeconds": INT,
              "SqsManagedSseEnabled": BOOL, "Tags": LIST})


def check_queue(report: Report, props: Mapping[str, Any]) -> None:
    """SQS attribute ranges and names."""
    check_range(report, props, "VisibilityTimeout", 0, 43200)
    check_range(report, props, "MessageRetentionPeriod", 60, 1209600)
    check_range(report, props, "DelaySeconds", 0, 900)
    check_range(report, props, "MaximumMessageSize", 1024, 1048576)
    check_range(report, props, "ReceiveMessageWaitTimeSeconds", 0, 20)
    fifo = as_bool(props.get("FifoQueue"))
    name = props.get("QueueName")
    if isinstance(name, str):
        base = name[:-5] if name.endswith(".fifo") else name
        if len(name) > 80 or not QUEUE_NAME.fullmatch(base or "-"):
            report(("QueueName",), f"invalid queue name '{name}': 1-80 characters of A-Z, a-z, "
                   "0-9, - and _ (FIFO names end in .fifo)", "error")
        elif fifo and not name.endswith(".fifo"):
            report(("QueueName",), f"the name of a FIFO queue must end in .fifo: '{name}'", "error")
        elif not fifo and name.endswith(".fifo"):
            report(("QueueName",), f"'{name}' ends in .fifo but FifoQueue is not true", "error")
    if "ContentBasedDeduplication" in props and as_bool(props["ContentBasedDeduplication"]) and not fifo:
        report(("ContentBasedDeduplication",), "only FIFO queues support content-based "
               "deduplication", "error")
    redrive = props.get("RedrivePolicy")
    if isinstance(redrive, str):
        try:
            redrive = json.loads(redrive)
        except ValueError:
            report(("RedrivePolicy",), "RedrivePolicy is not valid JSON", "error")
            return
    if isinstance(redrive, Mapping):
        if not redrive.get("deadLetterTargetArn"):
            report(("RedrivePolicy",), "deadLetterTargetArn is required", "error")
        if "maxReceiveCount" not in redrive:
            report(("RedrivePolicy",), "maxReceiveCount is required", "error")
        check_range(report, redrive, "maxReceiveCount", 1, 1000, ("RedrivePolicy",))


def _int(value: Any, default: int) -> int:
    number = as_int(value)
    return default if number is None else number


class Queue(ResourceType):
    type_name = "AWS::SQS::Queue"
    schema = SCHEMA
    name_property = "QueueName"
    attributes = attributes("Arn QueueName QueueUrl")
    phase = LAYERS_AND_QUEUES
    generated_phase = GENERATED_QUEUES  # after the template's, before functions refer to them

    def default_name(self, b: Pipeline, entry: Entry) -> str:
        """CloudFormation's generated name; a FIFO queue's keeps room for `.fifo`."""
        stack, lid = b.context.stack_name, entry.logical_id
        if as_bool(b.resolve_property(lid, "FifoQueue")):
            return model.physical_name(stack, lid, 75) + ".fifo"
        return model.physical_name(stack, lid, 80)

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return b.context.queue_url(b.physical_name(entry.logical_id))

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        ctx = b.context
        name = b.physical_name(entry.logical_id)
        return {"Arn": ctx.queue_arn(name), "QueueName": name, "QueueUrl": ctx.queue_url(name)}[attr]

    def check(self, asm: Assembly, entry: Entry) -> None:
        check_queue(asm.report(entry.logical_id), entry.resolved or {})

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        ctx = asm.ctx
        name = asm.b.physical_name(lid)
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, str):
            try:
                redrive = json.loads(redrive)
            except ValueError:
                redrive = None
        policy = None
        if isinstance(redrive, dict) and redrive.get("deadLetterTargetArn"):
            policy = model.RedrivePolicy(str(redrive["deadLetterTargetArn"]),
                                         _int(redrive.get("maxReceiveCount"), 10))
        tags = {str(t.get("Key")): str(t.get("Value")) for t in props.get("Tags", [])
                if isinstance(t, dict)} if isinstance(props.get("Tags"), list) else {}
        fifo = as_bool(props.get("FifoQueue")) or name.endswith(".fifo")
        asm.queues[lid] = model.Queue(
            logical_id=lid, name=name, url=ctx.queue_url(name), arn=ctx.queue_arn(name),
            fifo=fifo,
            visibility_timeout=_int(props.get("VisibilityTimeout"), 30),
            message_retention_period=_int(props.get("MessageRetentionPeriod"), 345600),
            delay_seconds=_int(props.get("DelaySeconds"), 0),
            maximum_message_size=_int(props.get("MaximumMessageSize"), 1048576),
            receive_message_wait_time_seconds=_int(props.get("ReceiveMessageWaitTimeSeconds"), 0),
            content_based_deduplication=as_bool(props.get("ContentBasedDeduplication")),
            redrive_policy=policy, tags=tags)


register(Queue())

"""SQS over the JSON protocol (`X-Amz-Target: AmazonSQS.<Action>`, botocore >= 1.34.90).

Each action takes the request members as a dict (the JSON protocol's own shape) and returns the
result members as a dict; `sqs_query` reuses the same actions after unflattening its form
parameters, so the two protocols cannot drift apart. Queue semantics live in `queues`.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from samlite.core.aws_api import AwsError, Reply
from samlite.core.http import Request
from samlite.services.sqs.attributes import (
    QueueError,
    check_batch,
    check_max_messages,
    check_visibility,
    check_wait,
)

if TYPE_CHECKING:
    from samlite.services.sqs.service import Queue, QueueService, Received

CONTENT_TYPE = "application/x-amz-json-1.0"
Action = Callable[["QueueService", dict[str, Any]], Awaitable[dict[str, Any]]]


async def handle(queues: "QueueService", request: Request, action: str) -> Reply:
    fn = ACTIONS.get(action)
    if fn is None:
        raise AwsError("InvalidAction", f"The action {action} is not valid for this endpoint.", 400,
                       query_code="InvalidAction")
    try:
        params = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise AwsError("SerializationException", "The request body is not valid JSON.", 400,
                       namespace="com.amazon.coral.service") from None
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "The request body must be a JSON object.", 400,
                       namespace="com.amazon.coral.service")
    result = await run(queues, action, params)
    return Reply(200, json.dumps(result).encode(), CONTENT_TYPE)


async def run(queues: "QueueService", action: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one action; QueueError becomes AwsError with both codes (modelled and legacy)."""
    try:
        return await ACTIONS[action](queues, params)
    except QueueError as err:
        raise to_aws(err) from None


def to_aws(err: QueueError) -> AwsError:
    return AwsError(err.code, err.message, err.status, query_code=err.query_code)


def _queue(queues: "QueueService", params: dict[str, Any]) -> "Queue":
    return queues.get(params.get("QueueUrl"))


def _failed(entry_id: str, err: QueueError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": err.status < 500, "Code": err.code, "Message": err.message}


# --- queues --------------------------------------------------------------------------------
async def create_queue(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = queues.create_queue(p.get("QueueName"), p.get("Attributes"), p.get("tags"))
    return {"QueueUrl": q.url}


async def delete_queue(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    queues.delete_queue(_queue(queues, p))
    return {}


async def get_queue_url(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("QueueName")
    if not isinstance(name, str) or not name:
        raise QueueError("MissingParameter", "The request must contain the parameter QueueName.")
    return {"QueueUrl": queues.get(name).url}


async def list_queues(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    names = [q.url for q in queues.list_queues(p.get("QueueNamePrefix"))]
    return _page(names, p, "QueueUrls")


def _page(urls: list[str], p: dict[str, Any], key: str) -> dict[str, Any]:
    max_results = p.get("MaxResults")
    token = p.get("NextToken")
    if max_results is None:
        if token is not None:
            raise QueueError("InvalidParameterValue", "MaxResults is a mandatory parameter when you provide a value "
                                                      "for NextToken.")
        urls = urls[:1000]
        return {key: urls} if urls or key == "queueUrls" else {}
    try:
        limit = int(max_results)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= 1000:
        raise QueueError("InvalidParameterValue",
                         f"Value {max_results} for parameter MaxResults is invalid. Reason: MaxResults must be an "
                         "integer between 1 and 1000.")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(str(token).encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise QueueError("InvalidParameterValue", "Invalid NextToken value.") from None
    chunk = urls[start:start + limit]
    out: dict[str, Any] = {key: chunk} if chunk or key == "queueUrls" else {}
    if start + limit < len(urls):
        out["NextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    return out


async def get_queue_attributes(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    attrs = queues.get_attributes(_queue(queues, p), p.get("AttributeNames") or [])
    return {"Attributes": attrs} if attrs else {}


async def set_queue_attributes(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    queues.set_attributes(_queue(queues, p), p.get("Attributes"))
    return {}


async def purge_queue(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    queues.purge(_queue(queues, p))
    return {}


async def tag_queue(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    queues.tag(_queue(queues, p), p.get("Tags"))
    return {}


async def untag_queue(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    queues.untag(_queue(queues, p), p.get("TagKeys"))
    return {}


async def list_queue_tags(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    tags = _queue(queues, p).tags
    return {"Tags": dict(tags)} if tags else {}


async def list_dead_letter_source_queues(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(queues, p)
    return _page([s.url for s in queues.dead_letter_sources(q)], p, "queueUrls")


# --- messages ------------------------------------------------------------------------------
async def send_message(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    return queues.send(_queue(queues, p), p)


async def send_message_batch(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(queues, p)
    entries = check_batch(p.get("Entries"), "SendMessageBatchRequestEntry")
    total = 0
    for entry in entries:
        body = entry.get("MessageBody")
        total += len(body.encode("utf-8")) if isinstance(body, str) else 0
        for name, attr in (entry.get("MessageAttributes") or {}).items() if isinstance(
                entry.get("MessageAttributes"), dict) else ():
            total += len(str(name)) + sum(len(str(v)) for v in attr.values()) if isinstance(attr, dict) else 0
    if total > q.max_size:
        raise QueueError("BatchRequestTooLong",
                         f"Batch requested message too long. Total size of all messages in the batch must be "
                         f"shorter than {q.max_size} bytes.")
    results = queues.send_batch(q, entries)
    ok, failed = [], []
    for entry, result in zip(entries, results):
        if isinstance(result, QueueError):
            failed.append(_failed(entry["Id"], result))
        else:
            ok.append({"Id": entry["Id"], **result})
    return {"Successful": ok, "Failed": failed}


async def receive_message(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(queues, p)
    max_n = check_max_messages(p.get("MaxNumberOfMessages"))
    vt = check_visibility(p.get("VisibilityTimeout"))
    wait = check_wait(p.get("WaitTimeSeconds"))
    system_names = list(p.get("MessageSystemAttributeNames") or []) + list(p.get("AttributeNames") or [])
    attr_names = list(p.get("MessageAttributeNames") or [])
    messages = await queues.receive(q, max_n, vt, wait)
    if not messages:
        return {}
    return {"Messages": [render_message(m, system_names, attr_names) for m in messages]}


def render_message(m: "Received", system_names: list[str], attr_names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"MessageId": m.message_id, "ReceiptHandle": m.receipt, "MD5OfBody": m.md5_body,
                           "Body": m.body}
    if system_names:
        system = m.system_attributes(system_names)
        if system:
            out["Attributes"] = system
    if attr_names and m.attributes_json:
        attrs = select_attributes(json.loads(m.attributes_json), attr_names)
        if attrs:
            from samlite.services.sqs.md5 import md5_attributes

            # The digest covers exactly the attributes returned (as AWS computes it).
            out["MD5OfMessageAttributes"] = m.md5_attributes if len(attrs) == _count(m) else md5_attributes(
                {k: _binary(v) for k, v in attrs.items()})
            out["MessageAttributes"] = attrs
    return out


def _count(m: "Received") -> int:
    return len(json.loads(m.attributes_json)) if m.attributes_json else 0


def _binary(attr: dict[str, Any]) -> dict[str, Any]:
    if "BinaryValue" in attr:
        return {"DataType": attr["DataType"], "BinaryValue": base64.b64decode(attr["BinaryValue"])}
    return attr


def select_attributes(attrs: dict[str, Any], names: list[str]) -> dict[str, Any]:
    if "All" in names or ".*" in names:
        return attrs
    prefixes = tuple(n[:-2] for n in names if n.endswith(".*"))
    exact = set(names)
    return {k: v for k, v in attrs.items() if k in exact or (prefixes and k.startswith(prefixes))}


async def delete_message(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(queues, p)
    if p.get("ReceiptHandle") is None:
        raise QueueError("MissingParameter", "The request must contain the parameter ReceiptHandle.")
    queues.delete(q, p.get("ReceiptHandle"))
    return {}


async def delete_message_batch(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(queues, p)
    entries = check_batch(p.get("Entries"), "DeleteMessageBatchRequestEntry")
    results = queues.delete_batch(q, [e.get("ReceiptHandle") for e in entries])
    return _batch_result(entries, results)


async def change_message_visibility(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(queues, p)
    if p.get("ReceiptHandle") is None:
        raise QueueError("MissingParameter", "The request must contain the parameter ReceiptHandle.")
    queues.change_visibility(q, p.get("ReceiptHandle"), p.get("VisibilityTimeout"))
    return {}


async def change_message_visibility_batch(queues: "QueueService", p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(queues, p)
    entries = check_batch(p.get("Entries"), "ChangeMessageVisibilityBatchRequestEntry")
    results = queues.change_visibility_batch(
        q, [(e.get("ReceiptHandle"), e.get("VisibilityTimeout", 0)) for e in entries])
    return _batch_result(entries, results)


def _batch_result(entries: list[dict[str, Any]], results: list[QueueError | None]) -> dict[str, Any]:
    ok, failed = [], []
    for entry, err in zip(entries, results):
        if err is None:
            ok.append({"Id": entry["Id"]})
        else:
            failed.append(_failed(entry["Id"], err))
    return {"Successful": ok, "Failed": failed}


ACTIONS: dict[str, Action] = {
    "CreateQueue": create_queue,
    "DeleteQueue": delete_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "PurgeQueue": purge_queue,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
}

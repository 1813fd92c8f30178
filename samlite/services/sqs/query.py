"""SQS over the legacy query protocol (form-encoded `Action=...`, XML responses; older clients).

Flattened form parameters (`Attribute.1.Name`, `MessageAttribute.1.Value.DataType`,
`SendMessageBatchRequestEntry.2.Id`, ...) are folded back into the JSON protocol's member shape,
the shared action in `sqs.py` runs, and its result dict is written as
`<XResponse><XResult>...</XResult><ResponseMetadata>...</ResponseMetadata></XResponse>`.
Errors are serialised as `<ErrorResponse>` by the AWS app.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from samlite.core.aws_api import AwsError, Reply
from samlite.core.http import Request
from samlite.services.sqs import api as sqs_json

if TYPE_CHECKING:
    from samlite.services.sqs.service import QueueService

NS = "http://queue.amazonaws.com/doc/2012-11-05/"
_XML_ESCAPES = {"\r": "&#xD;", '"': "&quot;"}

# flattened list prefix in requests -> JSON member name
_LISTS = {
    "AttributeName": "AttributeNames",
    "MessageSystemAttributeName": "MessageSystemAttributeNames",
    "MessageAttributeName": "MessageAttributeNames",
    "TagKey": "TagKeys",
    "SendMessageBatchRequestEntry": "Entries",
    "DeleteMessageBatchRequestEntry": "Entries",
    "ChangeMessageVisibilityBatchRequestEntry": "Entries",
}
# flattened map prefix -> (JSON member, key field, value field)
_MAPS = {
    "Attribute": ("Attributes", "Name", "Value"),
    "MessageAttribute": ("MessageAttributes", "Name", "Value"),
    "MessageSystemAttribute": ("MessageSystemAttributes", "Name", "Value"),
    "Tag": ("Tags", "Key", "Value"),
}
# result list member -> element name of each item
_RESULT_LISTS = {"QueueUrls": "QueueUrl", "queueUrls": "QueueUrl", "Messages": "Message",
                 "Failed": "BatchResultErrorEntry"}
_RESULT_MAPS = {"Attributes": ("Attribute", "Name", "Value"), "MessageAttributes": ("MessageAttribute", "Name", "Value"),
                "Tags": ("Tag", "Key", "Value")}


async def handle(queues: "QueueService", request: Request, action: str) -> Reply:
    if action not in sqs_json.ACTIONS:
        raise AwsError("InvalidAction", f"The action {action} is not valid for this endpoint.", 400)
    form = _form(request)
    params = unflatten(form)
    params.pop("Action", None)
    params.pop("Version", None)
    if "QueueUrl" not in params and request.path.strip("/").count("/") >= 1:
        params["QueueUrl"] = request.path  # the query protocol may address the queue by URL path
    if action == "CreateQueue" and "Tags" in params:
        params["tags"] = params.pop("Tags")
    result = await sqs_json.run(queues, action, params)
    return Reply(200, render(action, result).encode(), "text/xml")


def _form(request: Request) -> list[tuple[str, str]]:
    pairs = parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
    ctype = request.header("content-type", "") or ""
    if request.method == "POST" and "json" not in ctype:
        try:
            # Bytes that are not UTF-8 once percent-decoded stay visible (as lone surrogates) so that
            # a MessageBody with them is InvalidMessageContents, as on SQS, not silently replaced.
            pairs += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, errors="surrogateescape")
        except UnicodeDecodeError:
            raise AwsError("MalformedQueryString", "The request body is not valid UTF-8.", 400) from None
    return pairs


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form pairs -> JSON-protocol members (lists by 1-based index, maps by Name/Value pairs)."""
    tree: dict[str, Any] = {}
    for key, value in pairs:
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return _convert(tree)


def _convert(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _MAPS and isinstance(value, dict):
            member, k_field, v_field = _MAPS[key]
            folded: dict[str, Any] = {}
            for _, item in sorted(value.items(), key=lambda kv: _index(kv[0])):
                if isinstance(item, dict) and k_field in item:
                    v = item.get(v_field)
                    folded[item[k_field]] = _convert(v) if isinstance(v, dict) else v
            out[member] = folded
        elif key in _LISTS and isinstance(value, dict):
            items = [v for _, v in sorted(value.items(), key=lambda kv: _index(kv[0]))]
            out[_LISTS[key]] = [_convert(i) if isinstance(i, dict) else i for i in items]
        elif isinstance(value, dict):
            out[key] = _convert(value)
        else:
            out[key] = value
    return out


def _index(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 1 << 30


# --- XML -----------------------------------------------------------------------------------
def render(action: str, result: dict[str, Any]) -> str:
    body = _members(result, action) if result else ""
    inner = f"<{action}Result>{body}</{action}Result>" if result or action in _ALWAYS_RESULT else ""
    return (f'<?xml version="1.0"?><{action}Response xmlns="{NS}">{inner}'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>")


_ALWAYS_RESULT = {"ReceiveMessage", "ListQueues", "GetQueueAttributes", "ListQueueTags", "ListDeadLetterSourceQueues"}


def _members(data: dict[str, Any], action: str) -> str:
    parts: list[str] = []
    for key, value in data.items():
        if key in _RESULT_MAPS and isinstance(value, dict):
            element, k_field, v_field = _RESULT_MAPS[key]
            for k, v in value.items():
                inner = _members(v, action) if isinstance(v, dict) else _text(v)
                parts.append(f"<{element}><{k_field}>{_text(k)}</{k_field}><{v_field}>{inner}</{v_field}></{element}>")
        elif isinstance(value, list):
            element = _RESULT_LISTS.get(key) or f"{action}ResultEntry"
            for item in value:
                inner = _members(item, action) if isinstance(item, dict) else _text(item)
                parts.append(f"<{element}>{inner}</{element}>")
        elif isinstance(value, dict):
            parts.append(f"<{key}>{_members(value, action)}</{key}>")
        else:
            parts.append(f"<{key}>{_text(value)}</{key}>")
    return "".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value), _XML_ESCAPES)

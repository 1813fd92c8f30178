"""SQS queue and message input rules: names, queue attributes, message attributes, bodies.

Pure checks shared by the queue service (API calls, CLI sends) and reused by nothing else, kept
apart so `queues.py` holds only queue semantics. Every failure is a `QueueError` carrying AWS's
code and message; the API modules turn it into the protocol's error shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

# code -> (legacy query code, HTTP status) where they differ from (code, 400)
_ERROR_CODES: dict[str, tuple[str, int]] = {
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "OverLimit": ("OverLimit", 403),
}
for _name in ("QueueDeletedRecently", "MessageNotInflight", "UnsupportedOperation", "EmptyBatchRequest",
              "TooManyEntriesInBatchRequest", "BatchEntryIdsNotDistinct", "BatchRequestTooLong",
              "InvalidBatchEntryId"):
    _ERROR_CODES[_name] = (f"AWS.SimpleQueueService.{_name}", 400)


class QueueError(Exception):
    """An SQS API error: modelled code, message, HTTP status and legacy query code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.query_code, self.status = _ERROR_CODES.get(code, (code, 400))


def no_queue() -> QueueError:
    return QueueError("QueueDoesNotExist", "The specified queue does not exist.")


# --- limits and defaults ---------------------------------------------------------
MAX_MESSAGE_SIZE = 1_048_576
RANGES: dict[str, tuple[int, int]] = {
    "VisibilityTimeout": (0, 43_200),
    "MessageRetentionPeriod": (60, 1_209_600),
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1_024, MAX_MESSAGE_SIZE),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
DEFAULTS: dict[str, str] = {
    "VisibilityTimeout": "30",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "MaximumMessageSize": str(MAX_MESSAGE_SIZE),
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS = {"ContentBasedDeduplication": "false", "DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"}
BOOLEANS = {"FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"}
FIFO_ONLY = {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
SETTABLE = set(RANGES) | BOOLEANS | FIFO_ONLY | {"RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId"}
READ_ONLY = {"QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp"}
MESSAGE_SYSTEM_ATTRIBUTES = {"All", "SenderId", "SentTimestamp", "ApproximateReceiveCount",
                             "ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageDeduplicationId",
                             "MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn"}

_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
_ATTR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_DEDUP = re.compile(r"[!-~]{1,128}")  # alphanumerics and punctuation
# XML 1.0 characters; anything else -> InvalidMessageContents
_INVALID_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check_queue_name(name: Any, fifo: bool) -> str:
    if not isinstance(name, str) or not name:
        raise QueueError("MissingParameter", "The request must contain the parameter QueueName.")
    if fifo:
        if not _FIFO_NAME.fullmatch(name):
            raise QueueError("InvalidParameterValue",
                             "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                             "underscores, must end with .fifo suffix and be 1 to 80 in length.")
    elif not _NAME.fullmatch(name):
        raise QueueError("InvalidParameterValue",
                         "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
    return name


def _bad_value(name: str) -> QueueError:
    return QueueError("InvalidAttributeValue", f"Invalid value for the parameter {name}.")


def normalize_attributes(attrs: Mapping[str, Any], *, fifo: bool, creating: bool,
                         queue_exists: Any = None) -> dict[str, str]:
    """Validate API-supplied queue attributes; return them as canonical strings.

    `queue_exists(arn) -> (exists, fifo)` checks a RedrivePolicy target.
    """
    out: dict[str, str] = {}
    for name, raw in attrs.items():
        if name not in SETTABLE:
            if name in READ_ONLY:
                raise QueueError("InvalidAttributeName", f"Attribute {name} is read-only.")
            raise QueueError("InvalidAttributeName", f"Unknown Attribute {name}.")
        value = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, dict) else str(raw)
        if name in FIFO_ONLY and not fifo:
            raise QueueError("InvalidAttributeName", f"Unknown Attribute {name}.")
        if name in RANGES:
            lo, hi = RANGES[name]
            try:
                number = int(value.strip())
            except ValueError:
                raise _bad_value(name) from None
            if not lo <= number <= hi:
                raise _bad_value(name)
            value = str(number)
        elif name in BOOLEANS:
            if value.lower() not in ("true", "false"):
                raise _bad_value(name)
            value = value.lower()
            if name == "FifoQueue":
                if not creating:
                    raise QueueError("InvalidAttributeName", "Unknown Attribute FifoQueue.")
                if (value == "true") != fifo:
                    raise _bad_value(name) if fifo else QueueError(
                        "InvalidParameterValue",
                        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                        "underscores, must end with .fifo suffix and be 1 to 80 in length.")
        elif name == "DeduplicationScope" and value not in ("queue", "messageGroup") or name == "FifoThroughputLimit" and value not in ("perQueue", "perMessageGroupId"):
            raise _bad_value(name)
        elif name == "RedrivePolicy":
            value = _check_redrive(value, fifo, queue_exists)
        elif name == "RedriveAllowPolicy" and value:
            try:
                policy = json.loads(value)
                assert isinstance(policy, dict)
                assert policy.get("redrivePermission") in ("allowAll", "denyAll", "byQueue")
            except (ValueError, AssertionError):
                raise _bad_value(name) from None
        elif name == "Policy" and value:
            try:
                json.loads(value)
            except ValueError:
                raise _bad_value(name) from None
        out[name] = value
    return out


def _check_redrive(value: str, fifo: bool, queue_exists: Any) -> str:
    if value == "":
        return ""  # SetQueueAttributes with an empty policy removes it
    reason = None
    try:
        policy = json.loads(value)
    except ValueError:
        policy = None
    if not isinstance(policy, dict) or "deadLetterTargetArn" not in policy or "maxReceiveCount" not in policy:
        reason = "Redrive policy is not a valid JSON map with deadLetterTargetArn and maxReceiveCount."
    else:
        try:
            count = int(policy["maxReceiveCount"])
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= 1000:
            reason = "Invalid value for maxReceiveCount: must be an integer from 1 to 1000."
        elif queue_exists is not None:
            exists, target_fifo = queue_exists(str(policy["deadLetterTargetArn"]))
            if not exists:
                reason = "Dead letter target does not exist."
            elif target_fifo != fifo:
                reason = "Dead-letter queue must be the same type of queue as the source."
    if reason:
        raise QueueError("InvalidParameterValue", f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}")
    return json.dumps({"deadLetterTargetArn": policy["deadLetterTargetArn"], "maxReceiveCount": count},
                      separators=(",", ":"))


def redrive_of(attrs: Mapping[str, str]) -> tuple[str, int] | None:
    raw = attrs.get("RedrivePolicy")
    if not raw:
        return None
    try:
        policy = json.loads(raw) if isinstance(raw, str) else raw
        return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        return None


# --- messages -------------------------------------------------------------------------------
def check_body(body: Any) -> str:
    if body is None:
        raise QueueError("MissingParameter", "The request must contain the parameter MessageBody.")
    if not isinstance(body, str):
        raise QueueError("InvalidParameterValue", "MessageBody must be a string.")
    if body == "":
        raise QueueError("InvalidParameterValue",
                         "The request must contain non-empty message body.")
    if _INVALID_CHARS.search(body):
        raise QueueError("InvalidMessageContents",
                         "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF "
                         "| #xE000 to #xFFFD | #x10000 to #x10FFFF")
    return body


def check_message_attributes(attrs: Any, *, system: bool = False) -> tuple[dict[str, dict[str, Any]], int]:
    """Validate API-shaped message attributes.

    Returns ({name: {DataType, StringValue | BinaryValue (bytes)}}, size in bytes counted against
    MaximumMessageSize). BinaryValue may arrive as base64 text (JSON/query) or bytes.
    """
    if not attrs:
        return {}, 0
    if not isinstance(attrs, dict):
        raise QueueError("InvalidParameterValue", "MessageAttributes must be a map.")
    if len(attrs) > 10 and not system:
        raise QueueError("InvalidParameterValue",
                         f"Number of message attributes [{len(attrs)}] exceeds the allowed maximum [10].")
    out: dict[str, dict[str, Any]] = {}
    size = 0
    for name, attr in attrs.items():
        if system:
            if name != "AWSTraceHeader":
                raise QueueError("InvalidParameterValue",
                                 f"Message system attribute name '{name}' is invalid.")
        else:
            _check_attribute_name(name)
        if not isinstance(attr, dict):
            raise QueueError("InvalidParameterValue", f"The message attribute '{name}' must contain a value.")
        data_type = attr.get("DataType")
        if not isinstance(data_type, str) or not data_type:
            raise QueueError("InvalidParameterValue",
                             f"The message attribute '{name}' must contain non-empty message attribute type.")
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary") or len(data_type) > 256:
            raise QueueError("InvalidParameterValue",
                             f"The type of message attribute '{name}' is invalid. You must use only the following "
                             "supported type prefixes: Binary, Number, String.")
        if system and base != "String":
            raise QueueError("InvalidParameterValue", "AWSTraceHeader must be of type String.")
        if base == "Binary":
            value = attr.get("BinaryValue")
            if isinstance(value, str):
                try:
                    value = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise QueueError("InvalidParameterValue",
                                     f"The message attribute '{name}' has an invalid binary value.") from None
            if not value:
                raise QueueError("InvalidParameterValue",
                                 f"The message attribute '{name}' must contain non-empty message attribute value "
                                 f"for message attribute type '{data_type}'.")
            out[name] = {"DataType": data_type, "BinaryValue": bytes(value)}
            size += len(value)
        else:
            value = attr.get("StringValue")
            if not isinstance(value, str) or value == "":
                raise QueueError("InvalidParameterValue",
                                 f"The message attribute '{name}' must contain non-empty message attribute value "
                                 f"for message attribute type '{data_type}'.")
            if _INVALID_CHARS.search(value):
                raise QueueError("InvalidMessageContents",
                                 f"Invalid characters found in the message attribute '{name}'.")
            if base == "Number":
                try:
                    number = Decimal(value)
                except InvalidOperation:
                    number = None
                if number is None or not number.is_finite():
                    raise QueueError("InvalidParameterValue",
                                     f"Can't cast the value of message (user) attribute '{name}' to a number.")
            out[name] = {"DataType": data_type, "StringValue": value}
            size += len(value.encode("utf-8"))
        size += len(name.encode("utf-8")) + len(data_type.encode("utf-8"))
    return out, size


def _check_attribute_name(name: Any) -> None:
    if not isinstance(name, str) or not _ATTR_NAME.fullmatch(name):
        raise QueueError("InvalidParameterValue",
                         f"Message (user) attribute name '{name}' is invalid. The attribute name can contain "
                         "A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters, up to 256.")
    lowered = name.lower()
    if lowered.startswith(("aws.", "amazon.")):
        raise QueueError("InvalidParameterValue",
                         f"Message (user) attribute '{name}' is using a reserved prefix: AWS. or Amazon.")
    if name.startswith(".") or name.endswith(".") or ".." in name:
        raise QueueError("InvalidParameterValue",
                         f"Message (user) attribute name '{name}' is invalid. The attribute name cannot start "
                         "or end with a period (.), or have consecutive periods.")


def api_attributes(attrs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Attributes as stored and returned by the JSON API (binary as base64 text)."""
    out = {}
    for name, attr in attrs.items():
        if "BinaryValue" in attr:
            out[name] = {"DataType": attr["DataType"], "BinaryValue": base64.b64encode(attr["BinaryValue"]).decode()}
        else:
            out[name] = {"DataType": attr["DataType"], "StringValue": attr["StringValue"]}
    return out


def check_delay(value: Any) -> int | None:
    if value is None:
        return None
    return _ranged(value, "DelaySeconds", 0, 900, "DelaySeconds must be >= 0 and <= 900.")


def check_visibility(value: Any, required: bool = False) -> int | None:
    if value is None:
        if required:
            raise QueueError("MissingParameter", "The request must contain the parameter VisibilityTimeout.")
        return None
    return _ranged(value, "VisibilityTimeout", 0, 43_200, "Must be between 0 and 43200, if provided.")


def check_max_messages(value: Any) -> int:
    if value is None:
        return 1
    return _ranged(value, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided.")


def check_wait(value: Any) -> int | None:
    if value is None:
        return None
    return _ranged(value, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if provided.")


def _ranged(value: Any, name: str, low: int, high: int, reason: str) -> int:
    """An integer request parameter in [low, high], else SQS's InvalidParameterValue with `reason`."""
    number = _int_param(value, name)
    if not low <= number <= high:
        raise QueueError("InvalidParameterValue", f"Value {value} for parameter {name} is invalid. Reason: {reason}")
    return number


def _int_param(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise QueueError("InvalidParameterValue", f"Value {value} for parameter {name} is invalid.")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 parses as infinity
        raise QueueError("InvalidParameterValue", f"Value {value} for parameter {name} is invalid.") from None


def check_dedup_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _DEDUP.fullmatch(value):
        raise QueueError("InvalidParameterValue",
                         f"Value {value} for parameter {name} is invalid. Reason: {name} can only include "
                         "alphanumeric and punctuation characters. 1 to 128 in length.")
    return value


def check_batch(entries: Any, kind: str) -> list[dict[str, Any]]:
    """The batch rules shared by the three batch actions."""
    if not entries:
        raise QueueError("EmptyBatchRequest", f"There should be at least one {kind} in the request.")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise QueueError("InvalidParameterValue", "Entries must be a list of objects.")
    if len(entries) > 10:
        raise QueueError("TooManyEntriesInBatchRequest",
                         f"Maximum number of entries per request are 10. You have sent {len(entries)}.")
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id")
        if not isinstance(entry_id, str) or not _BATCH_ID.fullmatch(entry_id):
            raise QueueError("InvalidBatchEntryId",
                             "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                             "It can be at most 80 letters long.")
        if entry_id in seen:
            raise QueueError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries

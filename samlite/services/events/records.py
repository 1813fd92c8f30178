"""The records AWS services send to their targets, in AWS's documented shapes (pure functions).

- S3 event notifications, version 2.1 (AmazonS3 "Event message structure");
- S3 events on EventBridge ("Object Created" / "Object Deleted");
- SNS: the envelope an SQS or HTTP(S) subscriber receives, and the Lambda event (whose field
  names differ: `SigningCertUrl`, `UnsubscribeUrl`, and `Subject` null when absent);
- EventBridge events, and the "Scheduled Event" a schedule rule sends.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus

# S3 notifications carry the key URL-encoded as a form value ("red flower.jpg" -> "red+flower.jpg"),
# slashes kept as they are.
_S3_REASONS = {"Put": "PutObject", "Post": "POST Object", "Copy": "CopyObject",
               "CompleteMultipartUpload": "CompleteMultipartUpload", "Delete": "DeleteObject",
               "DeleteMarkerCreated": "DeleteObject"}
_sequence = itertools.count()


def iso_ms(ts: float | None = None) -> str:
    """2024-01-02T03:04:05.678Z"""
    ts = time.time() if ts is None else ts
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_s(ts: float | None = None) -> str:
    """2024-01-02T03:04:05Z (EventBridge's `time`)."""
    ts = time.time() if ts is None else ts
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex_id(length: int) -> str:
    return uuid.uuid4().hex[:length].upper()


def sequencer() -> str:
    """S3's per-key ordering token: hex, grows with time (compare as equal-length strings)."""
    return f"{time.time_ns() + next(_sequence):018X}"


def s3_record(*, region: str, event_name: str, bucket: str, key: str, configuration_id: str,
              size: int | None, etag: str | None, version_id: str | None, seq: str, owner: str,
              event_time: float | None = None) -> dict[str, Any]:
    """One S3 notification record (event version 2.1). `event_name` is e.g. `ObjectCreated:Put`."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag.strip('"')
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = seq
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_ms(event_time),
        "eventName": event_name,
        "userIdentity": {"principalId": f"AWS:{owner}"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": _hex_id(16),
                             "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 3).decode()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": owner}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_eventbridge_event(*, region: str, account: str, event_name: str, bucket: str, key: str,
                         size: int | None, etag: str | None, version_id: str | None, seq: str) -> dict[str, Any]:
    """The event S3 puts on the default bus when the bucket has EventBridgeConfiguration."""
    action = event_name.split(":", 1)[1]
    created = event_name.startswith("ObjectCreated")
    obj: dict[str, Any] = {"key": key}
    if created:
        obj.update({"size": size, "etag": (etag or "").strip('"')})
    if version_id:
        obj["version-id"] = version_id
    obj["sequencer"] = seq
    detail: dict[str, Any] = {"version": "0", "bucket": {"name": bucket}, "object": obj,
                              "request-id": _hex_id(16), "requester": account,
                              "source-ip-address": "127.0.0.1", "reason": _S3_REASONS.get(action, action)}
    if not created:
        detail["deletion-type"] = "Delete Marker Created" if action == "DeleteMarkerCreated" else "Permanently Deleted"
    return event(account=account, region=region, source="aws.s3",
                 detail_type="Object Created" if created else "Object Deleted",
                 resources=[f"arn:aws:s3:::{bucket}"], detail=detail)


def event(*, account: str, region: str, source: str, detail_type: str, detail: Any,
          resources: list[str] | None = None, event_id: str | None = None, when: Any = None) -> dict[str, Any]:
    """An EventBridge event as rules and targets see it."""
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": account, "time": event_time(when), "region": region, "resources": list(resources or []),
            "detail": detail}


def event_time(when: Any) -> str:
    """PutEvents' Time (epoch seconds from boto3, or ISO text) -> EventBridge's `time`."""
    if when is None or when == "":
        return iso_s()
    if isinstance(when, (int, float)):
        return iso_s(float(when))
    if isinstance(when, datetime):
        return iso_s(when.timestamp())
    text = str(when)
    try:
        return iso_s(float(text))
    except ValueError:
        pass
    try:
        return iso_s(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return iso_s()


def scheduled_event(*, account: str, region: str, rule_arn: str, when: float) -> dict[str, Any]:
    """What a schedule rule sends: detail-type "Scheduled Event", the rule in `resources`."""
    return event(account=account, region=region, source="aws.events", detail_type="Scheduled Event",
                 detail={}, resources=[rule_arn], when=when)


# --- SNS -------------------------------------------------------------------------------------
def _signature(*parts: str) -> str:
    """Looks like SNS's base64 RSA-SHA1 signature (256 bytes); it cannot be verified locally."""
    seed = hashlib.sha256("\n".join(parts).encode()).digest()
    return base64.b64encode(b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(8))).decode()


def _cert_url(region: str) -> str:
    return f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{hashlib.md5(region.encode()).hexdigest()}.pem"


def _unsubscribe_url(region: str, subscription_arn: str) -> str:
    return f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"


def sns_attributes(attributes: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """Message attributes as the envelope carries them: {name: {"Type": ..., "Value": ...}}."""
    out = {}
    for name, value in (attributes or {}).items():
        data_type = value.get("Type") or value.get("DataType") or "String"
        raw = value.get("Value", value.get("StringValue", value.get("BinaryValue")))
        if isinstance(raw, (bytes, bytearray)):
            raw = base64.b64encode(raw).decode()
        out[name] = {"Type": data_type, "Value": str(raw) if not isinstance(raw, str) else raw}
    return out


def sns_envelope(*, region: str, topic_arn: str, subscription_arn: str, message_id: str, message: str,
                 subject: str | None, attributes: dict[str, Any] | None, timestamp: str,
                 sequence_number: str | None = None) -> dict[str, Any]:
    """The JSON body an SQS or HTTP(S) subscriber receives (without raw message delivery)."""
    body: dict[str, Any] = {"Type": "Notification", "MessageId": message_id}
    if sequence_number is not None:
        body["SequenceNumber"] = sequence_number
    body["TopicArn"] = topic_arn
    if subject is not None:
        body["Subject"] = subject
    body.update({
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": _signature(message_id, topic_arn, timestamp),
        "SigningCertURL": _cert_url(region),
        "UnsubscribeURL": _unsubscribe_url(region, subscription_arn),
    })
    attrs = sns_attributes(attributes)
    if attrs:
        body["MessageAttributes"] = attrs
    return body


def sns_lambda_event(*, region: str, topic_arn: str, subscription_arn: str, message_id: str, message: str,
                     subject: str | None, attributes: dict[str, Any] | None, timestamp: str) -> dict[str, Any]:
    """The event a function subscribed to a topic receives."""
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic_arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": "1",
            "Signature": _signature(message_id, topic_arn, timestamp),
            "SigningCertUrl": _cert_url(region),
            "UnsubscribeUrl": _unsubscribe_url(region, subscription_arn),
            "MessageAttributes": sns_attributes(attributes),
        },
    }]}


def sqs_attributes(attributes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """SNS message attributes as SQS message attributes (raw message delivery)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in (attributes or {}).items():
        data_type = value.get("Type") or "String"
        raw = value.get("Value")
        if data_type.startswith("Binary"):
            out[name] = {"DataType": data_type,
                         "BinaryValue": raw if isinstance(raw, bytes) else base64.b64decode(str(raw))}
        else:
            out[name] = {"DataType": data_type, "StringValue": raw if isinstance(raw, str) else json.dumps(raw)}
    return out

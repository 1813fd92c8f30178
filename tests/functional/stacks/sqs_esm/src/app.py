import json
import os

import boto3

_sqs = boto3.client("sqs")


def _record(payload):
    _sqs.send_message(QueueUrl=os.environ["RECORD_URL"], MessageBody=json.dumps(payload))


def consume(event, context):
    failures = []
    for record in event["Records"]:
        _record(record)
        if "fail" in record["body"]:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def record_batch(event, context):
    _record({"size": len(event["Records"]), "bodies": [r["body"] for r in event["Records"]]})


def fifo(event, context):
    for record in event["Records"]:
        if record["attributes"]["MessageGroupId"] == "bad":
            raise RuntimeError("bad group")
    _record({"bodies": [r["body"] for r in event["Records"]],
             "groups": [r["attributes"]["MessageGroupId"] for r in event["Records"]]})


def powertools(event, context):
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    def handle(record):
        if record.body == "bad":
            raise ValueError("bad record")
        _record({"ok": record.body})

    return process_partial_response(event=event, record_handler=handle,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)


def maybe_fail(event, context):
    if event.get("fail"):
        raise ValueError(event.get("message", "asked to fail"))
    return {"echo": event}


def record_event(event, context):
    _record(event)


def slow(event, context):
    import time

    time.sleep(0.05)
    return event

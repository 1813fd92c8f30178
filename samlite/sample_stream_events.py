"""Sample DynamoDB Streams and Kinesis events for `samlite generate-event` (SAM's names:
`dynamodb update`, `kinesis get-records`), in the shapes the stream pollers send."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any, Callable

ACCOUNT = "123456789012"


def _dynamodb(opts: dict[str, Any]) -> dict[str, Any]:
    region = opts["region"]
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"
    message = opts["body"] if opts["body"] is not None else "New item!"
    now = float(int(time.time()))
    keys = {"Id": {"N": "101"}}
    new = {"Message": {"S": message}, "Id": {"N": "101"}}
    changed = {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}}
    records = []
    for index, (name, old_image, new_image) in enumerate(
            (("INSERT", None, new), ("MODIFY", new, changed), ("REMOVE", changed, None))):
        body: dict[str, Any] = {"ApproximateCreationDateTime": now, "Keys": keys}
        if new_image:
            body["NewImage"] = new_image
        if old_image:
            body["OldImage"] = old_image
        body.update({"SequenceNumber": str(111 + index * 111), "SizeBytes": 26 + index * 12,
                     "StreamViewType": "NEW_AND_OLD_IMAGES"})
        records.append({"eventID": uuid.uuid4().hex, "eventName": name, "eventVersion": "1.1",
                        "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": body,
                        "eventSourceARN": arn})
    return {"Records": records}


def _kinesis(opts: dict[str, Any]) -> dict[str, Any]:
    region = opts["region"]
    data = opts["body"] if opts["body"] is not None else "Hello, this is a test."
    sequence = "49590338271490256608559692538361571095921575989136588898"
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": sequence,
                    "data": base64.b64encode(data.encode()).decode(),
                    "approximateArrivalTimestamp": round(time.time(), 3)},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000006:{sequence}",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
        "awsRegion": region, "eventSourceARN": f"arn:aws:kinesis:{region}:{ACCOUNT}:stream/lambda-stream",
    }]}


STREAM_GENERATORS: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("dynamodb", "update"): _dynamodb,
    ("dynamodb", "stream"): _dynamodb,
    ("kinesis", "get-records"): _kinesis,
    ("kinesis", "record"): _kinesis,
}

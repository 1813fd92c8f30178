import json
import os
import time


def slow(event, context):
    args = (event.get("queryStringParameters") or {}) if "requestContext" in event else event
    time.sleep(float(args.get("sleep", 0)))
    result = {"pid": os.getpid()}
    if "requestContext" in event:
        return {"statusCode": 200, "body": json.dumps(result)}
    return result

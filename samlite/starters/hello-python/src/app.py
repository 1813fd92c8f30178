"""GET /hello -> {"message": "hello world"} (add ?name=you to be greeted by name)."""

import json
import os


def lambda_handler(event, context):
    params = event.get("queryStringParameters") or {}
    name = params.get("name", "world")
    greeting = os.environ.get("GREETING", "hello")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": f"{greeting} {name}"}),
    }
